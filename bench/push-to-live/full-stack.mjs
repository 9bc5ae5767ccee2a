#!/usr/bin/env node
// bench/push-to-live/full-stack.mjs: issue 6's push-to-live target through the whole stack. Starts
// the built `paastechd all`, signs a Client up, creates a project, pushes node-hello (v1), then
// times RUNS redeploys — each a commit changing the response body — from the start of `git push`
// over HTTP (git controller → pre-receive → API RecordPush → Pomegrenade → router) to the router
// answering the NEW body for `Host: <project>.localhost`. The floor (a bare repository whose
// post-receive hook checks the tree out and starts `node server.js` on a free port, polled) is
// measured in the same run, alternating with the redeploys so both see the same machine load.
//
// Needs `npm run build` and root with bubblewrap. Usage: node bench/push-to-live/full-stack.mjs [runs]
// BENCH_TRACE=1 prints every line of the push with its time; GIT_TRACE=1 passes to git;
// BENCH_DAEMON_NODE_OPTIONS becomes the daemon's NODE_OPTIONS (e.g. a --require of a profiler).
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { startPaastechd } from '@paastech/testing';

const RUNS = Number(process.argv[2] ?? 10);
const FIXTURE = path.resolve(import.meta.dirname, '../../e2e/fixtures/apps/node-hello');
const PASSWORD = 'bench-password-0123456789';
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-fs-'));
const gitEnv = {
  PATH: process.env.PATH,
  HOME: root,
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_TRACE: process.env.GIT_TRACE ?? '',
  GIT_AUTHOR_NAME: 'bench',
  GIT_AUTHOR_EMAIL: 'bench@example.com',
  GIT_COMMITTER_NAME: 'bench',
  GIT_COMMITTER_EMAIL: 'bench@example.com',
};

