// Runs the real, built `paastech` as a child process with its own XDG_CONFIG_HOME and HOME, as a user would.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { REPO_ROOT, tempDir } from '@paastech/testing';

export const CLI = path.join(REPO_ROOT, 'apps/cli/dist/main.js');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A user of the CLI: a home directory, a config dir, and the environment every run gets. */
export interface CliUser {
  home: string;
  configDir: string;
  env: Record<string, string>;
  run(
    args: string[],
    options?: { input?: string; cwd?: string; env?: Record<string, string> },
  ): Promise<CliResult>;
}

/** Creates a user whose runs talk to `apiUrl` (through PAASTECH_API_URL unless `env` overrides it). */
export function cliUser(apiUrl: string | undefined): CliUser {
  const home = tempDir('pt-home-');
  const configHome = path.join(home, 'xdg');
  fs.mkdirSync(configHome);
  const base: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: home,
    XDG_CONFIG_HOME: configHome,
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_TERMINAL_PROMPT: '0',
    ...(apiUrl ? { PAASTECH_API_URL: apiUrl } : {}),
  };
  return {
    home,
    configDir: path.join(configHome, 'paastech'),
    env: base,
    run: (args, options = {}) =>
      runProcess(process.execPath, [CLI, ...args], {
        cwd: options.cwd ?? home,
        env: { ...base, ...options.env },
        input: options.input ?? '',
      }),
  };
}

/** Runs a command to completion with `input` on stdin. */
export function runProcess(
  command: string,
  args: string[],
  options: { cwd: string; env: Record<string, string>; input: string },
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => {
      stdout += b.toString();
    });
    child.stderr.on('data', (b: Buffer) => {
      stderr += b.toString();
    });
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.on('error', () => {}); // a child that never reads its stdin (git) is not an error
    child.stdin.end(options.input);
  });
}

/** Runs `git args…` in cwd as `user` (its HOME, config dir and API URL); fails on a non-zero exit. */
export async function gitAs(
  user: CliUser,
  cwd: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<CliResult> {
  const r = await runProcess('git', args, { cwd, env: { ...user.env, ...env }, input: '' });
  if (r.code !== 0) throw new Error(`git ${args.join(' ')} exited ${r.code}\n${r.stderr}`);
  return r;
}

/** Creates a git repository with one commit of a tiny Node app in `dir`. */
export async function makeAppRepository(user: CliUser, dir: string): Promise<void> {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'package.json'), '{"name":"app","scripts":{"start":"node server.js"}}\n');
  fs.writeFileSync(
    path.join(dir, 'server.js'),
    "require('node:http').createServer((q, s) => s.end('hello ' + (process.env.GREETING ?? 'world'))).listen(process.env.PORT);\nconsole.log('listening');\n",
  );
  await gitAs(user, dir, ['init', '-q', '-b', 'main']);
  await gitAs(user, dir, ['add', '.']);
  await gitAs(user, dir, [
    '-c',
    'user.email=ada@example.com',
    '-c',
    'user.name=Ada',
    'commit',
    '-qm',
    'first',
  ]);
}

/** A CLI run in progress: its output so far, a wait for some output, and its end. */
export interface RunningCli {
  child: ReturnType<typeof spawn>;
  stdout(): string;
  stderr(): string;
  /** Resolves once stdout matches `pattern` (rejects after `timeoutMs`). */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<void>;
  done: Promise<CliResult>;
}

/** Starts `paastech args…` as `user` without waiting for it to end. */
export function startCli(user: CliUser, args: string[], cwd: string): RunningCli {
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd,
    env: user.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b: Buffer) => {
    stdout += b.toString();
  });
  child.stderr.on('data', (b: Buffer) => {
    stderr += b.toString();
  });
  const done = new Promise<CliResult>((resolve) =>
    child.once('close', (code) => resolve({ code, stdout, stderr })),
  );
  const waitFor = async (pattern: RegExp, timeoutMs = 20_000) => {
    const deadline = Date.now() + timeoutMs;
    while (!pattern.test(stdout)) {
      if (Date.now() > deadline)
        throw new Error(`no ${pattern} in stdout after ${timeoutMs} ms:\n${stdout}\n${stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };
  return { child, stdout: () => stdout, stderr: () => stderr, waitFor, done };
}
