#!/usr/bin/env node
// API benchmark (not a test): authenticated GET /api/v1/projects with 50 projects, on SQLite and on
// PostgreSQL — maximum throughput and p99 at 50 concurrent keep-alive connections (wrk), and p50/p99
// at a fixed 1,000 requests/s (open loop, so slow answers cannot slow the offered load down) — plus
// login latency with the argon2id parameters in use. Needs `npm run build` first. PostgreSQL is
// used when PAASTECH_BENCH_POSTGRES_URL or PAASTECH_TEST_POSTGRES_URL is set.
//
//   node bench/api/run.mjs [--duration 10] [--rates 250,500,1000] [--databases sqlite,postgres]
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import pg from 'pg';
import { openLoop } from './open-loop.mjs';

const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const DURATION_S = Number(opt('duration', '10'));
const RATES = opt('rates', '250,500,1000').split(',').map(Number);
const CONNECTIONS = 50;
const PROJECTS = 50;
const LOGINS = 30;
/** /proc's clock ticks per second (USER_HZ, 100 on Linux). */
const CLOCK_TICKS = 100;
const POSTGRES_URL = process.env.PAASTECH_BENCH_POSTGRES_URL || process.env.PAASTECH_TEST_POSTGRES_URL;

/** Runs one statement on the PostgreSQL maintenance database; resolves with its rows. */
async function pgAdmin(sql, values = []) {
  const c = new pg.Client({ connectionString: POSTGRES_URL });
  await c.connect();
  try {
    return (await c.query(sql, values)).rows;
  } finally {
    await c.end();
  }
}