// Runs git with an argument array; throws on failure.
function gitRun(args, cwd, env = gitEnv) {
  const r = spawnSync('git', args, { cwd, env, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.trim();
}

// The push's progress lines that mark a step, and the step they start.
const STEPS = [
  [/-----> deployment v\d+ of/, 'created'],
  [/-----> Fetching source/, 'fetching'],
  [/-----> Building with/, 'building'],
  [/-----> Starting web/, 'starting'],
  [/-----> Traffic switched/, 'switched'],
];

// Runs git asynchronously (so the router can be polled meanwhile); resolves with code, stderr and
// when (ms after `t0`) each step line of the push arrived.
function gitAsync(args, cwd, env = gitEnv, t0 = performance.now()) {
  return new Promise((resolve) => {
    const child = spawn('git', args, { cwd, env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    const at = {};
    child.stderr.on('data', (b) => {
      const now = performance.now() - t0;
      for (const line of b.toString().split(/[\r\n]+/)) {
        if (!line) continue;
        // BENCH_TRACE=1 prints every line of the push with its time since the push started.
        if (process.env.BENCH_TRACE) console.error(`${now.toFixed(0).padStart(5)} ms  ${line}`);
        for (const [re, step] of STEPS) if (re.test(line) && at[step] === undefined) at[step] = now;
      }
      stderr += b.toString();
    });
    child.on('close', (code) => resolve({ code, stderr, at, end: performance.now() }));
  });
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

// GET / on 127.0.0.1:port with a Host header; resolves with status and body (status 0 on error).
function get(port, host) {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', headers: { host }, agent: false }, (res) => {
      let body = '';
      res.on('data', (b) => {
        body += b;
      });
      res.on('end', () => resolve({ status: res.statusCode, body }));
    });
    req.setTimeout(2000, () => req.destroy());
    req.on('error', () => resolve({ status: 0, body: '' }));
  });
}

// Polls until GET answers 200 with `body` (2 ms between tries); resolves with the time it did.
async function pollBody(port, host, body, deadlineMs = 120_000) {
  const deadline = performance.now() + deadlineMs;
  for (;;) {
    const r = await get(port, host);
    if (r.status === 200 && r.body.startsWith(body)) return performance.now();
    if (performance.now() > deadline) throw new Error(`${host}: no "${body}" (last ${r.status} ${r.body})`);
    await new Promise((res) => setTimeout(res, 2));
  }
}

// Writes a server.js whose greeting is `greeting` and commits it.
function commitGreeting(work, greeting) {
  const src = fs.readFileSync(path.join(FIXTURE, 'server.js'), 'utf8');
  const changed = src.replace("process.env.GREETING || 'hello'", JSON.stringify(greeting));
  if (changed === src) throw new Error('node-hello/server.js no longer has the greeting line');
  fs.writeFileSync(path.join(work, 'server.js'), changed);
  gitRun(['add', '-A'], work);
  gitRun(['commit', '-q', '-m', greeting], work);
}

// A work tree on main seeded from node-hello.
function makeWork(name) {
  const work = path.join(root, name);
  fs.cpSync(FIXTURE, work, { recursive: true });
  gitRun(['init', '-q', '-b', 'main'], work);
  gitRun(['add', '-A'], work);
  gitRun(['commit', '-q', '-m', 'node-hello'], work);
  return work;
}

// The floor: a bare repository with a post-receive hook that checks out and starts node server.js.
function makeFloor() {
  const bare = path.join(root, 'floor.git');
  const checkout = path.join(root, 'floor-checkout');
  gitRun(['init', '-q', '--bare', bare], root);
  const hook = `#!/bin/sh
rm -rf "${checkout}" && mkdir -p "${checkout}"
GIT_WORK_TREE="${checkout}" git checkout -q -f main
cd "${checkout}" && PORT="$BENCH_PORT" PAASTECH_DEPLOYMENT="floor" nohup node server.js >/dev/null 2>&1 &
echo $! > "${root}/floor.pid"
`;
  fs.writeFileSync(path.join(bare, 'hooks', 'post-receive'), hook, { mode: 0o755 });
  return { bare, work: makeWork('floor-work') };
}

// One floor run: push, then poll the started process until it answers the new greeting.
async function floorOnce(floor, n) {
  const greeting = `floor ${n}`;
  commitGreeting(floor.work, greeting);
  const port = await freePort();
  const t0 = performance.now();
  await gitAsync(['push', '-q', floor.bare, 'main'], floor.work, { ...gitEnv, BENCH_PORT: String(port) });
  const t1 = await pollBody(port, 'localhost', `${greeting} from`, 10_000);
  process.kill(Number(fs.readFileSync(path.join(root, 'floor.pid'), 'utf8')), 'SIGKILL');
  return t1 - t0;
}

// POST JSON to the API; returns the parsed answer, throwing unless the status is `status`.
async function api(base, method, urlPath, body, token, status) {
  const headers = { 'content-type': 'application/json', origin: new URL(base).origin };
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(`${base}${urlPath}`, { method, headers, body: JSON.stringify(body) });
  const text = await res.text();
  if (res.status !== status) throw new Error(`${method} ${urlPath} → ${res.status}: ${text}`);
  return JSON.parse(text);
}

// Starts paastechd all and returns it with a token, the project name, its git URL and apps port.
async function startStack() {
  const daemon = await startPaastechd({
    role: 'all',
    dataDir: fs.mkdtempSync(path.join(root, 'd-')),
    env: {
      PAASTECH_LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'warn',
      // BENCH_DAEMON_NODE_OPTIONS (e.g. "--require /path/to/profiler.cjs") goes to the daemon.
      ...(process.env.BENCH_DAEMON_NODE_OPTIONS
        ? { NODE_OPTIONS: process.env.BENCH_DAEMON_NODE_OPTIONS }
        : {}),
    },
    timeoutMs: 60_000,
  });
  const base = daemon.endpoints.get('dashboard and API').replace(/\/$/, '');
  const email = 'bench@example.com';
  await api(base, 'POST', '/api/v1/auth/signup', { email, password: PASSWORD }, '', 201);
  const { token } = await api(
    base,
    'POST',
    '/api/v1/auth/login',
    { email, password: PASSWORD, token_name: 'bench' },
    '',
    200,
  );
  await api(base, 'POST', '/api/v1/projects', { name: 'hello' }, token, 201);
  const gitHost = new URL(daemon.endpoints.get('git over HTTP')).host;
  const appsPort = Number(new URL(daemon.endpoints.get('apps').replace('<project>', 'x')).port);
  // The token goes in a temporary git config as an extra header, never on the command line.
  const cfg = path.join(root, 'gitconfig');
  const basic = Buffer.from(`paastech:${token}`).toString('base64');
  fs.writeFileSync(cfg, `[http]\n\textraHeader = Authorization: Basic ${basic}\n`, { mode: 0o600 });
  const env = { ...gitEnv, GIT_CONFIG_GLOBAL: cfg };
  return { daemon, url: `http://${gitHost}/hello.git`, appsPort, env };
}

// One timed redeploy: push a new greeting, poll the router for it while the push runs.
async function redeployOnce(stack, work, n) {
  const greeting = `hello ${n}`;
  commitGreeting(work, greeting);
  const t0 = performance.now();
  if (process.env.BENCH_DAEMON_LOG) console.error(`push ${n} at ${Date.now()}`);
  const pushing = gitAsync(['push', stack.url, 'HEAD:refs/heads/main'], work, stack.env, t0);
  // A failed push ends the run at once, with what git printed (the polling would wait 2 minutes).
  const failed = pushing.then((p) => (p.code === 0 ? new Promise(() => {}) : p));
  const live = await Promise.race([pollBody(stack.appsPort, 'hello.localhost', `${greeting} from`), failed]);
  if (typeof live !== 'number') throw new Error(`push ${n} failed: ${live.stderr}`);
  const pushed = await pushing;
  if (pushed.code !== 0) throw new Error(`push ${n} failed: ${pushed.stderr}`);
  return { live: live - t0, pushEnd: pushed.end - t0, at: pushed.at };
}

const ms = (x) => `${x.toFixed(0)} ms`;

const floor = makeFloor();
const stack = await startStack();
const work = makeWork('hello-work');
const first0 = performance.now();
const v1 = await gitAsync(['push', '-q', stack.url, 'HEAD:refs/heads/main'], work, stack.env);
if (v1.code !== 0) throw new Error(`first push failed: ${v1.stderr}`);
await pollBody(stack.appsPort, 'hello.localhost', 'hello from');
const first = performance.now() - first0;
await floorOnce(floor, 0);

const floorTimes = [];
const runs = [];
for (let n = 1; n <= RUNS; n++) {
  floorTimes.push(await floorOnce(floor, n));
  runs.push(await redeployOnce(stack, work, n));
}
await stack.daemon.stop('SIGTERM');
// Keeps the daemon's log (for finding where the time goes, with BENCH_LOG_LEVEL=debug).
if (process.env.BENCH_DAEMON_LOG) fs.writeFileSync(process.env.BENCH_DAEMON_LOG, stack.daemon.stderr());

const floorMedian = median(floorTimes);
const liveMedian = median(runs.map((r) => r.live));
const pushMedian = median(runs.map((r) => r.pushEnd));
const cpus = os.cpus();
console.log(
  `push-to-live through paastechd all, median of ${RUNS} (${cpus.length} CPUs, ${cpus[0]?.model ?? ''})`,
);
console.log('  run   floor    live via router   git push returned');
runs.forEach((r, i) => {
  console.log(
    `  ${String(i + 1).padStart(3)}  ${ms(floorTimes[i]).padStart(7)}  ${ms(r.live).padStart(15)}  ${ms(r.pushEnd).padStart(17)}`,
  );
});
console.log(`  floor (post-receive checkout + node server.js + poll)   ${ms(floorMedian)}`);
console.log(
  `  git push → new body through the router                  ${ms(liveMedian)}  (${(liveMedian / floorMedian).toFixed(2)}x the floor; first deploy ${ms(first)})`,
);
console.log(`  git push → push accepted (command returned)             ${ms(pushMedian)}`);
console.log('where the time goes (median of each step, from the remote: lines as the pusher sees them)');
const step = (from, to) => median(runs.map((r) => (to(r) ?? Number.NaN) - (from(r) ?? Number.NaN)));
const phases = [
  [
    'git push → deployment created (HTTP, receive-pack, pre-receive, RecordPush)',
    () => 0,
    (r) => r.at.created,
  ],
  ['deployment created → fetching source (queue, build start)', (r) => r.at.created, (r) => r.at.fetching],
  ['fetching source → building (GetArchive, tar in the sandbox)', (r) => r.at.fetching, (r) => r.at.building],
  [
    'building → starting web.1 (node builder, Procfile, artifact)',
    (r) => r.at.building,
    (r) => r.at.starting,
  ],
  [
    'starting web.1 → traffic switched (sandbox, node start, health check)',
    (r) => r.at.starting,
    (r) => r.at.switched,
  ],
  ['traffic switched → router answers the new body', (r) => r.at.switched, (r) => r.live],
];
for (const [label, from, to] of phases)
  console.log(`  ${label.padEnd(74)} ${ms(step(from, to)).padStart(7)}`);
console.log('  targets: <= 1000 ms median and <= 3x the floor');
const pass = liveMedian <= 1000 && liveMedian <= 3 * floorMedian;
console.log(pass ? 'result: targets met' : 'result: targets NOT met');
fs.rmSync(root, { recursive: true, force: true });
process.exit(0);
