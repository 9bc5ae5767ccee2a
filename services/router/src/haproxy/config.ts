// Generates everything the haproxy data plane hands HAProxy: haproxy.cfg, the Lua hop-by-hop
// filter, page templates (from pages.ts) and the map files that route hosts to backends.
//
// Invariant: the generated files describe the whole current state (slots, servers, maps), so an
// HAProxy started or reloaded from them serves exactly what the runtime API had set.
import path from 'node:path';
import type { RouterConfig } from '../config.js';
import { FORWARDING, HOP_BY_HOP } from '../headers.js';
import {
  badGatewayPage,
  badRequestPage,
  type ErrorPage,
  gatewayTimeoutPage,
  notFoundPage,
  renderHtml,
  renderJson,
  tooLargePage,
  unavailablePage,
} from '../pages.js';
import type { RouteEntry } from '../routes.js';

/** Files of one HAProxy process of the plane (its configuration, Runtime API socket and pid file). */
export interface HaproxyProcessPaths {
  config: string;
  socket: string;
  pidFile: string;
}

/** Paths of the files under `<dataDir>/router/`. */
export interface HaproxyPaths {
  dir: string;
  /** The files of HAProxy process `index` (0: haproxy.cfg, haproxy.sock; 1: haproxy.1.cfg, …). */
  process(index: number): HaproxyProcessPaths;
  lua: string;
  /** Self-signed certificate served to clients naming no host we have a certificate for. */
  fallbackCert: string;
  maps: {
    hosts: string;
    names: string;
    html503: string;
    json503: string;
    p502: string;
    p504: string;
    redirect: string;
  };

  pages: string;
}

/** The layout of the haproxy data plane's directory. */
export function haproxyPaths(dataDir: string): HaproxyPaths {
  const dir = path.join(dataDir, 'router');
  const map = (name: string) => path.join(dir, 'maps', `${name}.map`);
  return {
    dir,
    process(index) {
      const stem = index === 0 ? 'haproxy' : `haproxy.${index}`;
      return {
        config: path.join(dir, `${stem}.cfg`),
        socket: path.join(dir, `${stem}.sock`),
        pidFile: path.join(dir, `${stem}.pid`),
      };
    },
    lua: path.join(dir, 'hop-by-hop.lua'),
    fallbackCert: path.join(dir, 'fallback.pem'),
    maps: {
      hosts: map('hosts'),
      names: map('names'),
      html503: map('html503'),
      json503: map('json503'),
      p502: map('p502'),
      p504: map('p504'),
      redirect: map('redirect'),
    },
    pages: path.join(dir, 'pages'),
  };
}

/** Backend of the hosts of projects with no healthy instance. */
export const UNAVAILABLE_BACKEND = 'unavailable';

/**
 * Server name of an instance address: the address itself when HAProxy allows it as a name
 * ([A-Za-z0-9_.:-], so any IPv4 `ip:port`) — the access line's upstream is then the name (`%s`,
 * a string copy; `%si:%sp` formats the address anew for every line); else a `u_` name of it.
 */
export function serverName(address: string): string {
  return /^[A-Za-z0-9][A-Za-z0-9_.:-]*$/.test(address)
    ? address
    : `u_${address.replace(/[^A-Za-z0-9]/g, '_')}`;
}

/** A project name safe to print unescaped in HTML, JSON and log-format text. */
export function safeName(name: string): string {
  return /^[a-z0-9][a-z0-9-]{0,62}$/.test(name) ? name : 'this project';
}

/** One line of map content: the value is HTML/JSON on one line. */
function oneLine(text: string): string {
  return text.replace(/[\r\n]+/g, ' ').trim();
}

