// Subprocesses with argument arrays only (never a shell string); failures become ExecError with
// the command, exit code and the tail of stderr.
import { type SpawnOptions, spawn } from 'node:child_process';
import { ExecError } from './errors.js';

export interface RunOptions extends Pick<SpawnOptions, 'cwd' | 'env' | 'timeout'> {
  /** Bytes written to the child's stdin, then closed. */
  input?: string | Buffer;
  /** Keep at most this many bytes of stdout (default 16 MiB). */
  maxStdout?: number;
}

export interface RunResult {
  stdout: string;
  stderr: string;
}

/** Runs `command args…`, resolves with its output, rejects with ExecError on a non-zero exit. */
export function run(command: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const maxStdout = options.maxStdout ?? 16 * 1024 * 1024;
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env,
      timeout: options.timeout,
      stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    let outBytes = 0;
    let err = '';
    child.stdout?.on('data', (b: Buffer) => {
      if (outBytes < maxStdout) out.push(b);
      outBytes += b.length;
    });
    child.stderr?.on('data', (b: Buffer) => {
      err = (err + b.toString('utf8')).slice(-8192);
    });
    child.on('error', (e) => reject(new ExecError([command, ...args], null, null, e.message, { cause: e })));
    child.on('close', (code, signal) => {
      const stdout = Buffer.concat(out).toString('utf8');
      if (code === 0) resolve({ stdout, stderr: err });
      else reject(new ExecError([command, ...args], code, signal, err));
    });
    if (options.input !== undefined && child.stdin) {
      // A child that exits without reading its input is not an error of ours: its exit code says.
      child.stdin.on('error', () => {});
      child.stdin.end(options.input);
    }
  });
}
