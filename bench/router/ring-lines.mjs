#!/usr/bin/env node
// Router benchmark of the haproxy plane's access-log path alone (not a test): what one access line
// costs the router's Node process — read from a ring stream (RingFollower: the plane's fallback
// when HAProxy's ring file is not 2.6's layout; ringfile.ts reads the file itself), scanned and counted
// (accessLogSink, TrafficStats) and appended to access.log (AccessLogWriter), the code the plane
// runs. A child process plays HAProxy's CLI (`show info`, then the lines as fast as they are read),
// so no HAProxy, wrk or backend shares the CPU. Needs `npm run build`.
//
//   node bench/router/ring-lines.mjs [--lines 1000000]          CPU µs per line (moves with load)
//   node bench/router/ring-lines.mjs --callgrind [--lines 100000]
//       instructions per line under valgrind's callgrind: (I(2N) − I(N)) / N, a figure that does
//       not move with the load of the machine (the child is not counted)
//
// The lines are ACCESS_LOG_FORMAT's, as HAProxy fills it for the bench route (status 200, a short
// host); a few 404s of an unknown host are mixed in.
import { fork, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

const dist = path.join(import.meta.dirname, '../../services/router/dist');
const args = process.argv.slice(2);
const opt = (name, fallback) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : fallback);
const self = new URL(import.meta.url).pathname;

/** The text of `n` access lines cycling through a few requests ids, hosts and statuses. */
function sampleLines(n) {
  const out = [];
  for (let i = 0; i < n; i++) {
    const unknown = i % 50 === 49;
    out.push(
      `{"time":${1795921127794 + i},"project":"${unknown ? '-' : 'bench'}","method":"GET","status":${unknown ? 404 : 200},"bytes":146,"bytesIn":52,"durationMs":${i % 4},"upstream":"${unknown ? '<NOSRV>' : '127.0.0.1:38047'}","requestId":"9f86d081e4-${23326 + i}","termination":"${unknown ? 'LR--' : '----'}","host":"${unknown ? 'nowhere.test' : 'bench.apps.test'}"}\n`,
    );
  }
  return out.join('');
}

if (args[0] === '--serve') {
  // The child: a fake HAProxy CLI streaming `total` lines to the first connection.
  const [, socketPath, total] = args;
  const chunk = Buffer.from(sampleLines(1000), 'latin1');
  const server = net.createServer((c) => {
    c.on('error', () => undefined);
    c.once('data', () => {
      c.write('Name: HAProxy\nPid: 4242\n\n');
      let sent = 0;
      const pump = () => {
        while (sent < Number(total)) {
          sent += 1000;
          if (!c.write(chunk)) return void c.once('drain', pump);
        }
        c.end();
      };
      pump();
    });
  });
  server.listen(socketPath, () => process.send?.('up'));
} else if (args.includes('--callgrind')) {
  // Runs itself twice under callgrind (N and 2N lines) and prints the difference per line.
  const n = opt('--lines', 100_000);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'ring-lines-cg-'));
  const run = (lines) => {
    const out = path.join(work, `callgrind.${lines}`);
    const r = spawnSync(
      'valgrind',
      ['--tool=callgrind', `--callgrind-out-file=${out}`, process.execPath, self, '--lines', String(lines)],
      {
        encoding: 'utf8',
      },
    );
    if (r.status !== 0) throw new Error(`callgrind run failed: ${r.stderr.slice(-2000)}`);
    const m = /^(?:summary|totals): (\d+)/m.exec(fs.readFileSync(out, 'utf8'));
    if (!m) throw new Error(`no callgrind totals in ${out}`);
    return Number(m[1]);
  };
  const one = run(n);
  const two = run(2 * n);
  fs.rmSync(work, { recursive: true, force: true });
  console.log(
    `router access-log path: ${Math.round((two - one) / n)} instructions per line (callgrind, ${n} and ${2 * n} lines)`,
  );
} else {
  const total = opt('--lines', 1_000_000);
  const { RingFollower } = await import(`${dist}/haproxy/ring.js`);
  const { accessLogSink } = await import(`${dist}/haproxy/plane.js`);
  const { TrafficStats } = await import(`${dist}/stats.js`);
  const { AccessLogWriter } = await import(`${dist}/accesslog.js`);
  const { RouteTable } = await import(`${dist}/routes.js`);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'ring-lines-'));
  const socketPath = path.join(work, 'cli.sock');
  const child = fork(self, ['--serve', socketPath, String(total)], { stdio: 'inherit' });
  await new Promise((r) => child.once('message', r));
  const writer = new AccessLogWriter(path.join(work, 'access.log'));
  const stats = new TrafficStats(writer);
  const table = new RouteTable();
  table.replace([
    {
      projectId: 'bench',
      projectName: 'bench',
      hostnames: ['bench.apps.test'],
      upstreamAddresses: ['127.0.0.1:1'],
      unavailableReason: 0,
      unavailableMessage: '',
      httpsRedirect: false,
      deploymentNumber: 1,
    },
  ]);
  const silent = { warn() {}, info() {}, error() {}, debug() {} };
  const counted = () => Object.values(stats.snapshot().projects).reduce((n, c) => n + c.requests, 0);
  const cpu0 = process.cpuUsage();
  const follower = new RingFollower(
    socketPath,
    'access',
    accessLogSink(table, stats),
    async () => 4242,
    () => [],
    silent,
  );
  follower.attach();
  while (counted() < total) await new Promise((r) => setTimeout(r, 5));
  writer.close();
  const cpu = process.cpuUsage(cpu0);
  follower.close();
  child.kill();
  fs.rmSync(work, { recursive: true, force: true });
  const n = counted();
  console.log(
    `router access-log path: ${((cpu.user + cpu.system) / n).toFixed(3)} µs CPU per line (user ${(cpu.user / n).toFixed(3)}, system ${(cpu.system / n).toFixed(3)}; ${n} lines)`,
  );
  process.exit(0);
}
