// The repositories on disk. Invariant: a repository lives at `<root>/<project id>.git`, where the id
// passed checkProjectId — no path is ever built from a project name or other user text — and every
// repository carries the pinned config below, whose hooks path points at our hooks only.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ConflictError, InvalidArgumentError, NotFoundError } from '@paastech/kit';
import { type GitRuntime, git, spawnGit } from './git.js';
import { readRefValues } from './objects.js';
import { checkBranch, checkCommitSha, checkProjectId } from './parse.js';

/** Repository config set at creation; nothing a pusher sends can change it. */
export function pinnedConfig(hooksDir: string): Array<[string, string]> {
  return [
    ['core.hooksPath', hooksDir],
    ['core.logAllRefUpdates', 'false'],
    ['receive.fsckObjects', 'true'],
    ['fetch.fsckObjects', 'true'],
    ['transfer.fsckObjects', 'true'],
    // Force pushes and branch deletions are policy decided by the API in pre-receive.
    ['receive.denyNonFastForwards', 'false'],
    ['receive.denyDeletes', 'false'],
    ['receive.advertisePushOptions', 'true'],
    ['receive.advertiseAtomic', 'true'],
    ['uploadpack.allowAnySHA1InWant', 'false'],
    ['uploadpack.allowReachableSHA1InWant', 'false'],
    ['uploadpack.allowTipSHA1InWant', 'false'],
    ['uploadpack.allowFilter', 'true'],
    ['gc.auto', '0'],
  ];
}

/**
 * `pairs` as git-config(1) text, one section per key's prefix; every value in double quotes with
 * `\` and `"` escaped, so a path with `;`, `#`, spaces or quotes stays one value. Line breaks and
 * NUL cannot be written in a value: refused.
 */
export function configText(pairs: Array<[string, string]>): string {
  let out = '';
  let section = '';
  for (const [key, value] of pairs) {
    const dot = key.lastIndexOf('.');
    if (/[\r\n\0]/.test(value)) throw new Error(`git config ${key}: a value cannot hold a line break or NUL`);
    if (key.slice(0, dot) !== section) {
      section = key.slice(0, dot);
      out += `[${section}]\n`;
    }
    out += `\t${key.slice(dot + 1)} = "${value.replace(/[\\"]/g, (c) => `\\${c}`)}"\n`;
  }
  return out;
}

/** A ref as listed by ListRefs. */
export interface RefInfo {
  name: string;
  targetSha: string;
  peeledSha: string;
}

/** Where to read objects of a push still held in pre-receive. */
export interface Quarantine {
  objectDirectory: string;
  alternateObjectDirectories: string[];
}

/** Size and state of a repository. */
export interface RepositoryInfo {
  sizeBytes: number;
  empty: boolean;
  head: string;
  lastPushedAt?: Date;
}

const LAST_PUSH_FILE = 'paastech-last-push';

/** Creates, reads and deletes the bare repositories under one root directory. */
export class Repositories {
  constructor(
    readonly root: string,
    readonly hooksDir: string,
    readonly runtime: GitRuntime,
  ) {}

  /** Absolute path of a project's repository (the id is checked first). */
  pathOf(projectId: string): string {
    return path.join(this.root, `${checkProjectId(projectId)}.git`);
  }

  /** Path of an existing repository; NotFoundError when the project has none. */
  existingPath(projectId: string): string {
    const dir = this.pathOf(projectId);
    if (!fs.existsSync(path.join(dir, 'HEAD'))) {
      throw new NotFoundError(`repository of project "${projectId}" not found`);
    }
    return dir;
  }

