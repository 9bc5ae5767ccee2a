// What happens while git holds a push in pre-receive: take the project's push lock, check the
// updates are not stale, hand them to the API's RecordPush and print every event back to the pusher
// as it arrives. The API's final result decides whether git accepts the push.
import path from 'node:path';
import { control } from '@paastech/proto';
import type { ControlClient } from './control.js';
import { type GitRuntime, git } from './git.js';
import type { HookReply, HookRequest } from './hooks.js';
import { type CommitSummary, MAX_REFS_READ, readLooseCommit } from './objects.js';
import { isZeroSha, parseRefUpdates, type RefUpdateLine } from './parse.js';
import type { Pushes, PushSession } from './pushes.js';
import type { Repositories } from './repositories.js';

/** What the pre-receive handler needs. */
export interface PushDeps {
  pushes: Pushes;
  repos: Repositories;
  control: ControlClient;
  runtime: GitRuntime;
  lockTimeoutMs: number;
}

const { PushOutcome } = control;

/** Handles one pre-receive request end to end; always ends with reply.finish. */
export async function handlePreReceive(deps: PushDeps, req: HookRequest, reply: HookReply): Promise<void> {
  const session = deps.pushes.get(req.pushId);
  if (!session) {
    reply.line('!     push rejected: unknown push');
    return reply.finish(1);
  }
  // Stop when the hook goes away, and also when receive-pack does (its hook may linger).
  const stop = AbortSignal.any([reply.signal, session.ended.signal]);
  const reject = (reason: string) => {
    reply.line(`!     push rejected: ${reason}`);
    reply.finish(1);
  };
  let updates: RefUpdateLine[];
  let quarantineEnv: Record<string, string>;
  try {
    updates = parseRefUpdates(req.updates);
    quarantineEnv = await deps.repos.quarantineEnv(session.projectId, quarantineOf(req));
    session.quarantineDir = quarantineEnv.GIT_OBJECT_DIRECTORY;
  } catch (err) {
    return reject((err as Error).message);
  }
  if (!(await lockProject(deps, session, reply, stop))) return;
  // Read the refs and the new commits at once (both are on every push's critical path).
  const [stale, refUpdates] = await Promise.all([
    staleRef(deps, session.projectId, updates),
    describeUpdates(deps, session.projectId, updates, quarantineEnv).catch((err: Error) => err),
  ]);
  if (stale) return reject(`ref "${stale}" moved while this push waited; fetch and push again`);
  if (refUpdates instanceof Error) return reject(refUpdates.message);
  const exit = await forwardToApi(deps, session, req, refUpdates, reply, stop);
  session.accepted = exit === 0;
  reply.finish(exit);
}

/** The quarantine the hook reported, as GetArchive and RecordPush name it. */
function quarantineOf(req: HookRequest) {
  return {
    objectDirectory: req.objectDirectory,
    alternateObjectDirectories: req.alternateObjectDirectories.split(':').filter((d) => d !== ''),
  };
}

/** Takes the project's push lock for this session; prints why it waits, and refuses after the bound. */
async function lockProject(
  deps: PushDeps,
  session: PushSession,
  reply: HookReply,
  stop: AbortSignal,
): Promise<boolean> {
  const seconds = Math.round(deps.lockTimeoutMs / 1000);
  try {
    session.release = await deps.pushes.locks.acquire(session.projectId, deps.lockTimeoutMs, {
      abort: stop,
      onWait: () => reply.line('-----> waiting for the previous push to this project to finish'),
    });
    return true;
  } catch {
    reply.line(
      `!     push rejected: another push to this project was still running after ${seconds} s; push again later`,
    );
    reply.finish(1);
    return false;
  }
}

/** Returns the first ref whose current value is not the push's old value (a push won the race). */
async function staleRef(
  deps: PushDeps,
  projectId: string,
  updates: RefUpdateLine[],
): Promise<string | undefined> {
  const current = await deps.repos.refValues(
    projectId,
    updates.map((u) => u.refName),
  );
  for (const u of updates) {
    const now = current.get(u.refName) || undefined;
    if (isZeroSha(u.oldSha) ? now !== undefined : now !== u.oldSha) return u.refName;
  }
  return undefined;
}

/** Adds the commit summary of each updated ref's new commit (read from the quarantine). */
async function describeUpdates(
  deps: PushDeps,
  projectId: string,
  updates: RefUpdateLine[],
  env: Record<string, string>,
): Promise<control.RefUpdate[]> {
  const dir = deps.repos.existingPath(projectId);
  // The quarantine's directories were checked by quarantineEnv; without one, the repository's own.
  const objectDirs = env.GIT_OBJECT_DIRECTORY
    ? [env.GIT_OBJECT_DIRECTORY, ...(env.GIT_ALTERNATE_OBJECT_DIRECTORIES ?? '').split(':').filter(Boolean)]
    : [path.join(dir, 'objects')];
  const out: control.RefUpdate[] = [];
  // In-process reads are synchronous: a push of many refs is described by git instead.
  const inProcess = updates.length <= MAX_REFS_READ;
  for (const u of updates) {
    const update: control.RefUpdate = { oldSha: u.oldSha, newSha: u.newSha, refName: u.refName };
    if (!isZeroSha(u.newSha)) {
      let summary = inProcess ? await readLooseCommit(dir, objectDirs, u.newSha) : undefined;
      // A loose commit was read as one; anything else must be a commit for a branch, as git itself
      // requires only after pre-receive — by then the API would have deployed the tagged commit.
      if (!summary && u.refName.startsWith('refs/heads/')) {
        const type = await objectType(deps, dir, env, u.newSha);
        if (type !== 'commit') {
          throw new Error(
            `${u.refName}: ${u.newSha} is ${type ? `a ${type}` : 'missing'}, not a commit; a branch holds commits only`,
          );
        }
      }
      summary ??= await gitLogSummary(deps, dir, env, u.newSha);
      if (summary) {
        update.newCommit = {
          subject: summary.subject,
          authorName: summary.authorName,
          authorEmail: summary.authorEmail,
          authoredAt: new Date(summary.authoredAt * 1000),
        };
      }
    }
    out.push(update);
  }
  return out;
}

