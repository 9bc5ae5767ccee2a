#!/usr/bin/env node
// Router benchmark (not a test). One fixed backend (nginx answering a small body), reached
//   direct · through nginx (keep-alive upstream, Host routing) · through HAProxy configured by hand
//   · through our `haproxy` data plane · through our `node` data plane
// in one run, alternating, `wrk -t1 -c50 -d10s` per target and round (≥ 3 rounds): throughput,
// p50 and p99 as ratios to direct and to nginx, and each proxy's RSS idle and under load. Then,
// for both data planes, 0 failed requests while the instance set is switched 20 times under an
// open-loop 500 req/s. Needs `npm run build` and Debian's wrk, nginx and haproxy.
//
//   node bench/router/run.mjs [--rounds 3] [--duration 10] [--out services/router/docs/benchmarks.md]
//                             [--only nginx,node]   (quick look: direct + the named targets, no
//                                                    switching test, nothing written)
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
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
const opt = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const ROUNDS = Number(opt('rounds', 3));
const DURATION = Number(opt('duration', 10));
const ONLY = opt('only', '');
const OUT = ONLY ? '' : opt('out', '');
const here = import.meta.dirname;
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'rb-'));
const children = [];

for (const bin of ['wrk', 'nginx', 'haproxy']) {
  if (spawnSync('which', [bin]).status !== 0) {
    console.error(`bench/router: ${bin} is missing (bash scripts/setup-system.sh install --bench)`);
    process.exit(1);
  }
}

/** Starts a long-running child, remembered for cleanup. */
function start(cmd, argv, options = {}) {
  const child = spawn(cmd, argv, { stdio: ['ignore', 'ignore', 'inherit'], ...options });
  children.push(child);
  return child;
}

/** The fields of /proc/<pid>/stat after the command (state first, ppid second); undefined once gone. */
function statFields(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** Pid → parent pid, for every process. */
function parents() {
  const map = new Map();
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const f = statFields(d);
    if (f) map.set(Number(d), Number(f[1]));
  }
  return map;
}

/** `pid` and all its descendants, optionally only those whose command matches `name`. */
function tree(pid, name) {
  const pp = parents();
  const out = [pid];
  for (let i = 0; i < out.length; i++) for (const [c, p] of pp) if (p === out[i]) out.push(c);
  return name ? out.filter((p) => readComm(p) === name) : out;
}

