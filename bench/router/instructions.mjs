#!/usr/bin/env node
// Router benchmark by instruction count (not a test): what one proxied request costs HAProxy, in
// instructions counted by valgrind's callgrind — a figure that, unlike throughput and CPU time, does
// not move with the load of a shared 2-core machine. Compared side by side: HAProxy configured by
// hand (the baseline of bench/router/run.mjs), nginx configured as run.mjs runs it (one process
// here), and the configuration our `haproxy` data plane generates, with and without its access
// log. Then the router's own process: its CPU time per
// request while it reads HAProxy's access-log ring, counts and writes access.log (time, so it does
// move with load). Needs `npm run build`, Debian's valgrind, nginx and haproxy.
//
//   node bench/router/instructions.mjs [--requests 3000]
//
// Method: each proxy runs in the foreground with one thread (nginx: one process) under callgrind, answers N and then
// (in a second run) 2N requests over 20 keep-alive connections; (I(2N) − I(N)) / N is the cost of
// one request without start-up and shutdown.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import {
  freePort,
  HOST,
  startRouterProc,
  waitHttp,
  writeBackendConf,
  writeBareCfg,
  writeByHandCfg,
  writeNginxProxyConf,
} from './setup.mjs';

const args = process.argv.slice(2);
const N = Number(args[args.indexOf('--requests') + 1] || 3000);
const CONNECTIONS = 20;
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'rbi-'));
const children = [];

for (const bin of ['valgrind', 'nginx', 'haproxy']) {
  if (spawnSync('which', [bin]).status !== 0) {
    console.error(`bench/router: ${bin} is missing (bash scripts/setup-system.sh install --bench)`);
    process.exit(1);
  }
}
process.on('exit', () => {
  // SIGTERM: nginx's master then ends its workers (after a SIGKILL they would outlive this run).
  for (const c of children) c.kill('SIGTERM');
  fs.rmSync(work, { recursive: true, force: true });
});

/** Sends exactly `n` GET requests for HOST to `port` over CONNECTIONS keep-alive sockets. */
function send(port, n) {
  const request = Buffer.from(`GET / HTTP/1.1\r\nhost: ${HOST}\r\n\r\n`);
  let sent = 0;
  let done = 0;
  return new Promise((resolve, reject) => {
    for (let c = 0; c < CONNECTIONS; c++) {
      const s = net.connect(port, '127.0.0.1');
      let buf = '';
      const next = () => {
        if (sent < n) {
          sent++;
          s.write(request);
        } else s.end();
      };
      s.on('connect', next);
      s.on('error', reject);
      s.on('data', (d) => {
        buf += d.toString('latin1');
        for (let i = buf.indexOf('\r\n\r\n'); i >= 0; i = buf.indexOf('\r\n\r\n')) {
          const length = Number(/content-length: *(\d+)/i.exec(buf.slice(0, i))?.[1] ?? 0);
          if (buf.length < i + 4 + length) break;
          if (!buf.startsWith('HTTP/1.1 200')) reject(new Error(`answer: ${buf.slice(0, 40)}`));
          buf = buf.slice(i + 4 + length);
          if (++done === n) resolve();
          next();
        }
      });
    }
  });
}

/**
 * Instructions the proxy executes (callgrind) starting with `cfg` (HAProxy's, or nginx's: a
 * `nginx.conf`), answering `n` requests, stopping.
 */
async function instructions(cfg, port, n) {
  const out = path.join(work, `callgrind.${path.basename(path.dirname(cfg))}.${n}`);
  const nginx = path.basename(cfg) === 'nginx.conf';
  const argv = nginx ? ['nginx', '-p', path.dirname(cfg), '-c', cfg] : ['haproxy', '-db', '-f', cfg];
  const child = spawn('valgrind', ['--tool=callgrind', `--callgrind-out-file=${out}`, ...argv], {
    stdio: ['ignore', 'ignore', 'ignore'],
  });
  children.push(child);
  await waitHttp(port, HOST, 200, 60_000);
  await send(port, n);
  const exited = new Promise((r) => child.once('exit', r));
  // Soft stop (HAProxy: SIGUSR1, nginx: SIGQUIT): callgrind writes its totals as the proxy exits.
  child.kill(nginx ? 'SIGQUIT' : 'SIGUSR1');
  await exited;
  const text = fs.readFileSync(out, 'utf8');
  const m = /^(?:summary|totals): (\d+)/m.exec(text);
  if (!m) throw new Error(`no callgrind totals in ${out}`);
  return Number(m[1]);
}

/** Instructions per request of `cfg`: the difference between 2N and N requests, over N. */
async function perRequest(cfg, port) {
  const one = await instructions(cfg, port, N);
  const two = await instructions(cfg, port, 2 * N);
  return (two - one) / N;
}

/** Copies the configuration, maps and pages; not the socket, pid file, access log or ring. */
function configOnly(src) {
  return !/\.(sock|pid|log|ring|bak)$/.test(src);
}

