// Faults against a real `paastechd all` (needs `npm run build`): kill -9 of the daemon at rest, during
// a push and during a build (nothing lost, repositories valid, no orphan process, cgroup, network
// namespace, veth, nftables table, slot reservation or mount, apps back), an instance crash loop, two
// pushes to one project at once, and many pushes to many projects at once; after a clean stop at the
// end, none of those kernel objects is left, only the built projects' disk image files.
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { descendantsOf, type RunningDaemon, startPaastechd, tempDir } from '@paastech/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeObjects, expectedObjects, kernelObjects, type RunningInstance } from './kernel-objects.js';
import {
  appsPort,
  type Client,
  commitChange,
  fixtureRepository,
  gitEnv,
  pushHttp,
  run,
  sleep,
  startPush,
  tokenClient,
  waitForApp,
} from './support.js';

let daemon: RunningDaemon;
let dataDir: string;
let port: number;
let client: Client;
/** Project → the body its app must answer at / (the apps that must survive everything). */
const live = new Map<string, string>();

async function startDaemon(): Promise<void> {
  daemon = await startPaastechd({ role: 'all', dataDir, timeoutMs: 90_000 });
  port = appsPort(daemon);
  if (client) client.apiUrl = daemon.endpoints.get('dashboard and API')!.replace(/\/$/, '');
}

/** kill -9 of paastechd; resolves once it is gone, with the pids it had started. */
async function killDaemon(): Promise<number[]> {
  const pids = descendantsOf(daemon.child.pid!);
  daemon.child.kill('SIGKILL');
  await daemon.stop();
  return pids;
}

/** Waits (bounded) until none of `pids` is alive; returns those still alive with their command lines. */
async function survivors(pids: number[], timeoutMs = 15_000): Promise<string[]> {
  const alive = () =>
    pids.flatMap((pid) => {
      try {
        const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
        if (/\) Z /.test(stat)) return []; // a zombie is already dead, waiting for its reaper
        return [`${pid} ${fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ')}`];
      } catch {
        return [];
      }
    });
  const deadline = Date.now() + timeoutMs;
  while (alive().length > 0 && Date.now() < deadline) await sleep(200);
  return alive();
}

/** Path of a project's bare repository in the data dir. */
async function repository(project: string): Promise<string> {
  const info = await client.json('GET', `/api/v1/projects/${project}`);
  return path.join(dataDir, 'repositories', `${info.id}.git`);
}

function git(repo: string, args: string[]): string {
  return execFileSync('git', args, { cwd: repo, stdio: 'pipe' }).toString().trim();
}

/** Every app in `live` answers its body through the router (bounded wait each). */
async function allAppsAnswer(timeoutMs = 60_000): Promise<void> {
  const answers = await Promise.all(
    [...live].map(async ([project, body]) => {
      const a = await waitForApp(port, `${project}.localhost`, (x) => x.body === body, timeoutMs);
      return [project, a.body] as const;
    }),
  );
  expect(Object.fromEntries(answers)).toEqual(Object.fromEntries(live));
}

/** What must survive a restart: each project's deployments, config and branch. */
async function snapshot(projects: string[]) {
  const out: Record<string, unknown> = {};
  for (const p of projects) {
    const deployments = (await client.deployments(p)).deployments.map((d) => [
      d.number,
      d.state,
      d.commit_sha,
    ]);
    const config = (await client.json('GET', `/api/v1/projects/${p}/config`)).vars;
    out[p] = { deployments, config, branch: git(await repository(p), ['rev-parse', 'refs/heads/main']) };
  }
  return out;
}

/** Project id → name, of every project of the Client. */
async function projectNames(): Promise<Map<string, string>> {
  const { projects } = await client.json<{ projects: Array<{ id: string; name: string }> }>(
    'GET',
    '/api/v1/projects',
  );
  return new Map(projects.map((p) => [p.id, p.name]));
}

/** Names of the projects with a deployment (each got as far as its build: its disk exists). */
async function builtProjects(names: Map<string, string>): Promise<string[]> {
  const out: string[] = [];
  for (const project of names.values())
    if ((await client.deployments(project)).deployments.length > 0) out.push(project);
  return out.sort();
}

/** True when the daemon put project disks on loop-mounted images (false: plain directories). */
function loopDisks(): boolean {
  const log = daemon.stdout() + daemon.stderr();
  const loop = /disk quotas: an ext4 image per project/.test(log);
  expect(loop || /disk quotas: loop devices unavailable/.test(log), 'the disk quota mode is logged').toBe(
    true,
  );
  return loop;
}

