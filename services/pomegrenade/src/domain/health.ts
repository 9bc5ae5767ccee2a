// Health checks of new web instances and the diagnosis shown when one never becomes healthy.
import http from 'node:http';
import type { ExitInfo, ListeningSocket } from './ports.js';

/** Outcome of one probe. */
export type ProbeResult = { ok: true } | { ok: false; detail: string };

/**
 * One HTTP GET of `path` on `address` ("host:port"): passes on any status below 500. A server that
 * accepts the connection but does not speak HTTP also passes (a non-HTTP web process).
 */
export function probe(address: string, path: string, timeoutMs = 2000): Promise<ProbeResult> {
  const sep = address.lastIndexOf(':');
  const host = address.slice(0, sep).replace(/^\[|\]$/g, '');
  const port = Number(address.slice(sep + 1));
  return new Promise((resolve) => {
    let connected = false;
    const req = http.request({ host, port, path, method: 'GET', agent: false, timeout: timeoutMs }, (res) => {
      res.resume();
      const status = res.statusCode ?? 0;
      resolve(status < 500 ? { ok: true } : { ok: false, detail: `GET ${path} answered ${status}` });
    });
    req.on('socket', (s) => s.on('connect', () => (connected = true)));
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (connected && err.code === 'HPE_INVALID_CONSTANT') resolve({ ok: true });
      else if (err.code === 'ECONNREFUSED') resolve({ ok: false, detail: `nothing listens on port ${port}` });
      else if (err.message === 'timeout')
        resolve({ ok: false, detail: `GET ${path} got no answer within ${timeoutMs / 1000}s` });
      else resolve({ ok: false, detail: `GET ${path} failed: ${err.code ?? err.message}` });
    });
    req.end();
  });
}

/** A probe's detail when the port answered, but no process of the instance listens on it. */
export const ANSWERED_BY_ANOTHER = 'another process answers on port';

/** What is known about a web instance that did not pass its health check. */
export interface DiagnosisInput {
  instance: string;
  port: number;
  exit?: ExitInfo;
  memoryLimitBytes: number;
  listening: ListeningSocket[];
  lastProbe?: string;
  timeoutSeconds: number;
}

/** A failure class and the message a person can act on. */
export interface Diagnosis {
  reason: 'instance_crashed' | 'health_check_failed' | 'limit_exceeded';
  message: string;
}

const WILDCARD = new Set(['0.0.0.0', '::']);
const LOOPBACK = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);

/**
 * True when the sockets on the port are out of the router's reach: none on all addresses, and either
 * none on loopback or loopback is the sandbox's own (in a network namespace nothing answers there).
 */
function unreachable(onPort: ListeningSocket[], lastProbe: string | undefined): boolean {
  if (onPort.length === 0 || onPort.some((s) => WILDCARD.has(s.address))) return false;
  return !onPort.some((s) => LOOPBACK.has(s.address)) || (lastProbe?.startsWith('nothing listens') ?? false);
}

/** Explains why an instance never became healthy (pure). */
export function diagnose(d: DiagnosisInput): Diagnosis {
  if (d.exit?.oomKilled) {
    const mib = Math.round(d.memoryLimitBytes / (1024 * 1024));
    return {
      reason: 'limit_exceeded',
      message: `${d.instance} ran out of memory (limit ${mib} MiB) while starting`,
    };
  }
  if (d.exit) {
    const how =
      d.exit.code !== null
        ? `exited with code ${d.exit.code}`
        : `was killed by ${d.exit.signal ?? 'a signal'}`;
    return { reason: 'instance_crashed', message: `${d.instance} crashed on start: ${how}` };
  }
  const onPort = d.listening.filter((s) => s.port === d.port);
  if (unreachable(onPort, d.lastProbe)) {
    const where = onPort.map((s) => `${s.address}:${s.port}`).join(', ');
    return {
      reason: 'health_check_failed',
      message: `${d.instance} listens on ${where}, which the router cannot reach: listen on 0.0.0.0 (all interfaces) and the port in $PORT`,
    };
  }
  if (onPort.length === 0 && d.listening.length > 0) {
    const where = [...new Set(d.listening.map((s) => `${s.address}:${s.port}`))].join(', ');
    return {
      reason: 'health_check_failed',
      message: `${d.instance} listens on ${where}, not on the port in $PORT (${d.port}): read the port from the PORT environment variable`,
    };
  }
  if (onPort.length === 0) {
    const taken = d.lastProbe?.startsWith(ANSWERED_BY_ANOTHER) ? `: ${d.lastProbe}` : '';
    return {
      reason: 'health_check_failed',
      message: `${d.instance} did not listen on the port in $PORT (${d.port}) within ${d.timeoutSeconds}s${taken}`,
    };
  }
  return {
    reason: 'health_check_failed',
    message: `health check on ${d.instance} failed for ${d.timeoutSeconds}s: ${d.lastProbe ?? 'no answer'}`,
  };
}