function readComm(pid) {
  try {
    return fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
}

/** Resident memory (MiB) of `pids` together. */
function rssMiB(pids) {
  let kb = 0;
  for (const pid of pids) {
    try {
      kb += Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
    } catch {}
  }
  return kb / 1024;
}

/** CPU time (user + system, ms) used so far by `pids` together. */
function cpuMs(pids) {
  let ticks = 0;
  for (const pid of pids) {
    const f = statFields(pid);
    if (f) ticks += Number(f[11]) + Number(f[12]);
  }
  return (ticks * 1000) / CLK_TCK;
}
const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK']).stdout?.toString().trim()) || 100;

/** wrk latency value ("1.23ms", "850.00us", "1.02s") in ms. */
function ms(text) {
  const m = /([\d.]+)(us|ms|s)/.exec(text);
  if (!m) return Number.NaN;
  const v = Number(m[1]);
  return m[2] === 'us' ? v / 1000 : m[2] === 's' ? v * 1000 : v;
}

/** Runs wrk against `port`; samples `rssPids()` halfway and the CPU time of `cpuPids()`. */
async function wrk(port, rssPids, cpuPids) {
  let loadRss = 0;
  const cpuBefore = cpuMs(cpuPids());
  const timer = setTimeout(
    () => {
      loadRss = rssMiB(rssPids());
    },
    (DURATION * 1000) / 2,
  );
  const out = await new Promise((resolve) => {
    const child = spawn('wrk', [
      '-t1',
      '-c50',
      `-d${DURATION}s`,
      '--latency',
      '-H',
      `Host: ${HOST}`,
      `http://127.0.0.1:${port}/`,
    ]);
    let text = '';
    child.stdout.on('data', (b) => {
      text += b;
    });
    child.on('close', () => resolve(text));
  });
  clearTimeout(timer);
  const num = (re) => Number(re.exec(out)?.[1] ?? 0);
  return {
    rps: num(/Requests\/sec:\s+([\d.]+)/),
    p50: ms(/\s50%\s+(\S+)/.exec(out)?.[1] ?? ''),
    p99: ms(/\s99%\s+(\S+)/.exec(out)?.[1] ?? ''),
    errors:
      num(/Non-2xx or 3xx responses:\s+(\d+)/) +
      (/Socket errors: (.*)/.exec(out)?.[1] ?? '')
        .split(',')
        .reduce((n, p) => n + Number(/\d+/.exec(p)?.[0] ?? 0), 0),
    loadRss,
    // Proxy CPU per proxied request (µs): load-independent-ish, unlike throughput on a shared box.
    cpuUs: ((cpuMs(cpuPids()) - cpuBefore) * 1000) / Math.max(1, num(/(\d+) requests in/)),
  };
}

// --- the backend: nginx, one worker, a fixed small body, on two ports (two "instances") --------
const [b1, b2] = [await freePort(), await freePort()];
const backendDir = path.join(work, 'backend');
writeBackendConf(backendDir, [b1, b2]);
start('nginx', ['-p', backendDir, '-c', path.join(backendDir, 'nginx.conf')]);
await waitHttp(b1, HOST);

// --- nginx as the proxy ---------------------------------------------------------------------------
const nginxPort = await freePort();
const nginxDir = path.join(work, 'nginx');
writeNginxProxyConf(nginxDir, { port: nginxPort, backendPort: b1 });
const nginx = start('nginx', ['-p', nginxDir, '-c', path.join(nginxDir, 'nginx.conf')]);
await waitHttp(nginxPort, HOST);

// --- HAProxy configured by hand -------------------------------------------------------------------
const hapPort = await freePort();
const hapDir = path.join(work, 'haproxy');
writeByHandCfg(hapDir, { port: hapPort, backendPort: b1 });
const hap = start('haproxy', ['-db', '-f', path.join(hapDir, 'haproxy.cfg')], {
  stdio: ['ignore', 'ignore', 'inherit'],
});
await waitHttp(hapPort, HOST);

// --- HAProxy routing only (a reference, not a target): one single-thread process per CPU on one port -----------
const barePort = await freePort();
const bareCfg = writeBareCfg(path.join(work, 'bare'), { port: barePort, backendPort: b1 });
const bare = os.cpus().map(() => start('haproxy', ['-db', '-f', bareCfg]));
await waitHttp(barePort, HOST);

// --- our router, both data planes -----------------------------------------------------------------
/** Starts router-proc.mjs with `dataplane`; resolves with its port, process and a switch function. */
async function startOurs(dataplane) {
  const dataDir = path.join(work, `ours-${dataplane}`);
  fs.mkdirSync(dataDir, { recursive: true });
  const { port, child } = await startRouterProc({ dataDir, dataplane, upstreams: [`127.0.0.1:${b1}`] });
  children.push(child);
  const setUpstreams = (upstreams) =>
    new Promise((resolve) => {
      child.once('message', resolve);
      child.send({ upstreams });
    });
  // RSS: haproxy plane, the HAProxy processes; node plane, the router and its worker processes.
  const rssPids = () => (dataplane === 'haproxy' ? tree(child.pid, 'haproxy') : tree(child.pid));
  // CPU counts the router's own process too (haproxy plane: it reads the access log).
  const cpuPids = () => tree(child.pid);
  return { port, child, setUpstreams, rssPids, cpuPids };
}
const oursNode = await startOurs('node');
const oursHap = await startOurs('haproxy');

const allTargets = [
  { key: 'direct', name: 'direct', port: b1, rssPids: () => [], cpuPids: () => [] },
  {
    key: 'nginx',
    name: 'nginx',
    port: nginxPort,
    rssPids: () => tree(nginx.pid),
    cpuPids: () => tree(nginx.pid),
  },
  {
    key: 'byhand',
    name: 'haproxy (by hand)',
    port: hapPort,
    rssPids: () => tree(hap.pid),
    cpuPids: () => tree(hap.pid),
  },
  { key: 'haproxy', name: 'ours: haproxy plane', ...oursHap },
  { key: 'node', name: 'ours: node plane', ...oursNode },
  {
    key: 'bare',
    name: 'haproxy (routing only)',
    port: barePort,
    rssPids: () => bare.flatMap((c) => tree(c.pid)),
    cpuPids: () => bare.flatMap((c) => tree(c.pid)),
  },
];
const targets = ONLY
  ? allTargets.filter((t) => t.key === 'direct' || ONLY.split(',').includes(t.key))
  : allTargets;
for (const t of targets) {
  t.runs = [];
  t.idleRss = rssMiB(t.rssPids());
}
console.log(
  `bench/router: ${ROUNDS} rounds × ${targets.length} targets × wrk -t1 -c50 -d${DURATION}s, ${os.cpus().length} CPUs`,
);
// Each round runs every target once, in an order rotated by one each round: no target always
// follows the same one (the machine's state after a run moves the next one), and every ratio is
// also taken within each round (below), where slow drift of the host cancels out.
for (let round = 1; round <= ROUNDS; round++) {
  const shift = (round - 1) % targets.length;
  for (const t of [...targets.slice(shift), ...targets.slice(0, shift)]) {
    const r = await wrk(t.port, t.rssPids, t.cpuPids);
    t.runs.push(r);
    console.log(
      `  round ${round} ${t.name.padEnd(20)} ${r.rps.toFixed(0).padStart(7)} req/s  p50 ${r.p50.toFixed(2)} ms  p99 ${r.p99.toFixed(2)} ms  CPU ${r.cpuUs.toFixed(0)} µs/req  errors ${r.errors}`,
    );
  }
}

const f = (x, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : '–');

/** Stops every child, removes the work dir and exits. */
async function cleanup() {
  for (const c of children.reverse()) c.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 1500));
  fs.rmSync(work, { recursive: true, force: true });
  process.exit(0);
}