/** Instance states with a process behind them. */
const WITH_PROCESS = ['starting', 'running', 'unhealthy', 'stopping'];

/**
 * The installation's cgroups, networks and mounts are exactly those of what runs now: a cgroup per
 * running instance (none for a dead instance or an interrupted build), a network (namespace, veth,
 * nftables table, slot reservation) per project with running instances, a mounted disk per project
 * that has built. Compared until equal for up to `timeoutMs`: an instance replaced by a deployment
 * keeps its process (and cgroup) while it drains (PAASTECH_DRAIN_SECONDS, 5 s, then up to the stop
 * grace), out of the API's status; an orphan stays, and fails it.
 */
async function expectNoOrphans(timeoutMs = 30_000): Promise<void> {
  const loop = loopDisks();
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const names = await projectNames();
    const running: RunningInstance[] = [];
    for (const project of names.values())
      for (const i of (await client.status(project)).instances)
        if (WITH_PROCESS.includes(i.state)) running.push({ project, deployment: i.deployment, name: i.name });
    const disks = loop ? await builtProjects(names) : [];
    const objects = kernelObjects(dataDir, names.keys());
    const found = describeObjects(objects, names, dataDir);
    const expected = expectedObjects(objects.hierarchies, running, disks);
    if (Date.now() > deadline || isDeepStrictEqual(found, expected)) {
      expect(found).toEqual(expected);
      return;
    }
    await sleep(500);
  }
}

beforeAll(async () => {
  dataDir = tempDir('pt-');
  await startDaemon();
  client = await tokenClient(
    daemon.endpoints.get('dashboard and API')!.replace(/\/$/, ''),
    'faults@example.com',
  );
  await Promise.all(
    ['steady', 'victim'].map(async (name) => {
      await client.createProject(name);
      const dir = await fixtureRepository('node-hello', path.join(tempDir('pt-fx-'), name));
      const push = await pushHttp(daemon, dir, name, client.token);
      if (push.code !== 0) throw new Error(push.stderr);
    }),
  );
  await client.json('PATCH', '/api/v1/projects/steady/config', { set: { GREETING: 'steady' } });
  await client.settled('steady');
  live.set('steady', 'steady from v2 (web.1)\n');
  live.set('victim', 'hello from v1 (web.1)\n');
  await allAppsAnswer();
}, 300_000);

afterAll(async () => {
  if (!daemon) return;
  // What the installation knows before it stops (the project ids name its networks).
  const names = await projectNames();
  const built = await builtProjects(names);
  const loop = loopDisks();
  expect(await daemon.stop()).toBe(0);
  // A clean stop leaves no cgroup (not even the installation's root), network or mount behind.
  const objects = kernelObjects(dataDir, names.keys());
  expect(describeObjects(objects, names, dataDir)).toEqual(expectedObjects(objects.hierarchies, [], []));
  // Kept on purpose (isolation/disk-quota.ts, detachAll): each built project's image, for the next start.
  const projectsDir = path.join(dataDir, 'pomegrenade', 'projects');
  const images = [...names]
    .filter(([id]) => fs.existsSync(path.join(projectsDir, id, 'disk.img')))
    .map(([, name]) => name)
    .sort();
  expect(images).toEqual(loop ? built : []);
}, 120_000);