/** CPU seconds (user + system) `pid` has used. */
function cpuSeconds(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

// --- the backend -----------------------------------------------------------------------------------
const backendPort = await freePort();
const backendDir = path.join(work, 'backend');
const backend = spawn('nginx', ['-p', backendDir, '-c', writeBackendConf(backendDir, [backendPort])], {
  stdio: 'ignore',
});
children.push(backend);
await waitHttp(backendPort, HOST);

// --- our generated configuration, taken from a running router --------------------------------------
const oursData = path.join(work, 'ours-data');
const ours = await startRouterProc({
  dataDir: oursData,
  dataplane: 'haproxy',
  upstreams: [`127.0.0.1:${backendPort}`],
});
children.push(ours.child);
// The router itself: CPU per request while it follows the ring (counts, writes access.log).
await send(ours.port, 20_000);
const routerRequests = 100_000;
const cpuBefore = cpuSeconds(ours.child.pid);
const started = performance.now();
await send(ours.port, routerRequests);
await new Promise((r) => setTimeout(r, 500)); // the last lines reach the router
const routerUs = ((cpuSeconds(ours.child.pid) - cpuBefore) * 1e6) / routerRequests;
const elapsed = (performance.now() - started) / 1000;
const logged = fs.readFileSync(path.join(oursData, 'router', 'access.log'), 'utf8').split('\n').length - 1;
const generated = fs.readFileSync(path.join(oursData, 'router', 'haproxy.cfg'), 'utf8');
const copy = path.join(work, 'ours');
fs.cpSync(path.join(oursData, 'router'), copy, { recursive: true, filter: configOnly });
const stopped = new Promise((r) => ours.child.once('exit', r));
ours.child.kill('SIGTERM');
await stopped;

/** The lines of our configuration that add the forwarding headers and the request id. */
const FORWARDING = /^ {2}(http-request add-header X-Forwarded-|unique-id-header )/;

/**
 * Our configuration, on the copy's files, on `port`, one thread, optionally without its access log
 * and without its forwarding headers and request id.
 */
async function oursCfg(name, withLog, withForwarding = true) {
  const dir = path.join(work, name);
  fs.cpSync(copy, dir, { recursive: true, filter: configOnly });
  const port = await freePort();
  const text = generated
    .replaceAll(path.join(oursData, 'router'), dir)
    .replace(/^ {2}bind \S+$/m, `  bind 127.0.0.1:${port}`)
    // Each copy's ring in a file of its own (HAProxy maps it; two copies must not share one).
    .replace(/^ {2}backing-file .*$/m, `  backing-file ${dir}/access.ring`)
    // The generated file has `nbthread 1` already (one HAProxy process per CPU).
    .replace(/^ {2}stats socket .*$/m, `  stats socket ${dir}/haproxy.sock mode 600 level admin`)
    .split('\n')
    .filter((l) => withLog || !l.startsWith('  log ring@'))
    .filter((l) => withForwarding || !FORWARDING.test(l))
    .join('\n');
  fs.writeFileSync(path.join(dir, 'haproxy.cfg'), text);
  return { cfg: path.join(dir, 'haproxy.cfg'), port };
}

/** HAProxy by hand on `port`, one thread, its log to stdout (discarded) or none. */
async function byHandCfg(name, log) {
  const dir = path.join(work, name);
  const port = await freePort();
  const cfg = writeByHandCfg(dir, { port, backendPort, log, extraGlobal: ['  nbthread 1'] });
  return { cfg, port };
}

/** HAProxy doing nothing but Host routing (setup.mjs: HAProxy with its default settings before any of the behaviour the router must have). */
async function bareCfg(name) {
  const port = await freePort();
  return { cfg: writeBareCfg(path.join(work, name), { port, backendPort }), port };
}

/** nginx as run.mjs runs it (buffered access log), one process without a master. */
async function nginxCfg(name) {
  const port = await freePort();
  return { cfg: writeNginxProxyConf(path.join(work, name), { port, backendPort, single: true }), port };
}

const variants = [
  { name: 'HAProxy by hand (stock HTTP log to stdout)', ...(await byHandCfg('byhand', 'stdout')) },
  { name: 'nginx (buffered access log, the fields of ours)', ...(await nginxCfg('nginx')) },
  { name: 'HAProxy by hand, no log', ...(await byHandCfg('byhand-nolog', 'none')) },
  { name: 'ours (JSON access log into the ring file)', ...(await oursCfg('ours-log', true)) },
  { name: 'ours, no access log', ...(await oursCfg('ours-nolog', false)) },
  {
    name: 'ours, no access log, no forwarding headers or request id',
    ...(await oursCfg('ours-min', false, false)),
  },
  { name: 'HAProxy routing only (no header, request id, log or rule)', ...(await bareCfg('bare')) },
];
console.log(`bench/router instructions: ${N} and ${2 * N} requests per variant, callgrind, nbthread 1`);
const rows = [];
for (const v of variants) {
  const ir = await perRequest(v.cfg, v.port);
  rows.push({ ...v, ir });
  console.log(`  ${v.name}: ${Math.round(ir)} instructions/request`);
}
const base = rows[0].ir;
console.log('\n| proxy configuration | instructions per request | × by hand |');
console.log('|---|---|---|');
for (const r of rows) console.log(`| ${r.name} | ${Math.round(r.ir)} | ${(r.ir / base).toFixed(2)}× |`);
console.log(
  `\nrouter process (haproxy plane: reads the ring, counts, writes access.log): ${routerUs.toFixed(2)} µs CPU per request ` +
    `(${routerRequests} requests in ${elapsed.toFixed(1)} s; access.log has ${logged} lines)`,
);
process.exit(0);