/** Median of numbers. */
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
for (const t of targets) {
  t.rps = median(t.runs.map((r) => r.rps));
  t.p50 = median(t.runs.map((r) => r.p50));
  t.p99 = median(t.runs.map((r) => r.p99));
  t.loadRss = Math.max(...t.runs.map((r) => r.loadRss));
  t.cpuUs = median(t.runs.map((r) => r.cpuUs));
  t.errors = t.runs.reduce((n, r) => n + r.errors, 0);
}
const direct = targets[0];
const ngx = targets.find((t) => t.key === 'nginx') ?? direct;
// Against nginx, round by round (runs[i] of every target are of round i): the median of those
// ratios, and their range — how far one round can move the comparison on this machine.
for (const t of targets) {
  const ratios = t.runs.map((r, i) => r.rps / ngx.runs[i].rps);
  const p99s = t.runs.map((r, i) => r.p99 / ngx.runs[i].p99);
  t.vsNginx = median(ratios);
  t.vsNginxRange = [Math.min(...ratios), Math.max(...ratios)];
  t.p99VsNginx = median(p99s);
}
/** What the quick look's ratios compare to: nginx, or direct when --only left nginx out. */
const base = ngx === direct ? 'direct' : 'nginx';
if (ONLY) {
  for (const t of targets)
    console.log(
      `${t.name.padEnd(20)} ${f(t.rps, 0).padStart(7)} req/s  ${f(t.vsNginx)}× ${base} (rounds ${f(t.vsNginxRange[0])}–${f(t.vsNginxRange[1])})  p99 ${f(t.p99)} ms  CPU ${f(t.cpuUs, 0)} µs/req`,
    );
  await cleanup();
}

// --- switching under load -------------------------------------------------------------------------
/** Sends `rate` req/s (open loop) while switching upstreams `switches` times; counts failures. */
async function switchTest(ours, rate = 500, switches = 20, everyMs = 250) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  let sent = 0;
  let failed = 0;
  let done = 0;
  const fire = () => {
    sent++;
    const req = http.get(
      { host: '127.0.0.1', port: ours.port, path: '/', headers: { host: HOST }, agent },
      (res) => {
        res.resume();
        res.on('end', () => {
          done++;
          if (res.statusCode !== 200) failed++;
        });
      },
    );
    req.on('error', () => {
      done++;
      failed++;
    });
  };
  const interval = 1000 / rate;
  const t0 = performance.now();
  let stop = false;
  const loop = (async () => {
    while (!stop) {
      const due = Math.floor((performance.now() - t0) / interval);
      while (sent < due) fire();
      await new Promise((r) => setTimeout(r, 1));
    }
  })();
  await new Promise((r) => setTimeout(r, 500));
  for (let i = 0; i < switches; i++) {
    await ours.setUpstreams([`127.0.0.1:${i % 2 === 0 ? b2 : b1}`]);
    await new Promise((r) => setTimeout(r, everyMs));
  }
  await new Promise((r) => setTimeout(r, 500));
  stop = true;
  await loop;
  while (done < sent) await new Promise((r) => setTimeout(r, 20));
  agent.destroy();
  const seconds = (performance.now() - t0) / 1000;
  return { sent, failed, rate: sent / seconds };
}
const switching = [
  ['ours: haproxy plane', await switchTest(oursHap)],
  ['ours: node plane', await switchTest(oursNode)],
];

