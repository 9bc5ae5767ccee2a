import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { git as gitv1 } from '@paastech/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultScript } from './support/control-server.js';
import {
  gitCli,
  type Harness,
  makeWorkTree,
  md,
  must,
  repoPath,
  startHarness,
  tempDir,
} from './support/harness.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const remoteLines = (stderr: string) =>
  stderr
    .split(/\r|\n/)
    .map((l) => l.trimEnd())
    .filter((l) => l.startsWith('remote: '));

/** Files in an archive fetched from the controller, listed by tar. */
function archiveNames(h: Harness, req: Partial<gitv1.GetArchiveRequest>): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const stream = h.gitClient.getArchive(gitv1.GetArchiveRequest.fromPartial(req), md());
    stream.on('data', (m: gitv1.GetArchiveResponse) => chunks.push(m.data));
    let failed = false;
    stream.on('error', (err) => {
      failed = true;
      reject(err);
    });
    stream.on('end', () => {
      if (failed) return;
      const listing = execFileSync('tar', ['-t'], { input: Buffer.concat(chunks) }).toString();
      resolve(listing.split('\n').filter((n) => n !== '' && !n.endsWith('/')));
    });
  });
}

/** Sends one raw receive-pack request (commands + pack) and returns the response body. */
function rawReceivePack(base: string, token: string, body: Buffer): Promise<string> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const sock = net.connect(Number(url.port), url.hostname);
    const chunks: Buffer[] = [];
    sock.on('data', (b) => chunks.push(b));
    sock.on('error', reject);
    sock.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
    const auth = Buffer.from(`x:${token}`).toString('base64');
    sock.write(
      `POST /shop.git/git-receive-pack HTTP/1.1\r\nHost: x\r\nAuthorization: Basic ${auth}\r\nConnection: close\r\n` +
        `Content-Type: application/x-git-receive-pack-request\r\nContent-Length: ${body.length}\r\n\r\n`,
    );
    sock.write(body);
  });
}

const pkt = (s: string) => `${(s.length + 4).toString(16).padStart(4, '0')}${s}`;

