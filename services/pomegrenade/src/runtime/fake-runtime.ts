// FakeRuntime: the do-nothing Runtime for unit tests of the engine. "Processes" are in-process:
// a web process is a real HTTP server on its PORT (so health checks are real), answering with its
// deployment; tests decide per command how a process behaves and can crash it at will.
import http from 'node:http';
import type { ExitInfo, ProcessSpec, RunningProcess, Runtime } from '../domain/ports.js';
import { freePort } from './net.js';

/** How a fake process behaves, chosen from its spec. */
export interface FakeBehaviour {
  /** Exit right away with this code instead of running. */
  exitCode?: number;
  /** Listen on PORT and answer HTTP with this status (default 200). */
  status?: number;
  /** Do not listen at all. */
  silent?: boolean;
  /** Lines printed at start. */
  lines?: string[];
}

/** A fake process, as tests see it. */
export interface FakeProcess {
  spec: ProcessSpec;
  running: boolean;
  crash(code?: number): void;
}

/** Runtime whose processes live inside the test process. */
export class FakeRuntime implements Runtime {
  readonly kind = 'fake';
  readonly knowsListeners = true;
  readonly processes: FakeProcess[] = [];
  behaviour: (spec: ProcessSpec) => FakeBehaviour = () => ({});

  async allocatePort(): Promise<number> {
    return freePort();
  }

  upstreamAddress(_projectId: string, port: number): string {
    return `127.0.0.1:${port}`;
  }

  /** Processes currently running, optionally only of one log source. */
  running(source?: string): FakeProcess[] {
    return this.processes.filter((p) => p.running && (!source || p.spec.source === source));
  }

  async run(spec: ProcessSpec, onLine: (text: string) => void): Promise<RunningProcess> {
    const b = this.behaviour(spec);
    spec.stdin?.resume();
    let finish: (e: ExitInfo) => void = () => {};
    const exited = new Promise<ExitInfo>((resolve) => (finish = resolve));
    let server: http.Server | undefined;
    const fake: FakeProcess = {
      spec,
      running: true,
      crash: (code = 1) => end({ code, signal: null, oomKilled: false }),
    };
    const end = (e: ExitInfo) => {
      if (!fake.running) return;
      fake.running = false;
      server?.close();
      server?.closeAllConnections();
      finish(e);
    };
    this.processes.push(fake);
    for (const l of b.lines ?? []) onLine(l);
    if (b.exitCode !== undefined) {
      setTimeout(() => end({ code: b.exitCode ?? 0, signal: null, oomKilled: false }), 5);
    } else if (spec.env.PORT && !b.silent) {
      server = http.createServer((_req, res) => {
        res.writeHead(b.status ?? 200, { 'content-type': 'text/plain' });
        res.end(`${spec.env.PAASTECH_DEPLOYMENT ?? ''}\n`);
      });
      server.listen(Number(spec.env.PORT), '127.0.0.1');
    }
    return {
      pid: process.pid,
      exited,
      stop: async () => end({ code: null, signal: 'SIGTERM', oomKilled: false }),
      listening: async () => (server ? [{ address: '127.0.0.1', port: Number(spec.env.PORT) }] : []),
      usage: async () => ({ memoryBytes: 1024, cpuMicros: 0 }),
    };
  }

  async cleanupLeftovers(): Promise<number> {
    return 0;
  }

  async forgetProject(): Promise<void> {}

  /** Egress per project as the engine last set it (tests read it). */
  readonly egress = new Map<string, boolean>();

  async setEgress(projectId: string, on: boolean): Promise<void> {
    this.egress.set(projectId, on);
  }
}
