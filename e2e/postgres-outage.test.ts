// PostgreSQL stopped for 30 s under a real `paastechd all` (needs `npm run build`): the API answers
// 503 quickly (reads and writes), a git push is refused with a clear message and leaves the repository
// as it was, the apps keep serving through the router, and everything recovers by itself. Uses a
// PRIVATE cluster (initdb + pg_ctl as the postgres user, on a free port, in a temp dir), never the
// machine's shared PostgreSQL.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { type RunningDaemon, startPaastechd, tempDir } from '@paastech/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  appsPort,
  type Client,
  commitChange,
  fixtureRepository,
  gitEnv,
  pushHttp,
  run,
  sleep,
  tokenClient,
  viaRouter,
} from './support.js';

const BIN = fs.existsSync('/usr/lib/postgresql')
  ? fs
      .readdirSync('/usr/lib/postgresql')
      .map((v) => path.join('/usr/lib/postgresql', v, 'bin'))
      .find((d) => fs.existsSync(path.join(d, 'initdb')))
  : undefined;

let pgDir: string;
let pgPort: number;
let daemon: RunningDaemon;
let client: Client;
let repoDir: string; // the pusher's clone of project "served"

/** Runs a PostgreSQL tool as the postgres user (initdb refuses root). */
async function asPostgres(tool: string, args: string[]) {
  const r = await run('runuser', ['-u', 'postgres', '--', path.join(BIN!, tool), ...args], {
    cwd: '/',
    timeoutMs: 60_000,
  });
  if (r.code !== 0) throw new Error(`${tool} ${args.join(' ')} exited ${r.code}\n${r.stdout}\n${r.stderr}`);
  return r;
}

const pgCtl = (action: 'start' | 'stop', extra: string[] = []) =>
  asPostgres('pg_ctl', [
    action,
    '-D',
    path.join(pgDir, 'data'),
    '-w',
    '-t',
    '30',
    ...(action === 'start'
      ? ['-l', path.join(pgDir, 'log'), '-o', `-p ${pgPort} -k ${pgDir} -c listen_addresses=127.0.0.1`]
      : ['-m', 'fast']),
    ...extra,
  ]);

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

beforeAll(async () => {
  if (!BIN) throw new Error('PostgreSQL server binaries not found under /usr/lib/postgresql');
  pgDir = tempDir('pt-pg-');
  fs.chownSync(
    pgDir,
    Number((await run('id', ['-u', 'postgres'])).stdout),
    Number((await run('id', ['-g', 'postgres'])).stdout),
  );
  pgPort = await freePort();
  await asPostgres('initdb', ['-D', path.join(pgDir, 'data'), '-A', 'trust', '-U', 'postgres', '--no-sync']);
  await pgCtl('start');
  daemon = await startPaastechd({
    role: 'all',
    timeoutMs: 90_000,
    env: { PAASTECH_DATABASE_URL: `postgres://postgres@127.0.0.1:${pgPort}/postgres` },
  });
  const apiUrl = daemon.endpoints.get('dashboard and API')!.replace(/\/$/, '');
  client = await tokenClient(apiUrl, 'pg@example.com');
  await client.createProject('served');
  repoDir = await fixtureRepository('node-hello');
  const push = await pushHttp(daemon, repoDir, 'served', client.token);
  if (push.code !== 0) throw new Error(push.stderr);
}, 300_000);

afterAll(async () => {
  await daemon?.stop();
  if (pgDir && fs.existsSync(path.join(pgDir, 'data', 'postmaster.pid'))) {
    await asPostgres('pg_ctl', ['stop', '-D', path.join(pgDir, 'data'), '-m', 'immediate', '-w']).catch(
      () => {},
    );
  }
  if (pgDir) fs.rmSync(pgDir, { recursive: true, force: true });
}, 60_000);

/** A write during the outage: its status, how long it took, its content type and JSON body. */
async function write(method: string, urlPath: string, body: unknown) {
  const t = Date.now();
  const res = await client.request(method, urlPath, body, 15_000);
  return {
    status: res.status,
    ms: Date.now() - t,
    type: res.headers.get('content-type'),
    retryAfter: res.headers.get('retry-after'),
    body: await res.json().catch(() => undefined),
  };
}

/** `git <args>` in the server's bare repository of project `id`. */
const inRepository = (id: string, args: string[]) =>
  run('git', args, { cwd: path.join(daemon.dataDir, 'repositories', `${id}.git`), env: gitEnv(repoDir) });