// --- report ---------------------------------------------------------------------------------------
const rows = targets.map(
  (t) =>
    `| ${t.name} | ${f(t.rps, 0)} | ${f(t.rps / direct.rps)}× | ${f(t.vsNginx)}× (${f(t.vsNginxRange[0])}–${f(t.vsNginxRange[1])}) | ${f(t.p50)} | ${f(t.p99)} | ${f(t.p99VsNginx)}× | ${t.name === 'direct' ? '–' : f(t.cpuUs, 0)} | ${t.name === 'direct' ? '–' : f(t.idleRss, 1)} | ${t.name === 'direct' ? '–' : f(t.loadRss, 1)} | ${t.errors} |`,
);
const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
const table = [
  '| target | req/s (median) | vs direct | vs nginx (range over rounds) | p50 ms | p99 ms | p99 vs nginx | proxy CPU µs/req | RSS idle MiB | RSS load MiB | errors |',
  '|---|---|---|---|---|---|---|---|---|---|---|',
  ...rows,
].join('\n');
const switchTable = [
  '| data plane | requests | failed | offered rate |',
  '|---|---|---|---|',
  ...switching.map(([n, s]) => `| ${n} | ${s.sent} | ${s.failed} | ${f(s.rate, 0)} req/s |`),
].join('\n');
console.log(`\n${table}\n\nswitching the instance set 20 times under load:\n\n${switchTable}\n`);
const verdict = [
  `haproxy plane throughput ${f(targets[3].vsNginx)}× nginx (target ≥ 1.0; rounds ${f(targets[3].vsNginxRange[0])}–${f(targets[3].vsNginxRange[1])}), p99 ${f(targets[3].p99VsNginx)}× nginx's (target ≤ 1.0; medians ${f(targets[3].p99)} ms and ${f(ngx.p99)} ms)`,
  `haproxy by hand, for reference: ${f(targets[2].vsNginx)}× nginx (rounds ${f(targets[2].vsNginxRange[0])}–${f(targets[2].vsNginxRange[1])})`,
  `node plane throughput ${f(targets[4].vsNginx)}× nginx (target ≥ 0.5; rounds ${f(targets[4].vsNginxRange[0])}–${f(targets[4].vsNginxRange[1])})`,
  `haproxy routing only (default settings, no header, request id, log or rule; a reference, doing less than the router must): ${f(targets[5].vsNginx)}× nginx (rounds ${f(targets[5].vsNginxRange[0])}–${f(targets[5].vsNginxRange[1])})`,
];
console.log(verdict.join('\n'));
if (OUT) {
  const md = `# Router benchmarks

Measured ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC on ${os.cpus().length} × ${cpu}, load generator,
proxy and backend sharing the cores. Command:

\`\`\`sh
npm run build && node bench/router/run.mjs --rounds ${ROUNDS} --duration ${DURATION}
\`\`\`

Each target gets \`wrk -t1 -c50 -d${DURATION}s --latency -H 'Host: ${HOST}'\` once a round, ${ROUNDS} rounds, the order
rotated by one each round. req/s, p50 and p99 are medians over the rounds; "vs nginx" is the median
of the ratios taken within each round (the range in brackets), "vs direct" a ratio of medians. The backend is the same nginx (one worker, \`return 200\` of a 23-byte body)
for every target. nginx runs \`worker_processes auto\` with a keep-alive upstream and Host routing;
HAProxy (by hand) runs its defaults (one thread per CPU) with a host map; HAProxy (routing
only) is one single-thread process per CPU doing nothing but Host routing (no forwarding header,
request id, log or rule: what HAProxy costs before the behaviour the router must have); "ours" is the PaaSTech
router fed by a paastech.routing.v1 contract server, writing its access log to a file (haproxy
plane: HAProxy writes each line into a ring it keeps in a file in /dev/shm, the router reads that
file every 50 ms, counts the lines and appends them to the file; node plane: batched writes). nginx writes its access log too, a JSON line of the fields of ours (buffered, 64 KiB / 1 s); HAProxy by
hand logs every request to stdout (/dev/null). RSS is of the proxy processes (for our
haproxy plane: the HAProxy processes; the router's own Node process is not included), idle and
sampled mid-run. "Proxy CPU" is the user + system CPU time of the proxy's processes (for ours:
the router process and its HAProxy) during the run divided by the requests wrk completed — the
figure least moved by other load on the machine.

${table}

Switching the instance set (a new snapshot from the contract server, alternating between two
backend ports) 20 times, every 250 ms, under an open-loop load of about 500 req/s:

${switchTable}

${verdict.map((v) => `- ${v}`).join('\n')}
`;
  fs.writeFileSync(OUT, md);
  console.log(`wrote ${OUT}`);
}

// The load-independent view (its own processes; ours are idle by now): instructions per request
// of HAProxy by hand and of our configuration.
if (!ONLY && spawnSync('which', ['valgrind']).status === 0) {
  spawnSync(process.execPath, [path.join(here, 'instructions.mjs')], { stdio: 'inherit' });
}
await cleanup();
