import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gitCli, type Harness, makeWorkTree, must, startHarness, tempDir } from './support/harness.js';

describe('push and clone over smart HTTP', () => {
  let h: Harness;
  let work: string;
  beforeAll(async () => {
    h = await startHarness();
    work = tempDir('gw-');
  });
  afterAll(async () => {
    await h.stop();
    fs.rmSync(work, { recursive: true, force: true });
  });

  it('pushes main, prints the deployment as remote: lines in order while the push runs, then clones', async () => {
    const home = path.join(work, 'home');
    const src = path.join(work, 'src');
    await makeWorkTree(src, { 'README.md': 'hello\n', 'app/server.js': 'console.log(1)\n' }, home);
    const alice = gitCli(home, { token: 'alice-token' });
    const push = await alice(['push', `${h.httpBase}/shop.git`, 'main'], src);
    expect(push.stderr).toContain('remote: -----> deployment v1 of');
    expect(push.code, push.stderr).toBe(0);
    const remote = push.timedLines.filter((l) => l.line.startsWith('remote: ')).map((l) => l.line);
    expect(remote.slice(0, 5)).toEqual([
      expect.stringMatching(/^remote: -----> deployment v1 of [0-9a-f]{7} \(refs\/heads\/main\)/),
      'remote: -----> Building first commit        ',
      'remote:        step 1 of 2        ',
      'remote:        step 2 of 2        ',
      'remote: -----> deployed v1: http://app.localhost:8080        ',
    ]);
    const clone = await alice(['clone', `${h.httpBase}/shop.git`, 'clone'], work);
    expect(clone.code, clone.stderr).toBe(0);
    expect(fs.readFileSync(path.join(work, 'clone', 'app/server.js'), 'utf8')).toBe('console.log(1)\n');
  });
});