/** The five maps' content for the current routes and slot assignment. */
export function mapEntries(
  routes: RouteEntry[],
  slotOf: (projectId: string) => string | undefined,
  tls: boolean,
): Record<keyof HaproxyPaths['maps'], Array<[string, string]>> {
  const out: Record<keyof HaproxyPaths['maps'], Array<[string, string]>> = {
    hosts: [],
    names: [],
    html503: [],
    json503: [],
    p502: [],
    p504: [],
    redirect: [],
  };
  for (const r of routes) {
    const slot = slotOf(r.projectId);
    const name = safeName(r.projectName);
    for (const host of r.hostnames) {
      if (!/^[a-z0-9.-]+$/.test(host)) continue;
      out.names.push([host, name]);
      if (tls && r.httpsRedirect) out.redirect.push([host, '1']);
      if (slot && r.upstreams.length > 0) {
        out.hosts.push([host, slot]);
        // Keys "<host>|" (HTML) and "<host>|json" (Accept: application/json), see the slot backends.
        for (const [map, page] of [
          [out.p502, badGatewayPage(name)],
          [out.p504, gatewayTimeoutPage(name)],
        ] as const) {
          map.push([`${host}|`, oneLine(renderHtml(page))], [`${host}|json`, oneLine(renderJson(page))]);
        }
        continue;
      }
      const page = unavailablePage({ ...r, projectName: name });
      out.hosts.push([host, UNAVAILABLE_BACKEND]);
      out.html503.push([host, oneLine(renderHtml(page))]);
      out.json503.push([host, oneLine(renderJson(page))]);
    }
  }
  return out;
}

/** Map file text for `entries`. */
export function mapFile(entries: Array<[string, string]>): string {
  return entries.map(([k, v]) => `${k} ${v}\n`).join('');
}

/** Escapes literal text for a log-format string (HAProxy expands `%`). */
function lfEscape(text: string): string {
  return text.replace(/%/g, '%%');
}

const HOST_MARK = 'HOSTNAMEMARK';

/** Renders a page to a log-format template, with markers replaced by HAProxy expressions. */
function template(render: (p: ErrorPage) => string, page: ErrorPage, subst: Record<string, string>): string {
  let text = lfEscape(oneLine(render(page)));
  for (const [mark, expr] of Object.entries(subst)) text = text.split(mark).join(expr);
  return `${text}\n`;
}

/** Complete HTTP response for an errorfile (HAProxy sends it as is). */
function errorfile(page: ErrorPage): string {
  const body = renderHtml(page);
  return `HTTP/1.1 ${page.status} ${page.title}\r\ncontent-type: text/html; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\ncache-control: no-store\r\nconnection: close\r\n\r\n${body}`;
}

/** Files under pages/: log-format templates and errorfiles, by file name. */
export function pageFiles(config: RouterConfig, paths: HaproxyPaths, port: number): Record<string, string> {
  const byHost = (file: string) => `%[var(txn.host),concat(|,txn.fmt,),map(${file})]\n`;
  const host = { [HOST_MARK]: '%[var(txn.shown)]' };
  const nf = notFoundPage(HOST_MARK, config.appsDomain, port);
  const files: Record<string, string> = {
    '404.html.lf': template(renderHtml, nf, host),
    '404.json.lf': template(renderJson, nf, host),
    '502.lf': byHost(paths.maps.p502),
    '504.lf': byHost(paths.maps.p504),
    '400.http': errorfile(badRequestPage('The request is malformed or ambiguous (request smuggling).')),
    '408.http': errorfile({
      status: 408,
      title: 'Request timeout',
      detail: 'The request took too long to arrive.',
      hint: 'Send the whole request promptly.',
    }),
    '413.http': errorfile(tooLargePage(config.maxBodyBytes)),
  };
  // HAProxy answers 422 to a Transfer-Encoding it does not accept: refuse it with 400 as the node
  // plane does (errorfiles are sent as they are, status line included).
  files['422.http'] = files['400.http'] as string;
  return files;
}

/**
 * Request headers the generated rules remove: hop-by-hop and client-sent forwarding ones, and the
 * underscore spellings of the hop-by-hop ones HAProxy manages itself (CGI-style servers read
 * Transfer_Encoding as the real Transfer-Encoding, which HAProxy keeps to itself).
 */
