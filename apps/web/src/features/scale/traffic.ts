// What the overview says about a project's requests, from the status's traffic counts: requests by
// status class (2xx…5xx, 1xx only when there are some) and the router's own 502/503/504 among the
// 5xx. A router older than the classes reports only the app's 5xx and its own 502/503/504; then
// every other answer (1xx–4xx) is what is left of the total. Latency is the last window's p50/p95/p99
// as the API estimates them (the upper bound of the histogram bucket holding each), "–" without any.
import type { ProjectStatus } from './api/scale.js';

export type Traffic = ProjectStatus['traffic'];
export type StatusClasses = NonNullable<Traffic['by_status_class']>;
export type Latency = NonNullable<NonNullable<Traffic['last_window']>['latency']>;
type LatencyEstimate = Latency['p50'];

/** One line of the traffic card: a label and its value. */
export interface TrafficFact {
  label: string;
  value: string;
}

const COUNT = new Intl.NumberFormat('en');

/** A finite positive count, floored; anything else is 0. */
const count = (n: number) => (Number.isFinite(n) && n > 0 ? Math.floor(n) : 0);

/** "1,234" from a count; negative or non-finite counts read as 0. */
export function formatCount(n: number): string {
  return COUNT.format(count(n));
}

/** "0.4/s" or "12/min", whichever reads better; "" for an empty or zero-length window. */
export function formatRate(requests: number, seconds: number): string {
  if (!(seconds > 0) || !(requests > 0)) return '';
  const perSecond = requests / seconds;
  if (perSecond >= 1) return `${perSecond.toFixed(perSecond < 10 ? 1 : 0)}/s`;
  const perMinute = perSecond * 60;
  return `${perMinute.toFixed(perMinute < 10 ? 1 : 0)}/min`;
}

/** "1,234 (89%)": a count and its share of `total`; "<1%" for a share that rounds to 0. */
export function formatShare(n: number, total: number): string {
  const text = formatCount(n);
  if (!(count(n) > 0) || !(total > 0) || !Number.isFinite(total)) return text;
  const percent = Math.min(100, Math.round((count(n) / total) * 100));
  return `${text} (${percent === 0 ? '<1' : percent}%)`;
}

/** "250 ms" or "2.5 s". */
export function formatMs(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '–';
  return ms < 1000 ? `${Math.round(ms)} ms` : `${Number((ms / 1000).toFixed(1))} s`;
}

/** "≤ 25 ms", "> 10 s" in the overflow bucket, "–" for no estimate. */
export function formatEstimate(e: LatencyEstimate | undefined): string {
  if (!e) return '–';
  return `${e.above ? '>' : '≤'} ${formatMs(e.ms)}`;
}

/** "p50 ≤ 5 ms · p95 ≤ 25 ms · p99 > 10 s"; "–" when the window had no request (or no histogram). */
export function formatLatency(l: Latency | null | undefined): string {
  if (!l?.p50) return '–';
  return `p50 ${formatEstimate(l.p50)} · p95 ${formatEstimate(l.p95)} · p99 ${formatEstimate(l.p99)}`;
}

/** One line per status class (1xx only when there are some), then what no class covers, if any. */
function classFacts(t: Traffic, c: StatusClasses): TrafficFact[] {
  const classes = (['1xx', '2xx', '3xx', '4xx', '5xx'] as const).filter(
    (k) => k !== '1xx' || count(c[k]) > 0,
  );
  const facts: TrafficFact[] = classes.map((k) => ({ label: k, value: formatShare(c[k], t.requests) }));
  const classified = classes.reduce((sum, k) => sum + count(c[k]), 0);
  // An older router counted requests without classes.
  if (t.requests > classified)
    facts.push({ label: 'Not classified', value: formatCount(t.requests - classified) });
  return facts;
}

/** The request counts as label/value lines; an empty list when the project got no request yet. */
export function trafficFacts(t: Traffic | undefined): TrafficFact[] {
  if (!t || !(t.requests > 0)) return [];
  const facts: TrafficFact[] = [{ label: 'Requests', value: formatCount(t.requests) }];
  if (t.by_status_class) {
    facts.push(...classFacts(t, t.by_status_class), {
      label: '5xx from the router',
      value: formatCount(t.router_errors),
    });
  } else {
    const fromApp = Math.max(0, t.requests - t.server_errors - t.router_errors);
    facts.push(
      { label: '1xx–4xx from the app', value: formatCount(fromApp) },
      { label: '5xx from the app', value: formatCount(t.server_errors) },
      { label: '502/503/504 from the router', value: formatCount(t.router_errors) },
    );
  }
  const w = t.last_window;
  if (w) {
    const rate = formatRate(w.requests, w.seconds);
    facts.push({
      label: `Last ${w.seconds} s`,
      value: `${formatCount(w.requests)} ${w.requests === 1 ? 'request' : 'requests'}${rate ? ` (${rate})` : ''}`,
    });
    facts.push({ label: `Latency, last ${w.seconds} s`, value: formatLatency(w.latency) });
  }
  return facts;
}