describe('pushes held in pre-receive', () => {
  let h: Harness;
  let work: string;
  let home: string;
  let src: string;
  beforeAll(async () => {
    h = await startHarness({ PAASTECH_GIT_PUSH_LOCK_TIMEOUT_MS: '5000' });
    work = tempDir('gp-');
    home = path.join(work, 'home');
    src = path.join(work, 'src');
    await makeWorkTree(src, { 'web.js': 'serve()\n', 'lib/a.js': 'a\n' }, home);
    h.control.delayMs = 10;
    await must(gitCli(home, { token: 'alice-token' })(['push', `${h.httpBase}/shop.git`, 'main'], src));
  });
  afterAll(async () => {
    await h.stop();
    fs.rmSync(work, { recursive: true, force: true });
  });

  it('lets the API read the pushed commit from the quarantine while the push is held', async () => {
    const g = gitCli(home, { token: 'alice-token' });
    fs.writeFileSync(path.join(src, 'new-file.js'), 'new\n');
    await must(g(['add', '.'], src));
    await must(g(['commit', '-qm', 'add new file'], src));
    const sha = (await must(g(['rev-parse', 'HEAD'], src))).stdout.trim();
    h.control.script = async (req, send) => {
      const names = await archiveNames(h, {
        projectId: req.projectId,
        commitSha: req.refUpdates[0]!.newSha,
        quarantine: req.quarantine,
      });
      const outside = await archiveNames(h, {
        projectId: req.projectId,
        commitSha: req.refUpdates[0]!.newSha,
      }).catch((e: { code: number }) => `error ${e.code}`);
      await send({ event: { $case: 'progress', value: { text: `archive: ${names.sort().join(' ')}` } } });
      await send({ event: { $case: 'progress', value: { text: `without quarantine: ${outside}` } } });
      await send({
        event: {
          $case: 'result',
          value: { outcome: 3, reason: 'recorded, nothing deployed', deploymentNumber: 0, url: '' },
        },
      });
    };
    try {
      const push = await must(g(['push', `${h.httpBase}/shop.git`, 'main'], src));
      expect(remoteLines(push.stderr)).toEqual([
        'remote: -----> archive: lib/a.js new-file.js web.js',
        'remote: -----> without quarantine: error 5',
        'remote: -----> not deployed: recorded, nothing deployed',
      ]);
      // Accepted: the commit is now in the repository itself.
      expect(await archiveNames(h, { projectId: 'p-shop', commitSha: sha })).toContain('new-file.js');
    } finally {
      h.control.script = defaultScript(h.control);
    }
  });

  it('serializes two pushes to one project: the second waits, then is refused as stale', async () => {
    const g = gitCli(home, { token: 'alice-token' });
    const a = path.join(work, 'a');
    const b = path.join(work, 'b');
    await must(g(['clone', '-q', `${h.httpBase}/shop.git`, a], work));
    await must(g(['clone', '-q', `${h.httpBase}/shop.git`, b], work));
    for (const dir of [a, b]) {
      fs.writeFileSync(path.join(dir, 'who'), dir);
      await must(g(['add', '.'], dir));
      await must(g(['commit', '-qm', `from ${path.basename(dir)}`], dir));
    }
    h.control.delayMs = 400;
    const spans: Array<[number, number]> = [];
    const inner = defaultScript(h.control);
    h.control.script = async (req, send, call) => {
      const start = Date.now();
      await inner(req, send, call);
      spans.push([start, Date.now()]);
    };
    try {
      const [ra, rb] = await Promise.all([
        g(['push', 'origin', 'main'], a),
        g(['push', 'origin', 'main'], b),
      ]);
      const [won, lost] = ra.code === 0 ? [ra, rb] : [rb, ra];
      expect(won.code, won.stderr).toBe(0);
      expect(lost.code).not.toBe(0);
      const lines = remoteLines(lost.stderr);
      expect(lines[0]).toBe('remote: -----> waiting for the previous push to this project to finish');
      expect(lines.at(-1)).toBe(
        'remote: !     push rejected: ref "refs/heads/main" moved while this push waited; fetch and push again',
      );
      expect(spans).toHaveLength(1);
      const main = execFileSync('git', ['rev-parse', 'refs/heads/main'], { cwd: repoPath(h, 'p-shop') })
        .toString()
        .trim();
      const wonHead = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: ra.code === 0 ? a : b })
        .toString()
        .trim();
      expect(main).toBe(wonHead);
    } finally {
      h.control.script = defaultScript(h.control);
      h.control.delayMs = 10;
    }
  });

  it('runs pushes to different branches one after the other, never overlapping', async () => {
    const g = gitCli(home, { token: 'alice-token' });
    const spans: Array<[number, number]> = [];
    h.control.script = async (_req, send) => {
      const start = Date.now();
      await sleep(500);
      await send({
        event: { $case: 'result', value: { outcome: 3, reason: 'stored', deploymentNumber: 0, url: '' } },
      });
      spans.push([start, Date.now()]);
    };
    try {
      const results = await Promise.all([
        g(['push', `${h.httpBase}/shop.git`, 'main:refs/heads/one'], src),
        g(['push', `${h.httpBase}/shop.git`, 'main:refs/heads/two'], src),
      ]);
      for (const r of results) expect(r.code, r.stderr).toBe(0);
      spans.sort((x, y) => x[0] - y[0]);
      expect(spans).toHaveLength(2);
      expect(spans[1]![0]).toBeGreaterThanOrEqual(spans[0]![1]);
    } finally {
      h.control.script = defaultScript(h.control);
    }
  });

  it('gives up waiting after the bound with a clear message', async () => {
    const g = gitCli(home, { token: 'alice-token' });
    let release = () => {};
    const held = new Promise<void>((r) => {
      release = r;
    });
    h.control.script = async (_req, send) => {
      await held;
      await send({
        event: { $case: 'result', value: { outcome: 3, reason: 'stored', deploymentNumber: 0, url: '' } },
      });
    };
    try {
      const first = g(['push', `${h.httpBase}/shop.git`, 'main:refs/heads/slow'], src);
      while (!h.control.pushes.some((p) => p.refUpdates[0]?.refName === 'refs/heads/slow')) await sleep(50);
      const second = await g(['push', `${h.httpBase}/shop.git`, 'main:refs/heads/late'], src);
      expect(second.code).not.toBe(0);
      expect(remoteLines(second.stderr).at(-1)).toBe(
        'remote: !     push rejected: another push to this project was still running after 5 s; push again later',
      );
      release();
      expect((await first).code).toBe(0);
    } finally {
      release();
      h.control.script = defaultScript(h.control);
    }
  });

  it('cancels RecordPush when the pusher hangs up', async () => {
    h.control.script = async (_req, send, call) => {
      await send({ event: { $case: 'progress', value: { text: 'building forever' } } });
      await new Promise<void>((r) => call.on('cancelled', () => r()));
    };
    const before = h.control.cancelled;
    try {
      const { spawn } = await import('node:child_process');
      const basic = Buffer.from('x:alice-token').toString('base64');
      const child = spawn(
        'git',
        [
          '-c',
          `http.extraHeader=Authorization: Basic ${basic}`,
          'push',
          `${h.httpBase}/shop.git`,
          'main:refs/heads/hangup',
        ],
        {
          cwd: src,
          env: { PATH: process.env.PATH, HOME: home, GIT_TERMINAL_PROMPT: '0' },
          stdio: ['ignore', 'ignore', 'pipe'],
          detached: true,
        },
      );
      let err = '';
      child.stderr.on('data', (b: Buffer) => {
        err += b.toString();
        // Ctrl-C: the terminal interrupts git's whole process group.
        if (err.includes('building forever')) process.kill(-child.pid!, 'SIGINT');
      });
      await new Promise((r) => child.on('close', r));
      for (let i = 0; i < 100 && h.control.cancelled === before; i++) await sleep(50);
      expect(h.control.cancelled).toBe(before + 1);
      const refs = execFileSync('git', ['for-each-ref', '--format=%(refname)'], {
        cwd: repoPath(h, 'p-shop'),
      }).toString();
      expect(refs).not.toContain('refs/heads/hangup');
    } finally {
      h.control.script = defaultScript(h.control);
    }
  });

  it('refuses a tag object pushed to a branch before the API hears of it (git would refuse it only afterwards)', async () => {
    const g = gitCli(home, { token: 'alice-token' });
    await must(g(['tag', '-a', '-m', 'annotated', 'v-annotated'], src));
    const recorded = h.control.pushes.length;
    const push = await g(['push', `${h.httpBase}/shop.git`, 'refs/tags/v-annotated:refs/heads/tagged'], src);
    expect(push.code).not.toBe(0);
    expect(push.stderr).toMatch(
      /refs\/heads\/tagged: [0-9a-f]{40} is a tag, not a commit; a branch holds commits only/,
    );
    expect(h.control.pushes.length).toBe(recorded);
    const repo = repoPath(h, 'p-shop');
    expect(execFileSync('git', ['for-each-ref'], { cwd: repo }).toString()).not.toContain(
      'refs/heads/tagged',
    );
    // The same tag as a tag is a normal push.
    await must(g(['push', `${h.httpBase}/shop.git`, 'refs/tags/v-annotated'], src));
    expect(execFileSync('git', ['for-each-ref'], { cwd: repo }).toString()).toContain(
      'refs/tags/v-annotated',
    );
  });

  it('rejects a pack with a bad tree (fsck), storing nothing', async () => {
    const g = gitCli(home, { token: 'alice-token' });
    const bad = path.join(work, 'badtree');
    await must(g(['init', '-q', '-b', 'main', bad], work));
    const blob = execFileSync('git', ['hash-object', '-w', '--stdin'], { cwd: bad, input: 'x\n' })
      .toString()
      .trim();
    const raw = Buffer.from(blob, 'hex');
    const entry = Buffer.concat([Buffer.from('100644 a\0'), raw]);
    // Two entries with the same name: fsck's duplicateEntries, an error.
    const tree = execFileSync('git', ['hash-object', '-t', 'tree', '--literally', '-w', '--stdin'], {
      cwd: bad,
      input: Buffer.concat([entry, entry]),
    })
      .toString()
      .trim();
    const commit = (await must(g(['commit-tree', '-m', 'bad tree', tree], bad))).stdout.trim();
    await must(g(['update-ref', 'refs/heads/main', commit], bad));
    const push = await g(['push', `${h.httpBase}/shop.git`, 'main:refs/heads/bad-tree'], bad);
    expect(push.code).not.toBe(0);
    expect(push.stderr).toMatch(/duplicateEntries|fsck/);
    const repo = repoPath(h, 'p-shop');
    expect(execFileSync('git', ['for-each-ref'], { cwd: repo }).toString()).not.toContain('bad-tree');
    expect(() => execFileSync('git', ['cat-file', '-e', tree], { cwd: repo, stdio: 'ignore' })).toThrow();
    expect(fs.readdirSync(path.join(repo, 'objects')).filter((n) => n.includes('incoming'))).toEqual([]);
  });

  it('rejects a corrupt pack, storing nothing', async () => {
    const repo = repoPath(h, 'p-shop');
    const g = gitCli(home);
    fs.writeFileSync(path.join(src, 'corrupt-me'), 'payload '.repeat(1000));
    await must(g(['add', '.'], src));
    await must(g(['commit', '-qm', 'to corrupt'], src));
    const sha = (await must(g(['rev-parse', 'HEAD'], src))).stdout.trim();
    const pack = execFileSync('git', ['pack-objects', '--stdout', '--revs'], { cwd: src, input: `${sha}\n` });
    for (let i = 40; i < pack.length - 30; i += 7) pack[i] = pack[i]! ^ 0x5a;
    const commands = `${pkt(`${'0'.repeat(40)} ${sha} refs/heads/corrupt\0report-status side-band-64k\n`)}0000`;
    const response = await rawReceivePack(
      h.httpBase,
      'alice-token',
      Buffer.concat([Buffer.from(commands), pack]),
    );
    expect(response).toMatch(/unpack (?!ok)/);
    expect(execFileSync('git', ['for-each-ref'], { cwd: repo }).toString()).not.toContain('corrupt');
    expect(() => execFileSync('git', ['cat-file', '-e', sha], { cwd: repo, stdio: 'ignore' })).toThrow();
    await sleep(200);
    expect(fs.readdirSync(path.join(repo, 'objects')).filter((n) => n.includes('incoming'))).toEqual([]);
    execFileSync('git', ['fsck', '--full', '--no-dangling'], { cwd: repo, stdio: 'ignore' });
  });
});
