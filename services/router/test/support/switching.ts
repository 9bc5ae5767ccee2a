// Switching a route's instances back and forth while clients keep sending requests, with the CPU
// taken by busy processes (the condition under which a switch lost requests on a loaded machine).
import { type ChildProcess, spawn } from 'node:child_process';
import http from 'node:http';
import { request } from './harness.js';

export interface SwitchLoad {
  port: number;
  host: string;
  /** Publishes switch number `i` (0-based); may return before the router applied it. */
  switchTo: (i: number) => void;
  switches: number;
  /** Pause after switch `i`, in ms. */
  pauseMs: (i: number) => number;
  /** Concurrent keep-alive clients; every other one POSTs a small body. */
  clients?: number;
  /** Busy-looping processes competing for the CPU meanwhile. */
  burners?: number;
  /** Before each switch, a request answered this slowly: in flight on the instance being drained. */
  slowMs?: number;
}

export interface SwitchResult {
  /** Every answer's status, in completion order. */
  statuses: number[];
  /** Requests that got no answer (connection reset, hang-up), with the error code. */
  errors: string[];
}

/** Runs the clients, switches `switches` times, and stops the clients after the last pause. */
export async function switchUnderLoad(o: SwitchLoad): Promise<SwitchResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: o.clients ?? 16 });
  const burners: ChildProcess[] = Array.from({ length: o.burners ?? 0 }, () =>
    spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }),
  );
  const result: SwitchResult = { statuses: [], errors: [] };
  let stop = false;
  const body = 'x'.repeat(1024);
  const record = (p: Promise<{ status: number }>) =>
    p.then(
      (r) => result.statuses.push(r.status),
      (err: NodeJS.ErrnoException) => result.errors.push(err.code ?? err.message),
    );
  const slow: Array<Promise<unknown>> = [];
  const load = Promise.all(
    Array.from({ length: o.clients ?? 16 }, async (_, c) => {
      while (!stop) {
        const post = c % 2 === 1;
        await record(
          request(o.port, o.host, '/echo', {
            agent,
            ...(post ? { method: 'POST', body, headers: { 'content-type': 'text/plain' } } : {}),
          }),
        );
      }
    }),
  );
  try {
    await new Promise((r) => setTimeout(r, 200));
    for (let i = 0; i < o.switches; i++) {
      if (o.slowMs) {
        slow.push(record(request(o.port, o.host, `/slow?ms=${o.slowMs}`)));
        await new Promise((r) => setTimeout(r, 20));
      }
      o.switchTo(i);
      await new Promise((r) => setTimeout(r, o.pauseMs(i)));
    }
  } finally {
    stop = true;
    await Promise.all([load, ...slow]);
    agent.destroy();
    for (const b of burners) b.kill('SIGKILL');
  }
  return result;
}
