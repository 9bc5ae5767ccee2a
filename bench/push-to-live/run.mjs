#!/usr/bin/env node
// bench/push-to-live: time from `git push` of a hello-world Node app to the new version answering,
// through Pomegrenade (GetArchive → build in the sandbox → sandboxed instance → health check →
// route), median of 10, against the floor measured in the same run: a bare repository whose
// post-receive hook checks out the tree and starts `node server.js` on a free port, polled until it
// answers. Also: a redeploy with an unchanged npm lockfile vs one without dependencies, Pomegrenade's
// RSS idle with 0 and 20 apps, and each sandboxed instance's memory overhead over the bare process.
//
// Needs `npm run build` (imports the built packages) and root with bubblewrap (the real sandbox).
// The git path here is a local bare repository plus a GitService server in this process; the full
// stack (git controller + API + router: issue 6's real target) is measured afterwards by
// full-stack.mjs, run from here with the same number of runs.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { createLogger, internalMetadata, serveGrpc } from '@paastech/kit';
import { readPomegrenadeConfig, startPomegrenade } from '@paastech/pomegrenade';
import { deploy, git, routing } from '@paastech/proto';
import { startPaastechd } from '@paastech/testing';

const RUNS = Number(process.argv[2] ?? 10);
const SECRET = 'bench-internal-secret-0123456789';
const FIXTURES = path.resolve(import.meta.dirname, '../../e2e/fixtures/apps');
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-ptl-'));
const reposDir = path.join(root, 'repos');
fs.mkdirSync(reposDir);
const gitEnv = {
  ...process.env,
  GIT_AUTHOR_NAME: 'bench',
  GIT_AUTHOR_EMAIL: 'bench@example.com',
  GIT_COMMITTER_NAME: 'bench',
  GIT_COMMITTER_EMAIL: 'bench@example.com',
};