it('PostgreSQL stopped for 30 s: the API answers 503 quickly to reads and writes, a push is refused cleanly, the apps keep serving, all recovers by itself', async () => {
  const host = 'served.localhost';
  const port = appsPort(daemon);
  expect((await viaRouter(port, host)).body).toBe('hello from v1 (web.1)\n');
  expect((await client.request('GET', '/api/v1/projects')).status).toBe(200);
  const { id } = await client.json('GET', '/api/v1/projects/served');
  const before = (await inRepository(id, ['rev-parse', 'refs/heads/main'])).stdout.trim();
  expect(before).toMatch(/^[0-9a-f]{40}$/);
  // A new commit to push while the database is away: the app then says so in its answer.
  const server = fs.readFileSync(path.join(repoDir, 'server.js'), 'utf8');
  const changed = server.replace('\\n`);', ' after the outage\\n`);');
  expect(changed).not.toBe(server);
  const sha = await commitChange(repoDir, 'server.js', changed);

  await pgCtl('stop');
  const stoppedAt = Date.now();

  // Writes: 503 at once, with the reason, as problem+json.
  const patch = await write('PATCH', '/api/v1/projects/served/config', { set: { GREETING: 'lost' } });
  const create = await write('POST', '/api/v1/projects', { name: 'born-in-outage' });
  for (const [what, w] of Object.entries({ patch, create })) {
    expect({ what, status: w.status, type: w.type, retryAfter: w.retryAfter }).toEqual({
      what,
      status: 503,
      type: 'application/problem+json; charset=utf-8',
      retryAfter: '5',
    });
    expect(w.body).toMatchObject({ status: 503, detail: 'database unavailable: try again shortly' });
    expect(w.ms, what).toBeLessThan(5_000);
  }
  // A push: refused before git receives anything, with a message that says to try again.
  const t = Date.now();
  const refused = await pushHttp(daemon, repoDir, 'served', client.token, 30_000);
  const pushMs = Date.now() - t;
  expect(refused.code, refused.stderr).toBe(128);
  expect(refused.stderr).toMatch(
    /^remote: git access cannot be checked right now: the platform's database is unavailable; try again shortly\nfatal: unable to access '[^']+': The requested URL returned error: 503\n$/,
  );
  expect(pushMs).toBeLessThan(10_000);
  // The repository is whole and its branch where it was.
  const fsck = await inRepository(id, ['fsck', '--full', '--strict']);
  expect({ code: fsck.code, stderr: fsck.stderr }).toEqual({ code: 0, stderr: '' });
  expect((await inRepository(id, ['rev-parse', 'refs/heads/main'])).stdout.trim()).toBe(before);

  const api: Array<{ status: number; ms: number }> = [];
  const app: Array<{ status: number; body: string }> = [];
  while (Date.now() - stoppedAt < 30_000) {
    const t = Date.now();
    const res = await client.request('GET', '/api/v1/projects', undefined, 15_000).catch(() => undefined);
    api.push({ status: res?.status ?? 0, ms: Date.now() - t });
    await res?.text();
    const visit = await viaRouter(port, host).catch((e: Error) => ({ status: 0, body: e.message }));
    app.push({ status: visit.status, body: visit.body });
    await sleep(1000);
  }
  expect(api.length).toBeGreaterThan(5);
  for (const a of api) expect(a.status).toBe(503);
  expect(Math.max(...api.map((a) => a.ms))).toBeLessThan(5_000);
  expect(
    app.every((v) => v.status === 200 && v.body === 'hello from v1 (web.1)\n'),
    JSON.stringify(app),
  ).toBe(true);

  await pgCtl('start');
  let status = 0;
  for (let i = 0; i < 60 && status !== 200; i++) {
    status = (await client.request('GET', '/api/v1/projects').catch(() => undefined))?.status ?? 0;
    if (status !== 200) await sleep(500);
  }
  expect(status).toBe(200);
  // Nothing of the refused writes happened.
  expect((await client.json('GET', '/api/v1/projects/served/config')).vars).toEqual({});
  expect((await client.request('GET', '/api/v1/projects/born-in-outage')).status).toBe(404);
  // Writes work again: a config change redeploys the app.
  await client.json('PATCH', '/api/v1/projects/served/config', { set: { GREETING: 'back' } });
  await client.settled('served', 120_000);
  const serves = async (expected: string) => {
    let body = '';
    for (let i = 0; i < 100 && body !== expected; i++) {
      body = (await viaRouter(port, host)).body;
      if (body !== expected) await sleep(300);
    }
    return body;
  };
  expect(await serves('back from v2 (web.1)\n')).toBe('back from v2 (web.1)\n');
  // The same push now goes through and deploys the new commit.
  const push = await pushHttp(daemon, repoDir, 'served', client.token);
  expect(push.code, push.stderr).toBe(0);
  expect(push.stderr).toMatch(/deployed v3/);
  expect((await inRepository(id, ['rev-parse', 'refs/heads/main'])).stdout.trim()).toBe(sha);
  expect((await client.deployments('served')).deployments[0]).toMatchObject({
    number: 3,
    state: 'active',
    commit_sha: sha,
  });
  expect(await serves('back from v3 (web.1) after the outage\n')).toBe(
    'back from v3 (web.1) after the outage\n',
  );
}, 300_000);
