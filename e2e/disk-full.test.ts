// The data dir's disk full during a push, and too full for a build, under a real `paastechd all` (needs `npm run build`, and root
// to mount a small tmpfs as the data dir): the push fails with a clear message, nothing is corrupted,
// the running app keeps serving, and the next push works once space is back.
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { type RunningDaemon, startPaastechd, tempDir } from '@paastech/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  appsPort,
  type Client,
  commitChange,
  fixtureRepository,
  pushHttp,
  tokenClient,
  waitForApp,
} from './support.js';

let mount: string;
let mounted = false;
let daemon: RunningDaemon;
let client: Client;
let dir: string;

beforeAll(async () => {
  mount = tempDir('pt-full-');
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256m,mode=0755', 'tmpfs', mount]);
  mounted = true;
  // Projects may store 96 MiB (the default, 1 GiB, is more than this 256 MiB disk: every build
  // would be refused as one that might not fit).
  daemon = await startPaastechd({
    role: 'all',
    dataDir: mount,
    timeoutMs: 90_000,
    env: { PAASTECH_MAX_INSTANCE_DISK_MB: '96' },
  });
  client = await tokenClient(
    daemon.endpoints.get('dashboard and API')!.replace(/\/$/, ''),
    'full@example.com',
  );
  await client.createProject('full');
  dir = await fixtureRepository('node-hello');
  const push = await pushHttp(daemon, dir, 'full', client.token);
  if (push.code !== 0) throw new Error(push.stderr);
}, 180_000);

afterAll(async () => {
  await daemon?.stop();
  if (mounted) execFileSync('umount', ['-l', mount]);
  fs.rmSync(mount, { recursive: true, force: true });
}, 60_000);

it('a push onto a full disk fails clearly; nothing is corrupted; the next push works once space is back', async () => {
  const port = appsPort(daemon);
  expect((await waitForApp(port, 'full.localhost', (x) => x.status === 200)).body).toBe(
    'hello from v1 (web.1)\n',
  );
  const repo = path.join(
    mount,
    'repositories',
    `${(await client.json('GET', '/api/v1/projects/full')).id}.git`,
  );
  const old = execFileSync('git', ['rev-parse', 'refs/heads/main'], { cwd: repo }).toString().trim();

  // Fill the disk, then push 4 MiB of new, incompressible objects.
  const filler = path.join(mount, 'filler');
  const fd = fs.openSync(filler, 'w');
  const chunk = Buffer.alloc(1 << 20, 1);
  try {
    for (;;) fs.writeSync(fd, chunk);
  } catch (e) {
    expect((e as NodeJS.ErrnoException).code).toBe('ENOSPC');
  } finally {
    fs.closeSync(fd);
  }
  fs.writeFileSync(path.join(dir, 'blob.bin'), crypto.randomBytes(4 << 20));
  const fresh = await commitChange(dir, 'note.txt', 'on a full disk\n');
  const full = await pushHttp(daemon, dir, 'full', client.token, 120_000);
  expect(full.code).not.toBe(0);
  expect(full.stderr).toMatch(/no space left on device|disk is full|out of disk space|ENOSPC/i);

  // Nothing corrupted: the repository is valid at its old value, the app still serves v1.
  execFileSync('git', ['fsck', '--full', '--strict'], { cwd: repo, stdio: 'pipe' });
  expect(execFileSync('git', ['rev-parse', 'refs/heads/main'], { cwd: repo }).toString().trim()).toBe(old);
  expect((await waitForApp(port, 'full.localhost', (x) => x.status === 200)).body).toBe(
    'hello from v1 (web.1)\n',
  );
  expect((await client.request('GET', '/api/v1/projects/full')).status).toBe(200);

  // Space back: the same push goes through.
  fs.rmSync(filler);
  const again = await pushHttp(daemon, dir, 'full', client.token, 180_000);
  expect(again.code, again.stderr).toBe(0);
  const version = /deployed v(\d+)/.exec(again.stderr)?.[1];
  expect(version, again.stderr).toBeDefined();
  expect(execFileSync('git', ['rev-parse', 'refs/heads/main'], { cwd: repo }).toString().trim()).toBe(fresh);
  execFileSync('git', ['fsck', '--full', '--strict'], { cwd: repo, stdio: 'pipe' });
  const body = `hello from v${version} (web.1)\n`;
  expect((await waitForApp(port, 'full.localhost', (x) => x.body === body, 60_000)).body).toBe(body);
}, 300_000);

it('the disk too full for a build: refused before it writes (the image would lose its writes), the old version serves, the next push works', async () => {
  const port = appsPort(daemon);
  const project = (await client.json('GET', '/api/v1/projects/full')) as { id: string };
  const repo = path.join(mount, 'repositories', `${project.id}.git`);
  const before = (await waitForApp(port, 'full.localhost', (x) => x.status === 200)).body;
  const old = execFileSync('git', ['rev-parse', 'refs/heads/main'], { cwd: repo }).toString().trim();

  // A build that writes 64 MiB, pushed onto a disk with 8 MiB left (room for the push itself).
  // The project's disk is a sparse image on this disk: unchecked, the build would "succeed" into
  // the page cache and the kernel would lose its writes later (an aborted journal in the image).
  fs.rmSync(path.join(dir, 'blob.bin'), { force: true });
  const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
  pkg.scripts.build = `node -e "require('fs').writeFileSync('big.bin', Buffer.alloc(64 << 20, 1))"`;
  fs.writeFileSync(path.join(dir, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`);
  const fresh = await commitChange(dir, 'note.txt', 'a build that needs room\n');
  const filler = path.join(mount, 'filler');
  const fd = fs.openSync(filler, 'w');
  try {
    for (;;) fs.writeSync(fd, Buffer.alloc(1 << 20, 1));
  } catch (e) {
    expect((e as NodeJS.ErrnoException).code).toBe('ENOSPC');
  } finally {
    fs.closeSync(fd);
  }
  fs.truncateSync(filler, fs.statSync(filler).size - (8 << 20));
  const refused = await pushHttp(daemon, dir, 'full', client.token, 180_000);
  expect(refused.code, refused.stderr).not.toBe(0);
  expect(refused.stderr).toMatch(
    /the platform's disk is too full to build: \d+ MiB free, and this build may write up to \d+ MiB/,
  );
  expect(refused.stderr).not.toMatch(/Running npm run build/);

  // Nothing corrupted: the branch and the app as they were.
  execFileSync('git', ['fsck', '--full', '--strict'], { cwd: repo, stdio: 'pipe' });
  expect(execFileSync('git', ['rev-parse', 'refs/heads/main'], { cwd: repo }).toString().trim()).toBe(old);
  expect((await waitForApp(port, 'full.localhost', (x) => x.status === 200)).body).toBe(before);

  // Space back: the same push builds its 64 MiB and deploys.
  fs.rmSync(filler);
  const again = await pushHttp(daemon, dir, 'full', client.token, 180_000);
  expect(again.code, again.stderr).toBe(0);
  expect(again.stderr).toMatch(/Build done \(6\d\.\d MiB\)/);
  expect(execFileSync('git', ['rev-parse', 'refs/heads/main'], { cwd: repo }).toString().trim()).toBe(fresh);
  const version = /deployed v(\d+)/.exec(again.stderr)?.[1];
  const body = `hello from v${version} (web.1)\n`;
  expect((await waitForApp(port, 'full.localhost', (x) => x.body === body, 60_000)).body).toBe(body);
}, 400_000);
