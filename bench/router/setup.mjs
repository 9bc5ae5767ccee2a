// What bench/router's scripts share: free ports, waiting for HTTP, and the configurations of the
// backend (nginx) and of HAProxy configured by hand, so every script measures the same things.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';

/** The Host header every benchmarked route answers. */
export const HOST = 'bench.apps.test';

/** A free loopback port. */
export function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Resolves once `port` answers HTTP for Host `host` with `status`. */
export async function waitHttp(port, host, status = 200, timeoutMs = 15_000) {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    const got = await new Promise((resolve) => {
      const req = http.get({ host: '127.0.0.1', port, path: '/', headers: { host }, agent: false }, (res) => {
        res.resume();
        resolve(res.statusCode);
      });
      req.on('error', () => resolve(0));
    });
    if (got === status) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`port ${port} did not answer ${status} for ${host}`);
}

/** Writes `<dir>/nginx.conf` of the backend: one worker, a fixed small body on each of `ports`. */
export function writeBackendConf(dir, ports) {
  fs.mkdirSync(path.join(dir, 'logs'), { recursive: true });
  const servers = ports
    .map((p) => `  server { listen 127.0.0.1:${p}; location / { return 200 "hello from the backend\\n"; } }`)
    .join('\n');
  const file = path.join(dir, 'nginx.conf');
  fs.writeFileSync(
    file,
    `worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
${servers}
}
`,
  );
  return file;
}

/**
 * The access line nginx writes: the fields of ours (services/router: project, method, status,
 * bytes, bytes in, duration, upstream, request id, host; JSON-escaped), the project looked up from
 * the host as the router does. Not nginx's `combined` format: it holds neither the project, the
 * duration, the upstream nor the request id the router's line must have, and costs nginx ~3,000
 * fewer instructions a request (`bench/router/instructions.mjs`) — nginx configured equivalently
 * logs what the router logs. Not exactly the same work, in either direction: `escape=json` escapes
 * every field (~640 instructions more than `escape=none`) where ours escapes only a host no route
 * has, and nginx has no field for ours' `termination` (~600 with `$upstream_status` in its place):
 * the two cancel within ~50. nginx's `$msec` and `$request_time` are seconds (ms resolution).
 */
const NGINX_ACCESS_LINE =
  `'{"time":$msec,"project":"$project","method":"$request_method","status":$status,"bytes":$bytes_sent,` +
  `"bytesIn":$request_length,"durationMs":$request_time,"upstream":"$upstream_addr","requestId":"$request_id",` +
  `"host":"$host"}'`;

/**
 * Writes `<dir>/nginx.conf` of nginx as the proxy: Host routing, a keep-alive upstream, the same
 * forwarding headers, request id, body limit (100 MiB) and access-line fields as ours, the access
 * log buffered (64 KiB / 1 s). One worker per CPU; `single`: one process, no master (for valgrind).
 */
export function writeNginxProxyConf(dir, { port, backendPort, single = false }) {
  fs.mkdirSync(path.join(dir, 'logs'), { recursive: true });
  const file = path.join(dir, 'nginx.conf');
  fs.writeFileSync(
    file,
    `${single ? 'master_process off;\nworker_processes 1;' : 'worker_processes auto;'}
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  map $host $project { default "-"; ${HOST} bench; }
  log_format line escape=json ${NGINX_ACCESS_LINE};
  access_log ${dir}/access.log line buffer=64k flush=1s;
  keepalive_requests 1000000;
  client_max_body_size 100m;
  upstream bench { server 127.0.0.1:${backendPort}; keepalive 64; }
  server { listen 127.0.0.1:${port} default_server; return 404; }
  server {
    listen 127.0.0.1:${port};
    server_name ${HOST};
    location / {
      proxy_pass http://bench;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $remote_addr;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Forwarded-Host $host;
      proxy_set_header X-Forwarded-Port $server_port;
      proxy_set_header X-Request-Id $request_id;
      proxy_buffering off;
    }
  }
}
`,
  );
  return file;
}

