// The local git repository: which project its `paastech` remote points at, and connecting it to a
// project (the remote plus git's credential helper for our git host only). git runs with argument
// arrays; values from the server go after `--` so none is ever read as an option.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { CliError } from './errors.js';
import { projectFromRemoteUrl } from './remote.js';

export const REMOTE = 'paastech';

interface GitResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `git args…` in cwd; resolves with its exit code and output (a missing git binary throws). */
export function git(args: readonly string[], cwd: string): Promise<GitResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('git', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => {
      stdout += b.toString();
    });
    child.stderr.on('data', (b: Buffer) => {
      stderr += b.toString();
    });
    child.once('error', (err) =>
      reject(new CliError(`cannot run git (${(err as NodeJS.ErrnoException).code})`, 'install git')),
    );
    child.once('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

/** Runs git and fails with its stderr when it exits non-zero. */
async function gitOk(args: readonly string[], cwd: string): Promise<string> {
  const r = await git(args, cwd);
  if (r.code !== 0) throw new CliError(`git ${args[0]} failed: ${r.stderr.trim().split('\n').pop() ?? ''}`);
  return r.stdout;
}

/** True when cwd is inside a git working tree. */
export async function insideRepository(cwd: string): Promise<boolean> {
  const r = await git(['rev-parse', '--is-inside-work-tree'], cwd).catch(() => undefined);
  return r?.code === 0 && r.stdout.trim() === 'true';
}

/** The URL of the `paastech` remote of the repository at cwd, if any. */
export async function remoteUrl(cwd: string): Promise<string | undefined> {
  const r = await git(['config', '--get', `remote.${REMOTE}.url`], cwd).catch(() => undefined);
  return r?.code === 0 ? r.stdout.trim() || undefined : undefined;
}

/** The project the cwd's `paastech` remote points at, if any. */
export async function projectFromRepository(cwd: string): Promise<string | undefined> {
  const url = await remoteUrl(cwd);
  return url ? projectFromRemoteUrl(url) : undefined;
}

/** Adds the `paastech` remote, or points it at `url`; says which. */
export async function setRemote(cwd: string, url: string): Promise<'added' | 'updated' | 'unchanged'> {
  const current = await remoteUrl(cwd);
  if (current === url) return 'unchanged';
  if (current === undefined) await gitOk(['remote', 'add', '--', REMOTE, url], cwd);
  else await gitOk(['remote', 'set-url', '--', REMOTE, url], cwd);
  return current === undefined ? 'added' : 'updated';
}

/** Quotes a word for a POSIX shell (git runs `!` credential helpers through sh). */
export function shellQuote(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** The helper command git runs: this very CLI (node + its script), so no PATH lookup is needed. */
export function helperCommand(node: string, script: string): string {
  return `!${shellQuote(node)} ${shellQuote(fs.realpathSync(script))} git:credential`;
}

/**
 * Makes git ask `paastech git:credential` for credentials of `gitOrigin`, in this repository only. The
 * empty helper first clears helpers configured globally for that URL, so the token is never handed to
 * (and stored by) another helper.
 */
export async function configureCredentialHelper(
  cwd: string,
  gitOrigin: string,
  command: string,
): Promise<void> {
  const key = `credential.${gitOrigin}.helper`;
  await git(['config', '--local', '--unset-all', key], cwd);
  await gitOk(['config', '--local', '--add', key, ''], cwd);
  await gitOk(['config', '--local', '--add', key, command], cwd);
}