function requestDrop(): { hop: string[]; forwarding: string[]; underscored: string[] } {
  // HAProxy manages Connection and Transfer-Encoding on each side itself; Upgrade is the Lua action's.
  const managed = ['connection', 'upgrade', 'transfer-encoding'];
  const hop = [...HOP_BY_HOP].filter((h) => !managed.includes(h));
  const underscored = managed.filter((h) => h.includes('-')).map((h) => h.replaceAll('-', '_'));
  return { hop, forwarding: [...FORWARDING], underscored };
}

/** A Lua table literal that maps each of `names` to true. */
function luaSet(names: string[]): string {
  return `{ ${names.map((h) => `["${h}"] = true`).join(', ')} }`;
}

/** The Lua actions that apply the hop-by-hop rules HAProxy does not apply itself. */
export function luaScript(): string {
  const keep = ['host', 'content-length', 'transfer-encoding', 'upgrade', 'connection', ...FORWARDING];
  const { hop, forwarding, underscored } = requestDrop();
  return `-- Generated by the PaaSTech router: hop-by-hop header rules HAProxy does not apply itself.
local keep = ${luaSet(keep)}
local hop = ${luaSet(hop)}
local forwarding = ${luaSet(forwarding)}
local underscored = ${luaSet(underscored)}

-- Deletes the headers a Connection header names (never the kept ones). Returns whether it names upgrade.
-- Tokens are split at commas only, as HAProxy's parser and the node plane do: "foo upgrade" is one
-- (malformed) token, never an upgrade.
local function strip(headers, del)
  local conn = headers["connection"]
  if conn == nil then return false end
  local upgrade = false
  for _, value in pairs(conn) do
    for token in string.gmatch(value, "[^,]+") do
      local name = string.lower((string.gsub(token, "^%s*(.-)%s*$", "%1")))
      if name == "upgrade" then
        upgrade = true
      elseif name ~= "" and not keep[name] then
        del(name)
      end
    end
  end
  return upgrade
end

-- Whether a header's values hold something other than spaces.
local function present(values)
  if values == nil then return false end
  for _, value in pairs(values) do
    if string.find(value, "%S") then return true end
  end
  return false
end

-- A request asks for an upgrade only with "Connection: upgrade" and an Upgrade header (RFC 9110
-- §7.8); anything else is a plain request and neither header is forwarded. For an upgrade,
-- txn.upgrade tells the response rules to close the connection unless the instance answers 101,
-- and haproxy.cfg's del-header rule (which deletes Upgrade) is skipped: the hop-by-hop and
-- forwarding headers it deletes are deleted here instead.
core.register_action("strip_req", { "http-req" }, function(txn)
  local h = txn.http
  local headers = h:req_get_headers()
  local del = function(n) h:req_del_header(n) end
  if strip(headers, del) and present(headers["upgrade"]) then
    h:req_set_header("connection", "upgrade")
    for name in pairs(headers) do
      local dashed = (string.gsub(name, "_", "-"))
      if hop[dashed] or forwarding[dashed] or underscored[name] then del(name) end
    end
    txn:set_var("txn.upgrade", true)
  else
    del("connection")
    del("upgrade")
  end
end)

-- HAProxy manages keep-alive and close on each side on its own: a response's Connection header
-- is deleted, unless it carries an upgrade.
core.register_action("strip_res", { "http-res" }, function(txn)
  local h = txn.http
  if strip(h:res_get_headers(), function(n) h:res_del_header(n) end) then
    h:res_set_header("connection", "upgrade")
  else
    h:res_del_header("connection")
  end
end)
`;
}

/**
 * One JSON line per request; every free-text value is JSON-escaped or a safe project name. Only
 * fields that vary (no constant ones such as a level or a component: every byte of a line is copied
 * into the ring, over the Runtime API, into the router and into access.log). The router
 * writes these lines to access.log as HAProxy made them and reads the counters' fields with a strict
 * scanner (`scanAccessLine` in ring.ts) that expects exactly this order: change both together. The
 * host, the only free text, comes last. Each field costs HAProxy instructions per request
 * (bench/router/instructions.mjs); router.md lists what each one costs and why it is kept.
 */