  /** Creates an empty bare repository, built aside and renamed into place so it appears whole. */
  async create(projectId: string, defaultBranch: string): Promise<void> {
    const target = this.pathOf(projectId);
    const branch = checkBranch(defaultBranch);
    await git(this.runtime, ['check-ref-format', `refs/heads/${branch}`]).catch((cause) => {
      throw new InvalidArgumentError(`branch "${branch}": not a valid git branch name`, [], { cause });
    });
    if (fs.existsSync(target)) throw new ConflictError(`repository of project "${projectId}" already exists`);
    await fs.promises.mkdir(this.root, { recursive: true, mode: 0o700 });
    const tmp = path.join(this.root, `.creating-${projectId}-${randomBytes(6).toString('hex')}`);
    try {
      await git(this.runtime, ['init', '--quiet', '--bare', `--initial-branch=${branch}`, '--', tmp]);
      // Appended as text (later sections win), not by a `git config` per key: 14 processes made a
      // creation take seconds on a loaded machine; one read-back checks that git parses it.
      const pinned = pinnedConfig(this.hooksDir);
      await fs.promises.appendFile(path.join(tmp, 'config'), configText(pinned));
      const hooksPath = await git(this.runtime, [
        'config',
        '--file',
        path.join(tmp, 'config'),
        '--get',
        'core.hooksPath',
      ]);
      if (hooksPath.trimEnd() !== this.hooksDir)
        throw new Error(
          `the new repository's core.hooksPath reads back as ${JSON.stringify(hooksPath.trimEnd())}`,
        );
      // The sample hooks git copies are never run (core.hooksPath is ours); drop them to be clear.
      await fs.promises.rm(path.join(tmp, 'hooks'), { recursive: true, force: true });
      await fs.promises.rename(tmp, target).catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOTEMPTY' || err.code === 'EEXIST') {
          throw new ConflictError(`repository of project "${projectId}" already exists`, { cause: err });
        }
        throw err;
      });
    } finally {
      await fs.promises.rm(tmp, { recursive: true, force: true });
    }
  }

  /**
   * Run at start-up: removes what an interrupted create or delete left, and re-pins the hooks path
   * of every repository (a moved data dir would otherwise leave pushes running no hook at all).
   */
  async repair(): Promise<{ repinned: number; removed: number }> {
    await fs.promises.mkdir(this.root, { recursive: true, mode: 0o700 });
    let repinned = 0;
    let removed = 0;
    for (const name of await fs.promises.readdir(this.root)) {
      const dir = path.join(this.root, name);
      if (name.startsWith('.creating-') || name.startsWith('.deleting-')) {
        await fs.promises.rm(dir, { recursive: true, force: true });
        removed++;
      } else if (name.endsWith('.git') && fs.existsSync(path.join(dir, 'config'))) {
        removed += await removeStaleQuarantines(path.join(dir, 'objects'));
        const file = path.join(dir, 'config');
        const current = await git(this.runtime, ['config', '--file', file, '--get', 'core.hooksPath']).catch(
          () => '',
        );
        if (current.trim() !== this.hooksDir) {
          await git(this.runtime, ['config', '--file', file, '--', 'core.hooksPath', this.hooksDir]);
          repinned++;
        }
      }
    }
    return { repinned, removed };
  }

  /** Deletes a repository; idempotent. Moved aside first so a half-deleted one is never served. */
  async delete(projectId: string): Promise<{ existed: boolean; freedBytes: number }> {
    const target = this.pathOf(projectId);
    if (!fs.existsSync(target)) return { existed: false, freedBytes: 0 };
    const aside = path.join(this.root, `.deleting-${projectId}-${randomBytes(6).toString('hex')}`);
    try {
      await fs.promises.rename(target, aside);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { existed: false, freedBytes: 0 };
      throw err;
    }
    const freedBytes = await diskUsage(aside);
    await fs.promises.rm(aside, { recursive: true, force: true });
    return { existed: true, freedBytes };
  }

  /** Lists refs under `prefix` (every ref when empty), sorted by name, and what HEAD names. */
  async listRefs(projectId: string, prefix = ''): Promise<{ refs: RefInfo[]; head: string }> {
    const dir = this.existingPath(projectId);
    // Both reads at once: a push waits on this in pre-receive.
    const [out, head] = await Promise.all([
      git(
        this.runtime,
        ['for-each-ref', '--sort=refname', '--format=%(refname)%00%(objectname)%00%(*objectname)'],
        { cwd: dir },
      ),
      this.head(dir),
    ]);
    const refs = out
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => {
        const [name = '', targetSha = '', peeledSha = ''] = l.split('\0');
        return { name, targetSha, peeledSha };
      })
      .filter((r) => r.name.startsWith(prefix));
    return { refs, head };
  }

  /**
   * The current value of each named ref ('' when it does not exist): read from the ref files when
   * they are plain (a push waits on this in pre-receive), from `git for-each-ref` otherwise.
   */
  async refValues(projectId: string, names: string[]): Promise<Map<string, string>> {
    const read = await readRefValues(this.existingPath(projectId), names);
    if (read) return read;
    const { refs } = await this.listRefs(projectId);
    const all = new Map(refs.map((r) => [r.name, r.targetSha]));
    return new Map(names.map((n) => [n, all.get(n) ?? '']));
  }

  /** Full name of the ref HEAD points to ("" when HEAD is detached). Read from the file, not with
   * `git symbolic-ref`: a push waits on this in pre-receive, and a spawn costs more than a read. */
  private async head(dir: string): Promise<string> {
    const text = await fs.promises.readFile(path.join(dir, 'HEAD'), 'utf8');
    return text.startsWith('ref: ') ? text.slice(5).trim() : '';
  }

  /** Size, emptiness, HEAD and last push time of a repository. */
  async info(projectId: string): Promise<RepositoryInfo> {
    const dir = this.existingPath(projectId);
    const { refs, head } = await this.listRefs(projectId);
    const last = await fs.promises.stat(path.join(dir, LAST_PUSH_FILE)).catch(() => undefined);
    return {
      sizeBytes: await diskUsage(dir),
      empty: refs.length === 0,
      head,
      ...(last ? { lastPushedAt: last.mtime } : {}),
    };
  }

  /** Records that a push updated refs (the time is the file's mtime). */
  async markPushed(projectId: string): Promise<void> {
    const file = path.join(this.existingPath(projectId), LAST_PUSH_FILE);
    await fs.promises.writeFile(file, `${new Date().toISOString()}\n`);
  }

  /**
   * Environment that lets git read the objects of a quarantined push. Every directory must resolve
   * (realpath) inside this repository's objects directory; anything else is refused.
   */
  async quarantineEnv(projectId: string, q: Quarantine | undefined): Promise<Record<string, string>> {
    if (!q || (q.objectDirectory === '' && q.alternateObjectDirectories.length === 0)) return {};
    // Synchronous: three path lookups on every push's way to its deployment, each faster than a
    // round trip through the thread pool.
    const objects = fs.realpathSync.native(path.join(this.existingPath(projectId), 'objects'));
    const realOrEmpty = (dir: string) => {
      try {
        return fs.realpathSync.native(dir);
      } catch {
        return '';
      }
    };
    const inside = async (dir: string, field: string, allowSelf: boolean) => {
      const real = path.isAbsolute(dir) ? realOrEmpty(dir) : '';
      const ok = real !== '' && (real.startsWith(`${objects}${path.sep}`) || (allowSelf && real === objects));
      if (!ok) {
        const message = `quarantine directory "${dir.slice(0, 200)}": must be inside the repository's objects directory`;
        throw new InvalidArgumentError(message, [{ field, message }]);
      }
      return real;
    };
    const objectDir = await inside(q.objectDirectory, 'quarantine.object_directory', false);
    const alternates: string[] = [];
    for (const a of q.alternateObjectDirectories) {
      alternates.push(await inside(a, 'quarantine.alternate_object_directories', true));
    }
    if (!alternates.includes(objects)) alternates.push(objects);
    return { GIT_OBJECT_DIRECTORY: objectDir, GIT_ALTERNATE_OBJECT_DIRECTORIES: alternates.join(':') };
  }

  /**
   * Starts `git archive` of a commit; the caller streams its stdout. The object is named
   * `<sha>^{commit}`, so git itself refuses a tree or a missing object (see `archiveNotFound`): no
   * separate `git cat-file` on the way from a push to its build.
   */
  async archive(
    projectId: string,
    sha: string,
    format: 'tar' | 'tar.gz',
    quarantine?: Quarantine,
  ): Promise<ReturnType<typeof spawnGit>> {
    const env = await this.quarantineEnv(projectId, quarantine);
    const dir = this.existingPath(projectId);
    checkCommitSha(sha);
    return spawnGit(this.runtime, ['archive', `--format=${format}`, '--end-of-options', `${sha}^{commit}`], {
      cwd: dir,
      env,
    });
  }
}

