// UnconfinedRuntime: PAASTECH_SANDBOX=none, for hosts without bubblewrap. Processes run as plain
// children in their own process group (so stop still reaches everything they forked), with the
// sandbox paths (/app, /cache, binds) rewritten to the host directories, as the platform's own uid
// (the data dir around the app is not traversable by other uids). Nothing is isolated; the engine
// prints a warning on every deployment.
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import type { Bind, ExitInfo, ProcessSpec, RunningProcess, Runtime } from '../domain/ports.js';
import { feedStdin, forEachLine, stdinOf } from './lines.js';
import { freePort, listeningSockets } from './net.js';

/** Rewrites sandbox paths in `text` to host paths (longest sandbox path first). */
export function toHostPaths(text: string, binds: Bind[]): string {
  let out = text;
  for (const b of [...binds].sort((x, y) => y.sandbox.length - x.sandbox.length)) {
    const escaped = b.sandbox.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    out = out.replace(new RegExp(`(^|[\\s:;="'])${escaped}(?=/|$|[\\s:;"'])`, 'g'), `$1${b.host}`);
  }
  return out;
}

/** Runs processes without a sandbox. */
export class UnconfinedRuntime implements Runtime {
  readonly kind = 'unconfined';

  async allocatePort(): Promise<number> {
    return freePort();
  }

  upstreamAddress(_projectId: string, port: number): string {
    return `127.0.0.1:${port}`;
  }

  async run(spec: ProcessSpec, onLine: (text: string) => void): Promise<RunningProcess> {
    const binds: Bind[] = [
      { host: spec.appDir, sandbox: '/app', writable: spec.appWritable },
      ...spec.extraBinds,
    ];
    const argv = spec.argv.map((a) => toHostPaths(a, binds));
    const env = Object.fromEntries(Object.entries(spec.env).map(([k, v]) => [k, toHostPaths(v, binds)]));
    const [program = '/bin/sh', ...args] = argv;
    const child = spawn(program, args, {
      cwd: spec.appDir,
      env,
      stdio: [stdinOf(spec.stdin), 'pipe', 'pipe'],
      detached: true,
    });
    feedStdin(child, spec.stdin);
    const output = Promise.all([
      child.stdout ? forEachLine(child.stdout, onLine) : undefined,
      child.stderr ? forEachLine(child.stderr, onLine) : undefined,
    ]);
    const group = child.pid ?? 0;
    const exited = waitExit(child).then(async (exit) => {
      killGroup(group, 'SIGKILL');
      await output;
      return { ...exit, oomKilled: false };
    });
    return {
      pid: child.pid ?? -1,
      exited,
      stop: async (graceMs) => {
        killGroup(group, 'SIGTERM');
        const timer = setTimeout(() => killGroup(group, 'SIGKILL'), graceMs);
        await exited;
        clearTimeout(timer);
      },
      listening: async () => listeningSockets(groupPids(group)),
      usage: async () => ({
        memoryBytes: groupPids(group).reduce((sum, pid) => sum + rss(pid), 0),
        cpuMicros: 0,
      }),
    };
  }

  async cleanupLeftovers(): Promise<number> {
    return 0;
  }

  async forgetProject(): Promise<void> {}
}

/** Resolves with the exit code/signal of a child (127 when it could not start). */
function waitExit(child: ChildProcess): Promise<Omit<ExitInfo, 'oomKilled'>> {
  return new Promise((resolve) => {
    child.once('error', () => resolve({ code: 127, signal: null }));
    child.once('exit', (code, sig) => resolve({ code, signal: sig }));
  });
}

/** Signals a whole process group, ignoring a group that is already gone. */
function killGroup(pgid: number, sig: NodeJS.Signals): void {
  if (pgid <= 0) return;
  try {
    process.kill(-pgid, sig);
  } catch {
    // gone
  }
}

/** Pids whose process group is `pgid` (field 5 of /proc/<pid>/stat). */
function groupPids(pgid: number): number[] {
  const out: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) === pgid) out.push(Number(name));
    } catch {
      // gone
    }
  }
  return out;
}

/** VmRSS of a pid in bytes. */
function rss(pid: number): number {
  try {
    return Number(/VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;
  } catch {
    return 0;
  }
}
