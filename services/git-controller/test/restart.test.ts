import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { git as gitv1 } from '@paastech/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultScript, type FakeControl, startFakeControl } from './support/control-server.js';
import { ALICE, call, gitCli, makeWorkTree, md, must, SECRET, tempDir } from './support/harness.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const CONTROLLER = path.join(import.meta.dirname, 'support', 'controller-process.mjs');

/** Starts the built controller as a child process; resolves with it and its HTTP base URL. */
async function startProcess(
  dataDir: string,
  apiAddress: string,
): Promise<{ child: ChildProcess; httpBase: string }> {
  const child = spawn(process.execPath, [CONTROLLER], {
    env: {
      PATH: process.env.PATH,
      PAASTECH_DATA_DIR: dataDir,
      PAASTECH_GIT_HTTP_PORT: '0',
      PAASTECH_GIT_SSH_PORT: '0',
      PAASTECH_INTERNAL_SECRET: SECRET,
      PAASTECH_API_GRPC_ADDRESS: apiAddress,
      PAASTECH_LOG_LEVEL: 'silent',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const line = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      if (out.includes('\n')) resolve(out);
    });
    child.on('exit', (code) => reject(new Error(`controller exited with ${code}`)));
  });
  const endpoints = JSON.parse(line.slice('ready '.length)) as Array<{ label: string; url: string }>;
  const http = endpoints.find((e) => e.label === 'git over HTTP')!.url;
  return { child, httpBase: http.replace(/\/<project>\.git$/, '') };
}

describe('the controller killed in the middle of a push', () => {
  let dataDir: string;
  let work: string;
  let fake: FakeControl;
  beforeAll(async () => {
    dataDir = tempDir('gk-');
    work = tempDir('gw-');
    fake = await startFakeControl(`unix:${path.join(dataDir, 'run', 'api.sock')}`, SECRET, [
      structuredClone(ALICE),
    ]);
    fake.delayMs = 10;
  });
  afterAll(async () => {
    await fake.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
    fs.rmSync(work, { recursive: true, force: true });
  });

  it('leaves the repository valid and the branch at its old value; a new controller takes the push', async () => {
    const home = path.join(work, 'home');
    const src = path.join(work, 'src');
    const g = gitCli(home, { token: 'alice-token' });
    let proc = await startProcess(dataDir, fake.address);
    const client = new gitv1.GitServiceClient(
      `unix:${path.join(dataDir, 'run', 'git.sock')}`,
      grpc.credentials.createInsecure(),
    );
    await call((cb) => client.createRepository({ projectId: 'p-shop', defaultBranch: '' }, md(), cb));
    client.close();
    await makeWorkTree(src, { 'a.txt': 'one\n' }, home);
    await must(g(['push', `${proc.httpBase}/shop.git`, 'main'], src));
    const repo = path.join(dataDir, 'repositories', 'p-shop.git');
    const first = execFileSync('git', ['rev-parse', 'refs/heads/main'], { cwd: repo }).toString().trim();

    fake.script = async (_req, send, c) => {
      await send({ event: { $case: 'progress', value: { text: 'building' } } });
      await new Promise<void>((r) => c.on('cancelled', () => r()));
    };
    fs.writeFileSync(path.join(src, 'a.txt'), 'two\n'.repeat(10_000));
    await must(g(['commit', '-qam', 'second'], src));
    const second = (await must(g(['rev-parse', 'HEAD'], src))).stdout.trim();
    const pushing = g(['push', `${proc.httpBase}/shop.git`, 'main'], src);
    while (fake.pushes.length < 2) await sleep(20);
    proc.child.kill('SIGKILL');
    const killed = await pushing;
    expect(killed.code).not.toBe(0);

    // The orphaned receive-pack sees its hook fail and gives up; wait for it to go.
    for (let i = 0; i < 100; i++) {
      const ps = execFileSync('ps', ['-eo', 'args']).toString();
      if (!ps.includes(repo)) break;
      await sleep(50);
    }
    execFileSync('git', ['fsck', '--full', '--strict'], { cwd: repo, stdio: 'pipe' });
    expect(execFileSync('git', ['rev-parse', 'refs/heads/main'], { cwd: repo }).toString().trim()).toBe(
      first,
    );

    fake.script = defaultScript(fake);
    proc = await startProcess(dataDir, fake.address);
    try {
      const again = await g(['push', `${proc.httpBase}/shop.git`, 'main'], src);
      expect(again.code, again.stderr).toBe(0);
      expect(execFileSync('git', ['rev-parse', 'refs/heads/main'], { cwd: repo }).toString().trim()).toBe(
        second,
      );
      execFileSync('git', ['fsck', '--full', '--strict'], { cwd: repo, stdio: 'pipe' });
      await must(g(['clone', '-q', `${proc.httpBase}/shop.git`, path.join(work, 'clone')], work));
      expect(fs.readFileSync(path.join(work, 'clone', 'a.txt'), 'utf8')).toBe('two\n'.repeat(10_000));
    } finally {
      proc.child.kill('SIGTERM');
      await new Promise((r) => proc.child.on('exit', r));
    }
  });
});