/** The error of an archive whose commit does not exist (git printed nothing and said so). */
export function archiveNotFound(projectId: string, sha: string, stderr: string): NotFoundError | undefined {
  if (!/not a valid object name|expected commit type/.test(stderr)) return undefined;
  return new NotFoundError(`commit "${sha}" not found in project "${projectId}"`);
}

/** Quarantines older than this belong to no live push (a push is bounded by the idle and lock timeouts). */
const STALE_QUARANTINE_MS = 6 * 60 * 60 * 1000;

/** Removes push quarantines left by a git that was killed long ago; returns how many. */
async function removeStaleQuarantines(objects: string): Promise<number> {
  let removed = 0;
  for (const name of await fs.promises.readdir(objects).catch(() => [])) {
    if (!name.startsWith('tmp_objdir-incoming-')) continue;
    const st = await fs.promises.stat(path.join(objects, name)).catch(() => undefined);
    if (st && Date.now() - st.mtimeMs > STALE_QUARANTINE_MS) {
      await fs.promises.rm(path.join(objects, name), { recursive: true, force: true });
      removed++;
    }
  }
  return removed;
}

/** Bytes used on disk by a directory tree (files' apparent sizes). */
export async function diskUsage(dir: string): Promise<number> {
  let total = 0;
  const entries = await fs.promises.readdir(dir, { withFileTypes: true, recursive: true }).catch(() => []);
  for (const e of entries) {
    if (!e.isFile()) continue;
    const st = await fs.promises.lstat(path.join(e.parentPath, e.name)).catch(() => undefined);
    total += st?.size ?? 0;
  }
  return total;
}
