// The git binary, as the controller runs it. Invariant: git never sees an inherited environment
// (no GIT_* variable of ours or of a caller leaks in), never reads system or global config
// (GIT_CONFIG_NOSYSTEM, HOME = an empty directory we own), and user-controlled values only ever
// follow `--end-of-options` or `--` on its command line.
import { type ChildProcess, spawn } from 'node:child_process';
import { run } from '@paastech/kit';

/** What every git process of the controller runs with. */
export interface GitRuntime {
  /** PATH for git and the programs it starts (its own helpers, our hooks). */
  path: string;
  /** An empty directory used as HOME, so no ~/.gitconfig applies. */
  home: string;
}

/** The complete environment of a git process: ours only, plus `extra`. */
export function gitEnv(runtime: GitRuntime, extra: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: runtime.path,
    HOME: runtime.home,
    XDG_CONFIG_HOME: runtime.home,
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_ATTR_NOSYSTEM: '1',
    GIT_TERMINAL_PROMPT: '0',
    LANG: 'C',
    LC_ALL: 'C',
    ...extra,
  };
}

/** Runs `git args…` to completion and returns its stdout (ExecError on failure). */
export async function git(
  runtime: GitRuntime,
  args: readonly string[],
  options: { cwd?: string; env?: Record<string, string>; input?: string } = {},
): Promise<string> {
  const { stdout } = await run('git', args, {
    cwd: options.cwd ?? runtime.home,
    env: gitEnv(runtime, options.env),
    ...(options.input === undefined ? {} : { input: options.input }),
  });
  return stdout;
}

/** Starts `git args…` with piped stdio, for streaming (archives, upload-pack, receive-pack). */
export function spawnGit(
  runtime: GitRuntime,
  args: readonly string[],
  options: { cwd?: string; env?: Record<string, string> } = {},
): ChildProcess {
  return spawn('git', args, {
    cwd: options.cwd ?? runtime.home,
    env: gitEnv(runtime, options.env),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}