export const ACCESS_LOG_FORMAT = [
  // Milliseconds since the epoch, from HAProxy's own clock fields (cheaper than a date() fetch).
  '{"time":%Ts%ms',
  '"project":"%[var(txn.host),map(NAMES)]"',
  '"method":"%HM"',
  '"status":%ST',
  '"bytes":%B',
  '"bytesIn":%U',
  '"durationMs":%Ta',
  // The server's name: its address (serverName), or <NOSRV> when no server was tried.
  '"upstream":"%s"',
  '"requestId":"%ID"',
  '"termination":"%tsc"',
  // Raw for a routed host (a map key: [a-z0-9.-] only); JSON-escaped in the frontend otherwise.
  '"host":"%[var(txn.host)]"}',
].join(',');

/** The ring HAProxy writes access-log lines into (read by the router: ringfile.ts, ring.ts). */
export const ACCESS_RING = 'access';
/**
 * Its size, the file's header included, in each HAProxy process (one thread each, one per CPU):
 * ~1.5 s of lines at 15k req/s — half of 30k req/s, what two processes on two CPUs share — with
 * ~350-byte lines (a short host name), against a router that reads it every 50 ms. Each HAProxy
 * worker alive has one, all of it allocated (in /dev/shm: memory): a reloaded worker keeps its file
 * until it has exited (hard-stop-after bounds that).
 */
export const ACCESS_RING_BYTES = 8 * 1024 * 1024;
/** Longest line kept whole (a host name of 253 characters, JSON-escaped, fits). */
const ACCESS_LINE_MAX = 4096;

/** True for a configuration file of a plane's HAProxy process in `dir` (haproxyPaths' naming). */
export function isProcessConfig(file: string, dir: string): boolean {
  return path.dirname(file) === dir && /^haproxy(\.\d+)?\.cfg$/.test(path.basename(file));
}

/** Everything haproxy.cfg depends on. */
export interface CfgInput {
  config: RouterConfig;
  paths: HaproxyPaths;
  /** The Runtime API socket of the process this file configures. */
  socket: string;
  port: number;
  tlsPort?: number;
  /** Slot backends, each with its servers (addresses). */
  slots: Array<{ name: string; servers: string[] }>;
  /**
   * Start of every request id ([0-9a-f]+): new for each start or reload of HAProxy, whose own
   * request counter (`%rt`) starts again at 0 in every new worker.
   */
  requestIdPrefix: string;
  /** The file to keep the ring in (ringdir.ts); undefined: in HAProxy's memory only, read over the Runtime API. */
  ringFile?: string;
}

/** Quotes a path for haproxy.cfg. */
function q(text: string): string {
  return `"${text.replace(/(["\\])/g, '\\$1')}"`;
}