/** The type of object `sha` (`commit`, `tag`, `tree`, `blob`), or '' when there is none. */
async function objectType(
  deps: PushDeps,
  dir: string,
  env: Record<string, string>,
  sha: string,
): Promise<string> {
  const text = await git(deps.runtime, ['cat-file', '-t', '--end-of-options', sha], { cwd: dir, env }).catch(
    () => '',
  );
  return text.trim();
}

/** The commit summary as `git log` prints it (commits in packs, unusual encodings or authors). */
async function gitLogSummary(
  deps: PushDeps,
  dir: string,
  env: Record<string, string>,
  sha: string,
): Promise<CommitSummary | undefined> {
  const text = await git(
    deps.runtime,
    ['log', '-1', '--no-walk', '--format=%s%x00%an%x00%ae%x00%at', '--end-of-options', sha],
    { cwd: dir, env },
  ).catch(() => '');
  const [subject, authorName, authorEmail, at] = text.replace(/\n$/, '').split('\0');
  if (at === undefined) return undefined;
  return {
    subject: subject ?? '',
    authorName: authorName ?? '',
    authorEmail: authorEmail ?? '',
    authoredAt: Number(at),
  };
}

/** Calls RecordPush and prints its events; resolves with the hook's exit code. */
function forwardToApi(
  deps: PushDeps,
  session: PushSession,
  req: HookRequest,
  refUpdates: control.RefUpdate[],
  reply: HookReply,
  stop: AbortSignal,
): Promise<0 | 1> {
  return new Promise((resolve) => {
    const call = deps.control.recordPush({
      projectId: session.projectId,
      pusherClientId: session.clientId,
      refUpdates,
      quarantine: quarantineOf(req),
      pushOptions: req.pushOptions,
    });
    let result: control.PushResult | undefined;
    const onAbort = () => call.cancel();
    if (stop.aborted) onAbort();
    stop.addEventListener('abort', onAbort, { once: true });
    call.on('data', (event: control.RecordPushResponse) => {
      if (event.event?.$case === 'result') result = event.event.value;
      for (const line of eventLines(event)) reply.line(line);
    });
    call.on('error', (err: Error & { details?: string }) => {
      stop.removeEventListener('abort', onAbort);
      if (stop.aborted) return resolve(1);
      reply.line(`!     push rejected: the api failed: ${safeText(err.details || err.message)}`);
      resolve(1);
    });
    call.on('end', () => {
      stop.removeEventListener('abort', onAbort);
      if (!result) reply.line('!     push rejected: the api ended the push without a result');
      resolve(result && accepts(result.outcome) ? 0 : 1);
    });
  });
}

/** True for the outcomes with which git accepts the push. */
function accepts(outcome: control.PushOutcome): boolean {
  return outcome === PushOutcome.PUSH_OUTCOME_SUCCEEDED || outcome === PushOutcome.PUSH_OUTCOME_NOT_DEPLOYED;
}

/** The lines a RecordPush event prints (git prefixes each with `remote: `). */
export function eventLines(event: control.RecordPushResponse): string[] {
  const e = event.event;
  switch (e?.$case) {
    case 'deploymentCreated':
      return [
        `-----> deployment v${e.value.deploymentNumber} of ${e.value.commitSha.slice(0, 7)} (${e.value.refName})`,
      ];
    case 'progress':
      return safeLines(e.value.text).map((t) => `-----> ${t}`);
    case 'logLine':
      return safeLines(e.value.text).map((t) => `       ${t}`);
    case 'result':
      return resultLines(e.value);
    default:
      return [];
  }
}

/** The closing lines of a push. */
function resultLines(r: control.PushResult): string[] {
  const reason = safeText(r.reason);
  switch (r.outcome) {
    case PushOutcome.PUSH_OUTCOME_SUCCEEDED:
      return [`-----> deployed v${r.deploymentNumber}${r.url ? `: ${safeText(r.url)}` : ''}`];
    case PushOutcome.PUSH_OUTCOME_NOT_DEPLOYED:
      return [`-----> not deployed: ${reason || 'nothing to deploy'}`];
    default:
      return [`!     push rejected: ${reason || 'the deployment failed'}`];
  }
}

/** Splits text into printable lines (control characters other than tab removed). */
function safeLines(text: string): string[] {
  return text.split(/\r?\n|\r/).map(safeText);
}

/** Removes control characters, so API text cannot move the pusher's terminal cursor. */
function safeText(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: stripping control characters is the point
  return text.replace(/[\x00-\x08\x0a-\x1f\x7f]/g, '');
}