/**
 * Writes `<dir>/haproxy.cfg` of HAProxy configured by hand: Host routing through a map, the same
 * forwarding headers and request id as ours, the stock HTTP log (to `log`: 'stdout' or 'none').
 */
export function writeByHandCfg(dir, { port, backendPort, log = 'stdout', extraGlobal = [] }) {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'hosts.map'), `${HOST} bench\n`);
  const logging = log === 'stdout' ? ['  log global', '  option httplog'] : [];
  const file = path.join(dir, 'haproxy.cfg');
  fs.writeFileSync(
    file,
    [
      'global',
      ...(log === 'stdout' ? ['  log stdout format raw local0 info'] : []),
      ...extraGlobal,
      'defaults',
      '  mode http',
      ...logging,
      '  timeout connect 5s',
      '  timeout client 30s',
      '  timeout server 60s',
      '  timeout http-request 10s',
      '  timeout http-keep-alive 30s',
      'frontend edge',
      `  bind 127.0.0.1:${port}`,
      '  unique-id-format %{+X}o%pid-%Ts-%rt',
      '  http-request set-header X-Forwarded-For %[src]',
      '  http-request set-header X-Forwarded-Proto http',
      '  http-request set-header X-Forwarded-Host %[req.hdr(host)]',
      '  http-request set-header X-Forwarded-Port %[dst_port]',
      '  http-request set-header X-Request-Id %[unique-id]',
      `  use_backend %[req.hdr(host),field(1,:),lower,map(${dir}/hosts.map)]`,
      'backend bench',
      '  balance leastconn',
      `  server b1 127.0.0.1:${backendPort}`,
      '',
    ].join('\n'),
  );
  return file;
}

/**
 * Writes `<dir>/haproxy.cfg` of HAProxy doing nothing but Host routing (one thread; run one
 * process per CPU on the port): no forwarding headers, no request id, no access log, no rule —
 * what HAProxy with its default settings costs before any of the behaviour the router must have
 * (a reference for the router's rules, not a target).
 */
export function writeBareCfg(dir, { port, backendPort }) {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'hosts.map'), `${HOST} bench\n`);
  const file = path.join(dir, 'haproxy.cfg');
  fs.writeFileSync(
    file,
    [
      'global',
      '  nbthread 1',
      'defaults',
      '  mode http',
      '  timeout connect 5s',
      '  timeout client 30s',
      '  timeout server 60s',
      'frontend edge',
      `  bind 127.0.0.1:${port}`,
      `  use_backend %[req.hdr(host),lower,map(${dir}/hosts.map)]`,
      'backend bench',
      `  server b1 127.0.0.1:${backendPort}`,
      '',
    ].join('\n'),
  );
  return file;
}

/**
 * Starts router-proc.mjs (a routing contract server and our router with `dataplane`) serving HOST
 * from `upstreams`; resolves with its port and process once it answers.
 */
export async function startRouterProc({ dataDir, dataplane, upstreams, nodeArgs = [], env = {} }) {
  fs.mkdirSync(dataDir, { recursive: true });
  const child = spawn(process.execPath, [...nodeArgs, path.join(import.meta.dirname, 'router-proc.mjs')], {
    env: {
      ...process.env,
      PAASTECH_DATA_DIR: dataDir,
      PAASTECH_ROUTER_PORT: '0',
      PAASTECH_ROUTER_DATAPLANE: dataplane,
      PAASTECH_APPS_DOMAIN: 'apps.test',
      BENCH_UPSTREAMS: JSON.stringify(upstreams),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
  });
  const port = await new Promise((resolve, reject) => {
    let text = '';
    child.stdout.on('data', (b) => {
      text += b;
      const m = /ready (\d+)/.exec(text);
      if (m) resolve(Number(m[1]));
    });
    child.on('exit', (code) => reject(new Error(`router (${dataplane}) exited with ${code}`)));
  });
  await waitHttp(port, HOST);
  return { port, child };
}
