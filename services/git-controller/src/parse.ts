// Small pure parsers for everything a client or a caller hands the controller: project ids, commit
// ids, smart-HTTP paths, SSH commands, pre-receive lines. Each accepts by allow-list; whatever does
// not match is refused, never repaired.
import { InvalidArgumentError } from '@paastech/kit';

/** The two git services the controller serves. */
export type GitServiceName = 'git-upload-pack' | 'git-receive-pack';

const PROJECT_ID = /^[a-z0-9][a-z0-9-]{0,63}$/;
const PROJECT_NAME = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const SHA = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;
const BRANCH = /^[A-Za-z0-9][A-Za-z0-9._/-]{0,99}$/;

/** Checks a project id (the repository's directory name): a-z, 0-9, - and at most 64 characters. */
export function checkProjectId(id: string): string {
  if (!PROJECT_ID.test(id)) {
    const message = `project id "${id.slice(0, 80)}": must be 1-64 characters of a-z, 0-9, - (starting with a letter or digit)`;
    throw new InvalidArgumentError(message, [{ field: 'project_id', message }]);
  }
  return id;
}

/** Checks a full hex object id (40 digits for SHA-1, 64 for SHA-256). */
export function checkCommitSha(sha: string): string {
  if (!SHA.test(sha)) {
    const message = `commit "${sha.slice(0, 80)}": must be a full object id (40 or 64 lower-case hex digits)`;
    throw new InvalidArgumentError(message, [{ field: 'commit_sha', message }]);
  }
  return sha;
}

/** Checks a default branch name (without refs/heads/); empty means "main". */
export function checkBranch(name: string): string {
  const branch = name === '' ? 'main' : name;
  const bad = !BRANCH.test(branch) || /\.\.|\/\/|\/$|\.lock$|\.$|\/\./.test(branch);
  if (bad) {
    const message = `branch "${branch.slice(0, 80)}": must be a branch name of A-Z, a-z, 0-9, ., _, /, -`;
    throw new InvalidArgumentError(message, [{ field: 'default_branch', message }]);
  }
  return branch;
}

/** A smart-HTTP request the controller serves. */
export interface GitHttpRoute {
  project: string;
  /** info/refs (advertisement) or a service's POST endpoint. */
  endpoint: 'info/refs' | GitServiceName;
}

const HTTP_PATH =
  /^\/([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)\.git\/(info\/refs|git-upload-pack|git-receive-pack)$/;

/** Matches the path (no query) of a smart-HTTP request; undefined for anything else. */
export function matchGitHttpPath(pathname: string): GitHttpRoute | undefined {
  const m = HTTP_PATH.exec(pathname);
  if (!m) return undefined;
  return { project: m[1]!, endpoint: m[2] as GitHttpRoute['endpoint'] };
}

/** Splits a raw request URL into path and query, refusing anything but plain ASCII paths. */
export function splitRequestUrl(url: string): { pathname: string; query: string } | undefined {
  const q = url.indexOf('?');
  const pathname = q < 0 ? url : url.slice(0, q);
  const query = q < 0 ? '' : url.slice(q + 1);
  if (!/^[\x21-\x7e]*$/.test(url)) return undefined;
  return { pathname, query };
}

/** Reads the `service` parameter of an info/refs query; undefined unless it names one of ours. */
export function matchAdvertisedService(query: string): GitServiceName | undefined {
  const params = new URLSearchParams(query);
  const all = params.getAll('service');
  if (all.length !== 1) return undefined;
  const s = all[0];
  return s === 'git-upload-pack' || s === 'git-receive-pack' ? s : undefined;
}

/** An SSH exec request the controller serves. */
export interface GitSshCommand {
  service: GitServiceName;
  project: string;
}

const SSH_COMMAND = /^(git-upload-pack|git-receive-pack) '\/?([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)\.git'$/;

/** Parses `git-upload-pack '<project>.git'` (leading / allowed); undefined for any other command. */
export function parseSshCommand(command: string): GitSshCommand | undefined {
  const m = SSH_COMMAND.exec(command);
  if (!m) return undefined;
  return { service: m[1] as GitServiceName, project: m[2]! };
}

/** True when `name` is a project name (a DNS label). */
export function isProjectName(name: string): boolean {
  return PROJECT_NAME.test(name);
}

/** One line git gives pre-receive. */
export interface RefUpdateLine {
  oldSha: string;
  newSha: string;
  refName: string;
}

/** Parses pre-receive's stdin (`<old> <new> <ref>` lines); throws on any malformed line. */
export function parseRefUpdates(text: string): RefUpdateLine[] {
  const lines = text.split('\n').filter((l) => l !== '');
  return lines.map((line) => {
    const m = /^([0-9a-f]{40}|[0-9a-f]{64}) ([0-9a-f]{40}|[0-9a-f]{64}) (refs\/[^\s\0]+)$/.exec(line);
    if (!m) throw new InvalidArgumentError(`ref update "${line.slice(0, 120)}": must be "<old> <new> <ref>"`);
    return { oldSha: m[1]!, newSha: m[2]!, refName: m[3]! };
  });
}

/** True when `sha` is all zeros (a created or deleted ref). */
export function isZeroSha(sha: string): boolean {
  return /^0+$/.test(sha);
}