describe('kill -9 of paastechd', () => {
  it('at rest: every active app answers again after the restart; no deployment, repository or config lost; no orphan', async () => {
    await expectNoOrphans();
    const before = await snapshot([...live.keys()]);
    const pids = await killDaemon();
    expect(pids.length).toBeGreaterThan(0);
    await startDaemon();
    expect(await survivors(pids)).toEqual([]);
    await allAppsAnswer();
    await expectNoOrphans();
    expect(await snapshot([...live.keys()])).toEqual(before);
    for (const p of live.keys()) git(await repository(p), ['fsck', '--full', '--strict']);
  }, 180_000);

  it('during a push: the push fails; the repository is valid, the branch at its old or new value; apps back; the next push works', async () => {
    const dir = await fixtureRepository('node-hello', path.join(tempDir('pt-fx-'), 'victim'));
    const repo = await repository('victim');
    const old = git(repo, ['rev-parse', 'refs/heads/main']);
    // 8 MB of incompressible data keeps the upload going long enough to be cut.
    fs.writeFileSync(path.join(dir, 'blob.bin'), crypto.randomBytes(8 << 20));
    const fresh = await commitChange(dir, 'note.txt', 'pushed while killed\n');
    const push = startPush(daemon, dir, 'victim', client.token, true); // forced: a new history
    await push.waitFor(/Writing objects/, 60_000);
    const pids = await killDaemon();
    const result = await push.done;
    expect(result.code).not.toBe(0);
    await startDaemon();
    expect(await survivors(pids)).toEqual([]);
    git(repo, ['fsck', '--full', '--strict']);
    expect([old, fresh]).toContain(git(repo, ['rev-parse', 'refs/heads/main']));
    await allAppsAnswer();
    // No deployment stays half-way.
    const settled = await client.settled('victim', 60_000);
    expect(settled.filter((d) => ['queued', 'building', 'releasing'].includes(d.state))).toEqual([]);
    await expectNoOrphans();
    const again = await pushHttp(daemon, dir, 'victim', client.token, 240_000, true);
    expect(again.code, again.stderr).toBe(0);
    const version = /deployed v(\d+)/.exec(again.stderr)?.[1];
    expect(version, again.stderr).toBeDefined();
    live.set('victim', `hello from v${version} (web.1)\n`);
    await allAppsAnswer();
    expect(git(repo, ['rev-parse', 'refs/heads/main'])).toBe(fresh);
  }, 240_000);

  it('during a build: after the restart the deployment is not left building, the old version serves, the next push works', async () => {
    // node-hello (no dependencies: no registry on the way), given a build step below.
    const dir = await fixtureRepository('node-hello', path.join(tempDir('pt-fx-'), 'builder'));
    await client.createProject('builder');
    const first = await pushHttp(daemon, dir, 'builder', client.token);
    expect(first.code, first.stderr).toBe(0);
    live.set('builder', 'hello from v1 (web.1)\n');
    await allAppsAnswer();
    const repo = await repository('builder');
    const old = git(repo, ['rev-parse', 'refs/heads/main']);
    // A build that takes a while: the kill lands inside it.
    const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
    pkg.scripts.build = `node -e "console.log('slow build started'); setTimeout(() => {}, 20000)"`;
    fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify(pkg));
    const fresh = await commitChange(dir, 'note.txt', 'slow build\n');
    const push = startPush(daemon, dir, 'builder', client.token);
    await push.waitFor(/remote: .*slow build started/, 90_000);
    const pids = await killDaemon();
    expect((await push.done).code).not.toBe(0);
    await startDaemon();
    expect(await survivors(pids)).toEqual([]);
    git(repo, ['fsck', '--full', '--strict']);
    expect([old, fresh]).toContain(git(repo, ['rev-parse', 'refs/heads/main']));
    const settled = await client.settled('builder', 60_000);
    expect(settled.filter((d) => ['queued', 'building', 'releasing'].includes(d.state))).toEqual([]);
    // The deployment was recorded before the kill (its build had started): it ends failed, saying why.
    const interrupted = settled.find((d) => d.commit_sha === fresh);
    expect(interrupted?.state, JSON.stringify(settled)).toBe('failed');
    expect(interrupted?.failure_reason).toMatch(/interrupted by a platform restart/);
    await allAppsAnswer();
    // Nothing of the interrupted build (its cgroup, its prepared web sandbox) is left.
    await expectNoOrphans();
    pkg.scripts.build = 'node -e "0"';
    fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify(pkg));
    const fixed = await commitChange(dir, 'note.txt', 'fast build\n');
    const again = await pushHttp(daemon, dir, 'builder', client.token);
    expect(again.code, again.stderr).toBe(0);
    const version = /deployed v(\d+)/.exec(again.stderr)?.[1];
    expect(version, again.stderr).toBeDefined();
    live.set('builder', `hello from v${version} (web.1)\n`);
    expect(git(repo, ['rev-parse', 'refs/heads/main'])).toBe(fixed);
    await allAppsAnswer();
  }, 300_000);
});