/** Starts bench/api/server.mjs on a fresh data dir (and database); resolves with its URL. */
async function startServer(dialect) {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `paastech-bench-${dialect}-`));
  const env = {
    ...process.env,
    PAASTECH_DATA_DIR: dataDir,
    PAASTECH_API_PORT: '0',
    PAASTECH_GIT_HTTP_PORT: '0',
    PAASTECH_GIT_SSH_PORT: '0',
    PAASTECH_LOG_LEVEL: 'warn',
    PAASTECH_LOG_FORMAT: 'json',
  };
  delete env.PAASTECH_DATABASE_URL;
  let dbName;
  if (dialect === 'postgres') {
    dbName = `paastech_bench_${randomBytes(5).toString('hex')}`;
    await pgAdmin(`create database ${dbName}`);
    const url = new URL(POSTGRES_URL);
    url.pathname = `/${dbName}`;
    env.PAASTECH_DATABASE_URL = url.toString();
  }
  // BENCH_SERVER_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" profiles the server.
  const nodeArgs = (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child = spawn(process.execPath, [...nodeArgs, path.join(import.meta.dirname, 'server.mjs')], {
    env,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const line = await new Promise((resolve, reject) => {
    readline.createInterface({ input: child.stdout }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`bench server exited with ${code}`)));
  });
  const { url } = JSON.parse(line);
  return {
    url,
    /** CPU seconds used so far by the server process and by its PostgreSQL backends. */
    async cpuSeconds() {
      const backends = dbName
        ? await pgAdmin('select pid from pg_stat_activity where datname = $1', [dbName])
        : [];
      return { api: cpuOf(child.pid), db: backends.reduce((sum, { pid }) => sum + cpuOf(pid), 0) };
    },
    async stop() {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
      if (dbName) await pgAdmin(`drop database if exists ${dbName} with (force)`);
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** CPU seconds (user + system) a process has used, from /proc; 0 when it is gone. */
function cpuOf(pid) {
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return 0;
  }
}

/** One JSON request; resolves with status and parsed body. */
async function request(base, method, url, body, token) {
  const res = await fetch(base + url, {
    method,
    headers: {
      ...(body ? { 'content-type': 'application/json' } : {}),
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

/** Signs up, gets a token and creates the projects; returns credentials. */
async function seed(base) {
  const email = `bench-${randomBytes(4).toString('hex')}@example.com`;
  const password = `bench passphrase ${randomBytes(4).toString('hex')}`;
  await request(base, 'POST', '/api/v1/auth/signup', { email, password });
  const login = await request(base, 'POST', '/api/v1/auth/login', { email, password, token_name: 'bench' });
  const token = login.body.token;
  for (let i = 0; i < PROJECTS; i++) {
    const res = await request(base, 'POST', '/api/v1/projects', { name: `bench-${i}` }, token);
    if (res.status !== 201)
      throw new Error(`creating project ${i}: ${res.status} ${JSON.stringify(res.body)}`);
  }
  const list = await request(base, 'GET', '/api/v1/projects', undefined, token);
  const count = list.body.projects?.length ?? list.body.length;
  if (count !== PROJECTS) throw new Error(`expected ${PROJECTS} projects, listed ${count}`);
  return { email, password, token };
}

/** Runs wrk at CONNECTIONS connections; returns requests/s and p99 (ms). */
function wrk(base, token) {
  const r = spawnSync(
    'wrk',
    [
      '-t2',
      `-c${CONNECTIONS}`,
      `-d${DURATION_S}s`,
      '--latency',
      '-H',
      `Authorization: Bearer ${token}`,
      `${base}/api/v1/projects`,
    ],
    { encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(`wrk failed: ${r.stderr || r.error}`);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(r.stdout)?.[1]);
  const p99 = toMs(/99%\s+([\d.]+\w+)/.exec(r.stdout)?.[1]);
  const errors = /Non-2xx or 3xx responses: (\d+)/.exec(r.stdout)?.[1] ?? '0';
  const requests = Number(/(\d+) requests in/.exec(r.stdout)?.[1]);
  return { rps, p99, errors: Number(errors), requests };
}

/** wrk's "1.23ms" / "450.00us" / "1.2s" in milliseconds. */
function toMs(text) {
  const m = /^([\d.]+)(us|ms|s)$/.exec(text ?? '');
  if (!m) return Number.NaN;
  return Number(m[1]) * { us: 0.001, ms: 1, s: 1000 }[m[2]];
}

/** Offers `rate` requests/s for DURATION_S over CONNECTIONS keep-alive sockets; returns latency percentiles. */
async function fixedRate(base, token, rate) {
  const r = await openLoop({
    url: `${base}/api/v1/projects`,
    headers: { authorization: `Bearer ${token}` },
    rate,
    durationS: DURATION_S,
    connections: CONNECTIONS,
  });
  const pct = (p) =>
    r.latencies[Math.min(r.latencies.length - 1, Math.floor((p / 100) * r.latencies.length))];
  return { rate, achieved: r.achieved, p50: pct(50), p99: pct(99), errors: r.errors + r.non2xx };
}

/** One request at a time over one keep-alive connection: the cost of a request without queueing. */
async function sequential(base, token, count = 500) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const target = new URL(`${base}/api/v1/projects`);
  const times = [];
  for (let i = 0; i < count; i++) {
    const t0 = performance.now();
    await new Promise((resolve, reject) => {
      http
        .get(target, { agent, headers: { authorization: `Bearer ${token}` } }, (res) => {
          res.resume();
          res.on('end', resolve);
        })
        .on('error', reject);
    });
    times.push(performance.now() - t0);
  }
  agent.destroy();
  times.sort((a, b) => a - b);
  return { p50: times[Math.floor(count / 2)], p99: times[Math.floor(count * 0.99)] };
}

/** Times LOGINS sequential password logins (argon2id verification dominates). */
async function loginLatency(base, email, password) {
  const times = [];
  for (let i = 0; i < LOGINS; i++) {
    const t0 = performance.now();
    const res = await request(base, 'POST', '/api/v1/auth/login', { email, password });
    if (res.status !== 200) throw new Error(`login failed: ${res.status}`);
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return { p50: times[Math.floor(LOGINS / 2)], p99: times[LOGINS - 1] };
}

const dialects = opt('databases', POSTGRES_URL ? 'sqlite,postgres' : 'sqlite').split(',');
if (dialects.includes('postgres') && !POSTGRES_URL)
  throw new Error('--databases postgres needs PAASTECH_BENCH_POSTGRES_URL or PAASTECH_TEST_POSTGRES_URL');
const rows = [];
for (const dialect of dialects) {
  const server = await startServer(dialect);
  try {
    const { email, password, token } = await seed(server.url);
    const seq = await sequential(server.url, token);
    // CPU per request during the wrk run: steadier than latency when other processes share the CPUs.
    const cpu0 = await server.cpuSeconds();
    const w = wrk(server.url, token);
    const cpu1 = await server.cpuSeconds();
    w.apiUs = ((cpu1.api - cpu0.api) * 1e6) / w.requests;
    w.dbUs = dialect === 'postgres' ? ((cpu1.db - cpu0.db) * 1e6) / w.requests : Number.NaN;
    const fixed = [];
    for (const rate of RATES) fixed.push(await fixedRate(server.url, token, rate));
    const l = await loginLatency(server.url, email, password);
    rows.push({ dialect, seq, w, fixed, l });
  } finally {
    await server.stop();
  }
}

const fmt = (n, d = 1) => (Number.isFinite(n) ? n.toFixed(d) : '-');
console.log(
  `\nGET /api/v1/projects (${PROJECTS} projects, Bearer token), ${CONNECTIONS} connections, ${DURATION_S} s each; ${os.cpus().length} CPUs`,
);
console.log(
  '| database | one at a time p50 (ms) | one at a time p99 (ms) | max req/s (wrk) | p99 at max (ms) | non-2xx | API CPU µs/req | PostgreSQL CPU µs/req | login p50 (ms) | login p99 (ms) |',
);
console.log('|---|---|---|---|---|---|---|---|---|---|');
for (const { dialect, seq, w, l } of rows)
  console.log(
    `| ${dialect} | ${fmt(seq.p50, 2)} | ${fmt(seq.p99, 2)} | ${fmt(w.rps, 0)} | ${fmt(w.p99, 2)} | ${w.errors} | ${fmt(w.apiUs, 0)} | ${fmt(w.dbUs, 0)} | ${fmt(l.p50)} | ${fmt(l.p99)} |`,
  );
console.log('\nFixed offered rate (open loop; latency counted from when each request was due):');
console.log('| database | offered req/s | achieved req/s | p50 (ms) | p99 (ms) | errors |');
console.log('|---|---|---|---|---|---|');
for (const { dialect, fixed } of rows)
  for (const f of fixed)
    console.log(
      `| ${dialect} | ${f.rate} | ${fmt(f.achieved, 0)} | ${fmt(f.p50, 2)} | ${fmt(f.p99, 2)} | ${f.errors} |`,
    );
console.log(
  `\nload average after the run: ${os
    .loadavg()
    .map((n) => n.toFixed(1))
    .join(' ')}`,
);
if (!POSTGRES_URL)
  console.log('(PostgreSQL skipped: set PAASTECH_BENCH_POSTGRES_URL or PAASTECH_TEST_POSTGRES_URL)');
