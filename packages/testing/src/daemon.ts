// Runs the real, built paastechd as a child process in a temporary data dir, with every port chosen
// by the OS, and parses the endpoint lines it prints.
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const REPO_ROOT = path.resolve(import.meta.dirname, '../../..');
export const PAASTECHD = path.join(REPO_ROOT, 'apps/paastechd/dist/main.js');

export interface RunningDaemon {
  child: ChildProcess;
  dataDir: string;
  /** Endpoint label → URL, as printed ("dashboard and API" → "http://127.0.0.1:40123/"). */
  endpoints: Map<string, string>;
  stdout(): string;
  stderr(): string;
  /** Sends `signal` and resolves with the exit code once the process has exited. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Makes an empty temporary directory (short path: Unix socket paths must stay under 108 bytes). */
export function tempDir(prefix = 'pt-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Starts `paastechd <role>` and waits for its `ready` line (rejects on early exit or timeout). */
export async function startPaastechd(
  options: { role?: string; env?: Record<string, string>; dataDir?: string; timeoutMs?: number } = {},
): Promise<RunningDaemon> {
  const dataDir = options.dataDir ?? tempDir();
  const child = spawn(process.execPath, [PAASTECHD, options.role ?? 'all'], {
    cwd: dataDir,
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: process.env.HOME ?? '/root',
      PAASTECH_DATA_DIR: dataDir,
      PAASTECH_API_PORT: '0',
      PAASTECH_GIT_HTTP_PORT: '0',
      PAASTECH_GIT_SSH_PORT: '0',
      PAASTECH_ROUTER_PORT: '0',
      PAASTECH_LOG_FORMAT: 'json',
      PAASTECH_LOG_LEVEL: 'info',
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (b: Buffer) => {
    out += b.toString();
  });
  child.stderr.on('data', (b: Buffer) => {
    err += b.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`paastechd not ready after ${options.timeoutMs ?? 30_000} ms\n${out}\n${err}`));
    }, options.timeoutMs ?? 30_000);
    const check = () => {
      if (/^paastechd: ready\b/m.test(out)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout.on('data', check);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`paastechd exited with ${code} before ready\n${out}\n${err}`));
    });
  });

  const endpoints = new Map<string, string>();
  for (const m of out.matchAll(/^paastechd: (.+?)\s{2,}(\S+)$/gm)) endpoints.set(m[1]!.trim(), m[2]!);
  return {
    child,
    dataDir,
    endpoints,
    stdout: () => out,
    stderr: () => err,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill(signal);
      return exited;
    },
  };
}