// Runs git with an argument array; throws on failure.
function gitRun(args, env = gitEnv) {
  const r = spawnSync('git', args, { env, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.trim();
}

// Median of numbers.
function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

// A free TCP port on 127.0.0.1.
function freePort() {
  return new Promise((resolve) => {
    const srv = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

// Polls http://address/ until its body passes `ok` (2 ms between tries).
async function pollUntil(address, ok) {
  for (;;) {
    try {
      const res = await fetch(`http://${address}/`, { signal: AbortSignal.timeout(1000) });
      const body = await res.text();
      if (res.status === 200 && ok(body)) return;
    } catch {
      // not yet
    }
    await new Promise((r) => setTimeout(r, 2));
  }
}

// A work tree pushing to <reposDir>/<name>.git, seeded from a fixture.
function makeRepo(name, fixture, hook) {
  const bare = path.join(reposDir, `${name}.git`);
  const work = path.join(reposDir, `${name}.work`);
  gitRun(['init', '-q', '--bare', bare]);
  if (hook) {
    fs.writeFileSync(path.join(bare, 'hooks', 'post-receive'), hook, { mode: 0o755 });
  }
  gitRun(['init', '-q', '-b', 'main', work]);
  fs.cpSync(path.join(FIXTURES, fixture), work, { recursive: true });
  return { bare, work };
}

// Commits a change and returns the new commit id (the push is timed separately).
function commitChange(repo, n) {
  fs.writeFileSync(path.join(repo.work, 'VERSION'), `${n}\n`);
  gitRun(['-C', repo.work, 'add', '-A']);
  gitRun(['-C', repo.work, 'commit', '-q', '-m', `v${n}`]);
  return gitRun(['-C', repo.work, 'rev-parse', 'HEAD']);
}

// Pushes main to the bare repository (runs its hooks), with extra environment for them.
function push(repo, env = {}) {
  gitRun(['-C', repo.work, 'push', '-q', repo.bare, 'main'], { ...gitEnv, ...env });
}

// --- the floor: post-receive checkout + node server.js + poll ---
async function floor() {
  const checkout = path.join(root, 'floor-checkout');
  const hook = `#!/bin/sh
# Floor: check the tree out and start the app on $BENCH_PORT, detached.
rm -rf "${checkout}" && mkdir -p "${checkout}"
GIT_WORK_TREE="${checkout}" git checkout -q -f main
cd "${checkout}" && PORT="$BENCH_PORT" PAASTECH_DEPLOYMENT="floor" nohup node server.js >/dev/null 2>&1 &
echo $! > "${root}/floor.pid"
`;
  const repo = makeRepo('floor', 'node-hello', hook);
  const times = [];
  for (let i = 1; i <= RUNS; i++) {
    commitChange(repo, i);
    const port = await freePort();
    const t0 = performance.now();
    push(repo, { BENCH_PORT: String(port) });
    await pollUntil(`127.0.0.1:${port}`, () => true);
    times.push(performance.now() - t0);
    process.kill(Number(fs.readFileSync(path.join(root, 'floor.pid'), 'utf8')), 'SIGKILL');
  }
  return times;
}

// --- Pomegrenade ---
const gitAddress = `unix:${path.join(root, 'git.sock')}`;

// Serves GitService.GetArchive over the bench's bare repositories.
async function startGitServer() {
  return serveGrpc({
    address: gitAddress,
    secret: SECRET,
    services: ['paastech.git.v1.GitService'],
    register: (server) =>
      server.addService(git.GitServiceService, {
        getArchive(call) {
          const repo = path.join(reposDir, `${call.request.projectId}.git`);
          const child = spawn('git', [
            '-C',
            repo,
            'archive',
            '--format=tar',
            '--end-of-options',
            call.request.commitSha,
          ]);
          child.stdout.on('data', (b) => call.write({ data: b }));
          child.on('close', (code) =>
            code === 0 ? call.end() : call.destroy(new Error(`git archive ${code}`)),
          );
        },
      }),
  });
}

// Connects gRPC clients (deployments, routes) to a Pomegrenade at `address`.
function connect(address) {
  const client = new deploy.DeploymentServiceClient(address, grpc.credentials.createInsecure());
  const routes = new Map();
  const rc = new routing.RoutingServiceClient(address, grpc.credentials.createInsecure());
  const watch = rc.watchRoutes({ routerId: 'bench' }, internalMetadata(SECRET));
  watch.on('data', (m) => {
    if (m.update?.$case === 'snapshot') for (const r of m.update.value.routes) routes.set(r.projectId, r);
    if (m.update?.$case === 'change')
      for (const r of m.update.value.upsertedRoutes) routes.set(r.projectId, r);
  });
  watch.on('error', () => {});
  const create = (projectId, number, commitSha) =>
    new Promise((resolve, reject) =>
      client.createDeployment(
        {
          projectId,
          projectName: projectId,
          deploymentNumber: number,
          commitSha,
          source: { kind: { $case: 'git', value: { refName: 'refs/heads/main' } } },
          configVars: {},
          formation: {},
          domains: [`${projectId}.localhost`],
          httpsRedirect: false,
          createdByClientId: 'bench',
        },
        internalMetadata(SECRET),
        (err, res) => (err ? reject(err) : resolve(res)),
      ),
    );
  // Waits until the route of a project lists an instance of deployment n answering.
  const live = async (projectId, n, ok = (b) => b.includes(`from v${n} `)) => {
    for (;;) {
      const r = routes.get(projectId);
      if (r?.deploymentNumber === n && r.upstreamAddresses.length > 0) {
        await pollUntil(r.upstreamAddresses[0], ok);
        return r.upstreamAddresses[0];
      }
      await new Promise((res) => setTimeout(res, 2));
    }
  };
  const close = () => {
    watch.cancel();
    client.close();
    rc.close();
  };
  return { create, live, close };
}

// Pomegrenade in this process (for timing: no extra process hop).
async function startInProcess() {
  const config = readPomegrenadeConfig({
    PAASTECH_DATA_DIR: path.join(root, 'data'),
    PAASTECH_INTERNAL_SECRET: SECRET,
    PAASTECH_GIT_GRPC_ADDRESS: gitAddress,
    PAASTECH_LOG_LEVEL: 'silent',
    PAASTECH_LOG_FORMAT: 'json',
    PAASTECH_DRAIN_SECONDS: '1',
  });
  const handle = startPomegrenade(config, createLogger('pomegrenade', { level: 'silent', format: 'json' }));
  await handle.ready;
  const c = connect(config.grpcAddress);
  return {
    ...c,
    stop: async () => {
      c.close();
      await handle.stop();
    },
  };
}

// Push-to-live of `fixture` through Pomegrenade, RUNS times.
async function pomegrenade(stack, project, fixture, ok) {
  const repo = makeRepo(project, fixture);
  const times = [];
  for (let n = 1; n <= RUNS + 1; n++) {
    const sha = commitChange(repo, n);
    const t0 = performance.now();
    push(repo);
    await stack.create(project, n, sha);
    await stack.live(project, n, ok);
    // The first deployment of a project pays for a first install: it is reported apart.
    times.push(performance.now() - t0);
  }
  return { first: times[0], redeploys: times.slice(1) };
}

// VmRSS of a pid in bytes (0 when gone).
function rss(pid) {
  try {
    return Number(/VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;
  } catch {
    return 0;
  }
}

// Parent pid of a pid.
function ppid(pid) {
  return Number(/^PPid:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
}

// Node processes of sandboxed instances (descendants of `daemonPid` through bwrap), with the RSS of
// the sandbox processes above them.
function instanceOverheads(daemonPid) {
  const out = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    let cmd = '';
    try {
      cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    if (!cmd.startsWith('node\0server.js')) continue;
    let overhead = 0;
    let p = ppid(pid);
    while (p > 1 && p !== daemonPid) {
      overhead += rss(p);
      p = ppid(p);
    }
    if (p === daemonPid) out.push({ app: rss(pid), overhead });
  }
  return out;
}

// RSS of a bare `node server.js` of node-hello.
async function bareNodeRss() {
  const port = await freePort();
  const child = spawn('node', ['server.js'], {
    cwd: path.join(FIXTURES, 'node-hello'),
    env: { PORT: String(port), PATH: process.env.PATH },
  });
  await pollUntil(`127.0.0.1:${port}`, () => true);
  await new Promise((r) => setTimeout(r, 300));
  const bytes = rss(child.pid);
  child.kill('SIGKILL');
  return bytes;
}

const ms = (x) => `${x.toFixed(0)} ms`;
const mib = (x) => `${(x / 1024 / 1024).toFixed(1)} MiB`;

const floorTimes = await floor();
await startGitServer();
const stack = await startInProcess();
const hello = await pomegrenade(stack, 'hello', 'node-hello');
const dep = await pomegrenade(stack, 'dep', 'node-dep', (b) => b.includes('172800000'));
await stack.stop();

// Memory of the real daemons: `paastechd all` idle, `paastechd pomegrenade` with 0 then 20 apps.
const all = await startPaastechd({ role: 'all', dataDir: fs.mkdtempSync(path.join(root, 'all-')) });
await new Promise((r) => setTimeout(r, 2000));
const allIdleRss = rss(all.child.pid);
await all.stop('SIGTERM');
const pomDir = fs.mkdtempSync(path.join(root, 'pom-'));
const pom = await startPaastechd({
  role: 'pomegrenade',
  dataDir: pomDir,
  env: { PAASTECH_INTERNAL_SECRET: SECRET, PAASTECH_GIT_GRPC_ADDRESS: gitAddress },
});
await new Promise((r) => setTimeout(r, 1000));
const pomIdleRss = rss(pom.child.pid);
const remote = connect(`unix:${path.join(pomDir, 'run', 'pomegrenade.sock')}`);
for (let i = 1; i <= 20; i++) {
  const repo = makeRepo(`app${i}`, 'node-hello');
  const sha = commitChange(repo, 1);
  push(repo);
  await remote.create(`app${i}`, 1, sha);
  await remote.live(`app${i}`, 1);
}
await new Promise((r) => setTimeout(r, 1000));
const pomBusyRss = rss(pom.child.pid);
const overheads = instanceOverheads(pom.child.pid);
const bare = await bareNodeRss();
remote.close();
await pom.stop('SIGTERM');

const floorMedian = median(floorTimes);
const helloMedian = median(hello.redeploys);
const depMedian = median(dep.redeploys);
const cpus = os.cpus();
console.log(`push-to-live, median of ${RUNS} (${cpus.length} CPUs, ${cpus[0]?.model ?? ''})`);
console.log(`  floor (post-receive checkout + node server.js + poll)  ${ms(floorMedian)}`);
console.log(
  `  pomegrenade, node-hello (no dependencies)              ${ms(helloMedian)}  (${(helloMedian / floorMedian).toFixed(2)}x the floor; first deploy ${ms(hello.first)})`,
);
console.log(
  `  pomegrenade, node-dep (unchanged lockfile)             ${ms(depMedian)}  (${depMedian >= helloMedian ? '+' : ''}${ms(depMedian - helloMedian)} vs no dependencies; first deploy with npm ci ${ms(dep.first)})`,
);
console.log('  targets: <= 1000 ms median and <= 3x the floor; lockfile redeploy < +500 ms');
console.log('memory (RSS)');
console.log(`  paastechd all, idle, 0 apps                  ${mib(allIdleRss)}`);
console.log(`  paastechd pomegrenade, 0 apps                ${mib(pomIdleRss)}`);
console.log(`  paastechd pomegrenade, 20 apps running       ${mib(pomBusyRss)}`);
const avgOverhead = overheads.reduce((a, o) => a + o.overhead, 0) / Math.max(1, overheads.length);
const avgApp = overheads.reduce((a, o) => a + o.app, 0) / Math.max(1, overheads.length);
console.log(
  `  per instance: app ${mib(avgApp)} (bare node server.js ${mib(bare)}); sandbox processes above it ${mib(avgOverhead)} (mean of ${overheads.length})`,
);
const pass = helloMedian <= 1000 && helloMedian <= 3 * floorMedian && depMedian - helloMedian < 500;
console.log(pass ? 'result: targets met' : 'result: targets NOT met');
fs.rmSync(root, { recursive: true, force: true });
const full = spawnSync(process.execPath, [path.join(import.meta.dirname, 'full-stack.mjs'), String(RUNS)], {
  stdio: 'inherit',
});
process.exit(full.status ?? 1);
