import { type components, unwrap } from '@paastech/api-client';
import { defineCommand } from '../../command.js';

export default defineCommand({
  description:
    'show a project’s instances (state, node, uptime, restarts, memory, CPU), its requests by status class and their latency',
  examples: ['paastech ps -p shop', 'paastech ps --json'],
  json: true,
  requireLogin: true,
  requireProject: true,
  async run(ctx) {
    const s = await unwrap(
      ctx.api.GET('/api/v1/projects/{name}/status', { params: { path: { name: ctx.project } } }),
    );
    if (ctx.json) {
      ctx.out.json(s);
      return;
    }
    const active = s.active_deployment ? `v${s.active_deployment}` : 'none';
    const pending = s.pending_deployment ? `, v${s.pending_deployment} in progress` : '';
    ctx.out.line(`${ctx.project}: deployment ${active}${pending}${s.stopped ? ' (stopped)' : ''}`);
    const t = instancesTable(s.instances);
    ctx.out.table(t.headers, t.rows, 'no instances running');
    ctx.out.line(requestsLine(s.traffic));
  },
});

type InstanceRow = components['schemas']['InstanceDto'];

/**
 * The instances as a table; a NODE column only when some instance names its node (swarm runtime),
 * so the local runtime's table is unchanged. An instance without one shows `-`.
 */
export function instancesTable(instances: InstanceRow[]): { headers: string[]; rows: string[][] } {
  const nodes = instances.some((i) => typeof i.node === 'string' && i.node !== '');
  const headers = [
    'INSTANCE',
    'STATE',
    'VERSION',
    ...(nodes ? ['NODE'] : []),
    'UPTIME',
    'RESTARTS',
    'MEMORY',
    'CPU',
  ];
  const rows = instances.map((i) => [
    i.name,
    i.state,
    `v${i.deployment}`,
    ...(nodes ? [i.node || '-'] : []),
    duration(i.uptime_seconds),
    String(i.restarts),
    `${mib(i.memory_bytes)} / ${mib(i.memory_limit_bytes)}`,
    `${(i.cpu_millicores / 10).toFixed(1)}%`,
  ]);
  return { headers, rows };
}

type Traffic = components['schemas']['ProjectTrafficDto'];
type Latency = components['schemas']['LatencyHistogramDto'];
type LatencyEstimate = components['schemas']['LatencyEstimateDto'];

/** `<= 25 ms`, `> 10 s` (the overflow bucket), `-` for none. */
function estimate(e: LatencyEstimate | null): string {
  if (!e || !Number.isFinite(e.ms)) return '-';
  const value = e.ms < 1000 ? `${Math.round(e.ms)} ms` : `${Number((e.ms / 1000).toFixed(1))} s`;
  return `${e.above ? '>' : '<='} ${value}`;
}

/** `, p50 <= 5 ms, p95 <= 25 ms, p99 > 10 s`; '' when the window has no estimate (no request, older router). */
function latencyPart(l: Latency | null | undefined): string {
  if (!l?.p50) return '';
  return `, p50 ${estimate(l.p50)}, p95 ${estimate(l.p95)}, p99 ${estimate(l.p99)}`;
}

/**
 * `requests: 1,234 (2xx: 1,200, 3xx: 20, 4xx: 11, 5xx: 3, of which 502/503/504 from the router: 1), last 30 s: 12, p50 <= 5 ms, p95 <= 25 ms, p99 <= 100 ms`;
 * a router older than the status classes gives `(5xx from the app: 2, 502/503/504 from the router: 1)`
 * and no latency.
 */
export function requestsLine(t: Traffic | undefined): string {
  if (!t || !(t.requests > 0)) return 'requests: none yet';
  const n = (x: number) => (Number.isFinite(x) && x > 0 ? Math.floor(x) : 0).toLocaleString('en');
  const c = t.by_status_class;
  const split = c
    ? `${c['1xx'] > 0 ? `1xx: ${n(c['1xx'])}, ` : ''}2xx: ${n(c['2xx'])}, 3xx: ${n(c['3xx'])}, 4xx: ${n(c['4xx'])}, 5xx: ${n(c['5xx'])}, of which 502/503/504 from the router: ${n(t.router_errors)}`
    : `5xx from the app: ${n(t.server_errors)}, 502/503/504 from the router: ${n(t.router_errors)}`;
  const w = t.last_window;
  const last = w ? `, last ${w.seconds} s: ${n(w.requests)}${latencyPart(w.latency)}` : '';
  return `requests: ${n(t.requests)} (${split})${last}`;
}

/** Seconds as `3d 4h`, `2h 5m`, `4m 10s`, or `-`. */
function duration(seconds: number | null): string {
  if (seconds === null) return '-';
  const d = Math.floor(seconds / 86400);
  const h = Math.floor((seconds % 86400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  if (d > 0) return `${d}d ${h}h`;
  if (h > 0) return `${h}h ${m}m`;
  return m > 0 ? `${m}m ${seconds % 60}s` : `${seconds}s`;
}

/** Bytes in MiB, rounded. */
function mib(bytes: number): string {
  return `${Math.round(bytes / 1048576)} MiB`;
}
