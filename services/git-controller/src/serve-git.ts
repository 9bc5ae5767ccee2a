// What both transports (smart HTTP, SSH) share once a client is authorized: starting
// `git upload-pack|receive-pack` on the project's repository, with a push session for receive-pack
// so the hook can find the pusher again.
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { type GitRuntime, spawnGit } from './git.js';
import type { GitServiceName } from './parse.js';
import type { Pushes } from './pushes.js';
import type { Repositories } from './repositories.js';

/** The pieces needed to run a git service. */
export interface GitServeDeps {
  repos: Repositories;
  pushes: Pushes;
  runtime: GitRuntime;
  maxPushBytes: number;
}

/** One run of a git service for an authorized client. */
export interface GitServiceRun {
  service: GitServiceName;
  projectId: string;
  clientId: string;
  /** HTTP: --stateless-rpc; `advertise` adds --advertise-refs (the info/refs request). */
  stateless: boolean;
  advertise: boolean;
  /** Value of GIT_PROTOCOL (from the Git-Protocol header or the SSH env request), checked. */
  protocol?: string;
  /** SSH: seconds of inactivity after which upload-pack gives up. */
  timeoutSeconds?: number;
}

const GIT_PROTOCOL = /^[A-Za-z0-9._=:-]{1,256}$/;

/** Returns `value` when it is a well-formed GIT_PROTOCOL value, else undefined. */
export function checkedProtocol(value: string | undefined): string | undefined {
  return value !== undefined && GIT_PROTOCOL.test(value) ? value : undefined;
}

/** Starts the git service; for a push (not an advertisement) a push session lives as long as git. */
export function startGitService(deps: GitServeDeps, r: GitServiceRun): ChildProcess {
  const repo = deps.repos.existingPath(r.projectId);
  const env: Record<string, string> = {};
  if (r.protocol) env.GIT_PROTOCOL = r.protocol;
  const args: string[] = [];
  if (r.service === 'git-receive-pack') args.push('-c', `receive.maxInputSize=${deps.maxPushBytes}`);
  args.push(r.service === 'git-upload-pack' ? 'upload-pack' : 'receive-pack');
  if (r.service === 'git-upload-pack') args.push('--strict');
  if (r.timeoutSeconds && r.service === 'git-upload-pack') args.push(`--timeout=${r.timeoutSeconds}`);
  if (r.stateless) args.push('--stateless-rpc');
  if (r.advertise) args.push('--advertise-refs');
  args.push(repo);
  const pushing = r.service === 'git-receive-pack' && !r.advertise;
  const session = pushing ? deps.pushes.begin(r.projectId, r.clientId) : undefined;
  if (session) env.PAASTECH_PUSH_ID = session.id;
  const child = spawnGit(deps.runtime, args, { cwd: repo, env });
  // git may exit before reading its input (an advertisement, a refused push): not our error.
  child.stdin?.on('error', () => {});
  if (session) {
    child.on('close', (code) => {
      const accepted = session.accepted && code === 0;
      deps.pushes.end(session.id);
      // The timestamp is informational: a repository deleted meanwhile is not an error of the push.
      if (accepted) deps.repos.markPushed(r.projectId).catch(() => {});
      // A receive-pack killed while its hook ran can leave its quarantine behind; nothing of it stays.
      const q = session.quarantineDir;
      if (q && path.basename(q).startsWith('tmp_objdir-incoming-'))
        fs.rmSync(q, { recursive: true, force: true });
    });
  }
  return child;
}

/** Runs the git service to its end with no input; its stdout, or undefined when it failed. */
export function collectGitService(deps: GitServeDeps, r: GitServiceRun): Promise<Buffer | undefined> {
  const child = startGitService(deps, r);
  child.stdin?.end();
  const chunks: Buffer[] = [];
  child.stdout!.on('data', (b: Buffer) => chunks.push(b));
  child.stderr!.resume();
  return new Promise((resolve) => {
    child.on('error', () => resolve(undefined));
    child.on('close', (code) => resolve(code === 0 ? Buffer.concat(chunks) : undefined));
  });
}