/** Generates haproxy.cfg. */
export function haproxyCfg(input: CfgInput): string {
  const { config, paths, port, tlsPort } = input;
  const t = config.timeouts;
  const page = (f: string) => q(path.join(paths.pages, f));
  const { hop, forwarding, underscored } = requestDrop();
  const resDrop = [...hop, 'x-paastech-router-error'].join('|');
  // Upgrade too: an Upgrade without Connection asks for nothing (the Lua action handles the others).
  // Every name in any spelling of - and _ (CGI-style servers read Keep_Alive as Keep-Alive).
  const spelled = (n: string) => n.replaceAll('-', '[-_]');
  const reqDrop = [...hop.map(spelled), 'upgrade', ...forwarding.map(spelled), ...underscored].join('|');
  const host = config.listenHost.includes(':') ? `[${config.listenHost}]` : config.listenHost;
  const lines = [
    '# Generated by the PaaSTech router (haproxy data plane); rewritten on every change — do not edit.',
    'global',
    `  stats socket ${input.socket} mode 600 level admin expose-fd listeners`,
    // One thread: the plane runs one HAProxy process per CPU instead (PAASTECH_ROUTER_WORKERS),
    // as nginx runs a worker process per CPU. Threads of one process share the ring, the maps'
    // and pools' locks and counters (docs/benchmarks.md, "One HAProxy process per CPU").
    '  nbthread 1',
    `  lua-load ${q(paths.lua)}`,
    // HAProxy's own notices go to stderr (the router keeps their tail).
    '  log stderr format raw local0 notice',
    // The access-log stream (show events -w) lives as long as the worker: no idle timeout at 10 s.
    '  stats timeout 24h',
    `  hard-stop-after ${t.drainMs}ms`,
    // HAProxy's default size: a request head of up to ~15 KiB, as the node plane (Node's 16 KiB);
    // map updates over the Runtime API are cut to fit (MAP_CHUNK_BYTES in plane.ts). A larger
    // buffer cost ~2,200 instructions a request (bench/router/instructions.mjs).
    '  tune.bufsize 16384',
    // Certificates are <host>.crt with the key in <host>.key (not <host>.crt.key).
    '  ssl-load-extra-del-ext',
    '',
    `ring ${ACCESS_RING}`,
    '  format raw',
    `  maxlen ${ACCESS_LINE_MAX}`,
    `  size ${ACCESS_RING_BYTES}`,
    // The ring lives in this file, mapped into HAProxy's memory: the router reads it from there
    // (ringfile.ts), so HAProxy wakes no reader and sends nothing per request.
    ...(input.ringFile ? [`  backing-file ${q(input.ringFile)}`] : []),
    '',
    'defaults',
    '  mode http',
    // One JSON line per request, written by HAProxy into the memory ring (no syscall per request);
    // the router reads it from the ring's file, counts it and writes access.log. Only info-level
    // messages (requests), not server state notices.
    // len: lines up to ACCESS_LINE_MAX (HAProxy cuts at 1,024 by default, and a cut line is
    // neither counted nor written; see the method rule below for what keeps lines under it).
    `  log ring@${ACCESS_RING} len ${ACCESS_LINE_MAX} format raw local0 info info`,
    `  log-format '${ACCESS_LOG_FORMAT.replace('NAMES', paths.maps.names)}'`,
    '  option dontlognull',
    `  timeout connect ${t.connectMs}ms`,
    `  timeout client ${t.idleMs}ms`,
    `  timeout server ${t.upstreamMs}ms`,
    `  timeout http-request ${t.headersMs}ms`,
    `  timeout http-keep-alive ${t.idleMs}ms`,
    `  timeout tunnel ${t.upstreamMs}ms`,
    `  timeout client-fin 1s`,
    `  errorfile 400 ${page('400.http')}`,
    `  errorfile 408 ${page('408.http')}`,
    `  errorfile 413 ${page('413.http')}`,
    `  errorfile 422 ${page('422.http')}`,
    '',
    'frontend edge',
    `  bind ${host}:${port}`,
    ...(tlsPort !== undefined
      ? [`  bind ${host}:${tlsPort} ssl crt ${q(paths.fallbackCert)} crt ${q(config.certsDir)} alpn http/1.1`]
      : []),
    // X-Request-Id: this HAProxy's prefix and its request counter (formatting %pid, %Ts or hex
    // cost ~3,000 instructions a request). HAProxy adds the header itself after the rules (cheaper
    // than a set-header rule): the client's were deleted below.
    `  unique-id-format ${input.requestIdPrefix}-%rt`,
    '  unique-id-header X-Request-Id',
    // The client's address as text, made once per connection (`lower` casts it to a string): for
    // X-Forwarded-For below. `option forwardfor` printed it with snprintf on every request (~1,800
    // instructions a request more, bench/router/instructions.mjs).
    '  tcp-request session set-var(sess.xff) src,lower',
    // fhdr rather than hdr wherever a whole value will do: no split at commas (cheaper).
    '  http-request set-var(txn.fmt) str(json) if { req.fhdr(accept) -m sub application/json }',
    // No rule for two Host or Content-Length headers, or both Content-Length and Transfer-Encoding:
    // HAProxy's H1 and H2 parsers refuse differing values and keep one of equal ones, and drop
    // Content-Length beside chunked, before any rule runs (haproxy.test.ts shows it).
    `  http-request deny deny_status 413 if { req.fhdr(content-length) -m int gt ${config.maxBodyBytes} }`,
    // Refused, in one rule: a method longer than a short token (the node plane knows only the
    // registered ones; a longer one would make an access line longer than the ring keeps whole),
    // and Transfer-Encoding on HTTP/1.0 (RFC 9112 §6.1: faulty framing; HAProxy would pass it on
    // as an HTTP/1.0 request with a chunked body, which an instance may read as unframed).
    '  http-request deny deny_status 400 if { method,length gt 32 } || { req.ver 1.0 } { req.fhdr(transfer-encoding) -m found }',
    // The host without port or trailing dot, in one rule (rtrim strips every trailing dot: a name
    // ending in two is no DNS name either way). fhdr: the whole value (hdr splits it at commas).
    '  http-request set-var(txn.host) req.fhdr(host),field(1,:),lower,rtrim(.)',
    // The access line prints the host as it is: escape the hosts no route has (any text). Right
    // here, before any rule that can fail: a failed header rewrite (500) skips the rules after it,
    // and the line is still written. json(ascii), not utf8s: utf8s drops bytes that are not
    // UTF-8, so "<a routed host>\xff" would come out as that routed host — and use_backend looks
    // the escaped host up again. ascii writes every byte over 127 as \u00XX: an escaped host that
    // differs holds a backslash and is no map key (keys are [a-z0-9.-]); one that does not was not
    // found already.
    `  http-request set-var(txn.host) var(txn.host),json(ascii) if !{ var(txn.host),map(${paths.maps.hosts}) -m found }`,
    // Also sets txn.upgrade for an upgrade request (Connection: upgrade and an Upgrade header): a
    // refused upgrade must not leave the connection open for more requests (CVE-2018-1002105);
    // any other request loses both headers here (an Upgrade alone: in the del-header rule below).
    // Only requests with a Connection header pay for it (a rule reading Upgrade on every request cost ~450).
    '  http-request lua.strip_req if { req.fhdr(connection) -m found }',
    // One pass over the headers for every hop-by-hop and client-sent forwarding header.
    // Forwarding headers in any spelling of - and _ (CGI-style servers read X_Forwarded_For as X-Forwarded-For).
    // Most requests hold none: one match over the joined header names (lower case in HTX) first,
    // instead of the regex on every header (~5,000 fewer for a browser's dozen headers, ~100 for one).
    // Not for an upgrade request (txn.upgrade): the Lua action deleted these but for Upgrade itself.
    `  http-request del-header ^(${reqDrop})$ -m reg if { req.hdr_names -m reg (^|,)(${reqDrop})(,|$) } !{ var(txn.upgrade) -m bool }`,
    // add-header, not set-header: the client's were deleted just above (set-header deletes again).
    // The port is the listener's (dst_port formats the socket address anew for every request).
    '  http-request add-header X-Forwarded-For %[var(sess.xff)]',
    `  http-request add-header X-Forwarded-Proto ${tlsPort !== undefined ? '%[ssl_fc,iif(https,http)]' : 'http'}`,
    '  http-request add-header X-Forwarded-Host %[req.fhdr(host)]',
    `  http-request add-header X-Forwarded-Port ${tlsPort !== undefined ? `%[ssl_fc,iif(${tlsPort},${port})]` : port}`,
    ...(tlsPort !== undefined
      ? [
          `  http-request redirect location https://%[var(txn.host)]${tlsPort === 443 ? '' : `:${tlsPort}`}%[capture.req.uri] code 308 if !{ ssl_fc } { var(txn.host),map(${paths.maps.redirect}) -m found }`,
        ]
      : []),
    // Most responses hold none of the names the rules below act on, and answer no upgrade request:
    // one match over the joined header names (HTX keeps them in lower case) ends the response rules
    // for them, instead of a regex on every header and a test of Connection (~600 more).
    `  http-response allow if !{ var(txn.upgrade) -m bool } !{ res.hdr_names -m reg (^|,)(connection|${resDrop})(,|$) }`,
    '  http-response lua.strip_res if { res.fhdr(connection) -m found }',
    // After the Lua action, which deletes a Connection header that holds no upgrade.
    '  http-response set-header connection close if { var(txn.upgrade) -m bool } !{ status 101 }',
    `  http-response del-header ^(${resDrop})$ -m reg`,
    // The host's backend straight from the map, notfound for a host no route has (and the default
    // for a request without a host: the name is then "-"). A second map lookup is cheaper than a
    // variable holding the first one and a condition on it (~900 instructions a request).
    `  use_backend %[var(txn.host),map(${paths.maps.hosts},notfound)]`,
    '  default_backend notfound',
    '',
    'backend notfound',
    '  http-request set-var(txn.shown) var(txn.host) if { var(txn.host) -m reg ^[a-z0-9.-]{1,253}$ }',
    `  http-request return status 404 content-type "application/json; charset=utf-8" lf-file ${page('404.json.lf')} hdr cache-control no-store if { req.fhdr(accept) -m sub application/json }`,
    `  http-request return status 404 content-type "text/html; charset=utf-8" lf-file ${page('404.html.lf')} hdr cache-control no-store`,
    '',
    `backend ${UNAVAILABLE_BACKEND}`,
    `  http-request return status 503 content-type "application/json; charset=utf-8" lf-string "%[var(txn.host),map(${paths.maps.json503})]" hdr cache-control no-store if { req.fhdr(accept) -m sub application/json }`,
    `  http-request return status 503 content-type "text/html; charset=utf-8" lf-string "%[var(txn.host),map(${paths.maps.html503})]" hdr cache-control no-store`,
  ];
  for (const slot of input.slots) {
    lines.push(
      '',
      `backend ${slot.name}`,
      '  balance leastconn',
      '  option redispatch 1',
      // Retried only when no connection could be made (HAProxy's default `retry-on conn-failure`).
      '  retries 2',
      // HAProxy answers 503 when no connection could be made: shown as the 502 page, status 502.
      // The marker header tells the after-response rules which responses HAProxy made itself.
      `  http-error status 503 content-type "text/html; charset=utf-8" lf-file ${page('502.lf')} hdr x-paastech-router-error 503`,
      `  http-error status 502 content-type "text/html; charset=utf-8" lf-file ${page('502.lf')} hdr x-paastech-router-error 502`,
      `  http-error status 504 content-type "text/html; charset=utf-8" lf-file ${page('504.lf')} hdr x-paastech-router-error 504`,
      // After-response rules run for every response: one test of the status (no header lookup)
      // ends them for all but 502-504 (the status first in each of three rules cost ~750 more).
      '  http-after-response allow if !{ status 502:504 }',
      '  http-after-response set-header content-type "application/json; charset=utf-8" if { var(txn.fmt) -m str json } { res.hdr(x-paastech-router-error) -m found }',
      '  http-after-response set-status 502 if { status 503 } { res.hdr(x-paastech-router-error) -m str 503 }',
      // A bad answer from the instance (a 101 to a request that asked for no upgrade among them)
      // ends the client connection too, as on the node plane (CVE-2018-1002105).
      '  http-after-response set-header connection close if { res.hdr(x-paastech-router-error) -m str 502 }',
      '  http-after-response del-header x-paastech-router-error',
      ...slot.servers.map((a) => `  server ${serverName(a)} ${a}`),
    );
  }
  return `${lines.join('\n')}\n`;
}