describe('an instance crash loop', () => {
  it('is reported in status and logs; the other apps are fine', async () => {
    const dir = path.join(tempDir('pt-fx-'), 'crasher');
    fs.mkdirSync(dir);
    fs.writeFileSync(
      path.join(dir, 'package.json'),
      '{"name":"crasher","scripts":{"start":"node server.js"}}\n',
    );
    fs.writeFileSync(
      path.join(dir, 'server.js'),
      "require('node:http').createServer((q, s) => s.end('up')).listen(Number(process.env.PORT));\n" +
        "setTimeout(() => { console.error('boom: lost the database'); process.exit(7); }, 2000);\n",
    );
    const env = gitEnv(path.dirname(dir));
    for (const args of [
      ['init', '-q', '-b', 'main'],
      ['add', '-A'],
      ['commit', '-qm', 'crasher'],
    ]) {
      await run('git', args, { cwd: dir, env });
    }
    await client.createProject('crasher');
    const push = await pushHttp(daemon, dir, 'crasher', client.token);
    expect(push.stderr).toMatch(/deployed v1/);
    // Crashes every ~2 s; with the restart backoff (1 s, 2 s, 4 s, 8 s) the fifth exit is a crash loop.
    let texts = '';
    for (let i = 0; i < 120 && !/crash-looping/.test(texts); i++) {
      await sleep(500);
      const logs = await client.json('GET', '/api/v1/projects/crasher/logs?lines=500');
      texts = logs.lines.map((l: { source: string; text: string }) => `${l.source}: ${l.text}`).join('\n');
    }
    expect(texts).toMatch(/web\.1: boom: lost the database/);
    expect(texts).toMatch(/platform: web\.1 exited with code 7; restarting in 1s/);
    expect(texts).toMatch(/platform: web\.1 exited with code 7 \(crash-looping\); restarting in \d+s/);
    const status = await client.status('crasher');
    expect(status.instances[0]?.restarts).toBeGreaterThanOrEqual(4);
    expect(status.instances[0]?.last_exit_code).toBe(7);
    await allAppsAnswer(10_000);
  }, 150_000);
});

describe('concurrent pushes', () => {
  it('two pushes to one project at once: both end, each success or a clear refusal; the branch names what is deployed', async () => {
    const base = await fixtureRepository('node-hello', path.join(tempDir('pt-fx-'), 'twice'));
    await client.createProject('twice');
    const first = await pushHttp(daemon, base, 'twice', client.token);
    expect(first.code, first.stderr).toBe(0);
    const clones = await Promise.all(
      ['one', 'two'].map(async (n) => {
        const dir = path.join(tempDir('pt-fx-'), n);
        fs.cpSync(base, dir, { recursive: true });
        return { dir, sha: await commitChange(dir, 'which.txt', `${n}\n`) };
      }),
    );
    const results = await Promise.all(clones.map((c) => pushHttp(daemon, c.dir, 'twice', client.token)));
    const ok = results.filter((r) => r.code === 0);
    expect(ok.length).toBeGreaterThanOrEqual(1);
    for (const r of results.filter((x) => x.code !== 0)) {
      // A loser is told why: the ref moved under it, or a deployment is under way.
      expect(r.stderr).toMatch(
        /rejected|fetch first|non-fast-forward|under way|in progress|failed to update ref/i,
      );
    }
    const deployments = await client.settled('twice');
    const active = deployments.find((d) => d.state === 'active')!;
    const branch = git(await repository('twice'), ['rev-parse', 'refs/heads/main']);
    expect(active.commit_sha).toBe(branch);
    expect(clones.map((c) => c.sha)).toContain(branch);
  }, 240_000);

  // 20 as the issue says, all at once: on this 2-core machine they complete within the bound below.
  const N = 20;
  it(`${N} pushes to ${N} projects at once: all live, none lost`, async () => {
    const names = Array.from({ length: N }, (_, i) => `many-${i + 1}`);
    const dirs = await Promise.all(
      names.map(async (name) => {
        await client.createProject(name);
        const dir = await fixtureRepository('node-hello', path.join(tempDir('pt-fx-'), name));
        return dir;
      }),
    );
    const started = Date.now();
    const results = await Promise.all(
      names.map((name, i) => pushHttp(daemon, dirs[i]!, name, client.token, 200_000)),
    );
    const seconds = Math.round((Date.now() - started) / 1000);
    console.log(`${N} concurrent pushes took ${seconds} s`);
    for (const [i, r] of results.entries())
      expect({ project: names[i], code: r.code }, r.stderr).toEqual({ project: names[i], code: 0 });
    for (const name of names) live.set(name, 'hello from v1 (web.1)\n');
    await allAppsAnswer(30_000);
    expect(seconds).toBeLessThan(180);
  }, 300_000);
});
