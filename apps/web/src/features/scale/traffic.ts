// What the overview says about a project's requests, from the status's traffic counts. The router
// reports 5xx answers of the app and its own 502/503/504 apart; every other answer (1xx–4xx) is
// what is left of the total.
import type { ProjectStatus } from './api/scale.js';

export type Traffic = ProjectStatus['traffic'];

/** One line of the traffic card: a label and its value. */
export interface TrafficFact {
  label: string;
  value: string;
}

const COUNT = new Intl.NumberFormat('en');

/** "1,234" from a count; negative or non-finite counts read as 0. */
export function formatCount(n: number): string {
  return COUNT.format(Number.isFinite(n) && n > 0 ? Math.floor(n) : 0);
}

/** "0.4/s" or "12/min", whichever reads better; "" for an empty or zero-length window. */
export function formatRate(requests: number, seconds: number): string {
  if (!(seconds > 0) || !(requests > 0)) return '';
  const perSecond = requests / seconds;
  if (perSecond >= 1) return `${perSecond.toFixed(perSecond < 10 ? 1 : 0)}/s`;
  const perMinute = perSecond * 60;
  return `${perMinute.toFixed(perMinute < 10 ? 1 : 0)}/min`;
}

/** The request counts as label/value lines; an empty list when the project got no request yet. */
export function trafficFacts(t: Traffic | undefined): TrafficFact[] {
  if (!t || !(t.requests > 0)) return [];
  const fromApp = Math.max(0, t.requests - t.server_errors - t.router_errors);
  const facts: TrafficFact[] = [
    { label: 'Requests', value: formatCount(t.requests) },
    { label: '1xx–4xx from the app', value: formatCount(fromApp) },
    { label: '5xx from the app', value: formatCount(t.server_errors) },
    { label: '502/503/504 from the router', value: formatCount(t.router_errors) },
  ];
  const w = t.last_window;
  if (w) {
    const rate = formatRate(w.requests, w.seconds);
    facts.push({
      label: `Last ${w.seconds} s`,
      value: `${formatCount(w.requests)} ${w.requests === 1 ? 'request' : 'requests'}${rate ? ` (${rate})` : ''}`,
    });
  }
  return facts;
}
