// Where the haproxy plane keeps HAProxy's access-log ring files (ringfile.ts reads them): a
// directory of its own in /dev/shm (memory: never written back to a disk, not on the data dir's
// file system, which may fill up), else the router directory; one file per HAProxy start or
// reload, made and filled by the router before HAProxy maps it.
//
// Invariants:
// - /dev/shm is writable by every user. The directory's name is random (mkdtemp, mode 0700), so no
//   one can make it first, and it is recorded in the router directory (RING_DIR_RECORD). Nothing
//   here removes recursively: a directory is emptied only after lstat showed it is ours (a real
//   directory, this uid, mode 0700, our naming), of regular files of our naming, then rmdir'd.
// - A ring file is made exclusively (O_EXCL) and filled with zeros to its full size before HAProxy
//   maps it: every page is allocated, so HAProxy never writes a page the file system has no room
//   for (a SIGBUS), and a file system without room says so here (ENOSPC), where the router can
//   keep the ring in HAProxy's memory instead. HAProxy 2.6 takes a file whose ring is empty as it
//   is (it renames a file to `.bak` only when it holds lines).
// - A file per start or reload: a reload never maps the file a running worker writes (HAProxy
//   would rewrite the header under the old worker: both crash).
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from '@paastech/kit';

/** The host's shared-memory file system. */
export const SHM = '/dev/shm';
/** In the router directory: the path of the ring directory in /dev/shm this router made last. */
export const RING_DIR_RECORD = 'ring.dir';
/** In a ring directory: the router directory it serves (a sweep removes it once that is gone). */
const RING_OWNER = 'owner';
const DIR_NAME = /^paastech-router-[A-Za-z0-9]{6}$/;
const FILE_NAME = /^access-[0-9a-f]+\.ring$/;
/** A ring directory with no owner file yet may be one another router is making. */
const GRACE_MS = 60_000;

/** Whether the reader can follow a ring file on this host (ringfile.ts: x86's store order). */
export function ringFilesSupported(): boolean {
  return process.arch === 'x64';
}

/**
 * Makes this router's ring directory: in `shm` when it can (clearing first what a killed router
 * of this router directory left there, and the directories of routers whose data dir is gone),
 * else `routerDir` itself (clearing its stale ring files).
 */
export function openRingDir(routerDir: string, logger: Logger, shm = SHM): string {
  const record = path.join(routerDir, RING_DIR_RECORD);
  const previous = readText(record);
  if (previous !== undefined) {
    // Only a directory that serves this router directory (a copied data dir's record names another
    // router's live directory).
    removeRingDir(previous, shm, logger, routerDir);
    fs.rmSync(record, { force: true });
  }
  removeRingFiles(routerDir);
  // A directory others can write to must be sticky: else anyone could rename ours away.
  const parent = fs.lstatSync(shm, { throwIfNoEntry: false });
  if (!parent?.isDirectory() || (parent.uid !== process.getuid?.() && (parent.mode & 0o1000) === 0)) {
    if (parent)
      logger.warn(
        { shm },
        'shared memory directory is not sticky; keeping the access-log ring files in the data dir',
      );
    return routerDir;
  }
  sweepOrphanRingDirs(shm, logger);
  let dir: string | undefined;
  try {
    dir = fs.mkdtempSync(path.join(shm, 'paastech-router-'));
    fs.chmodSync(dir, 0o700);
    fs.writeFileSync(path.join(dir, RING_OWNER), routerDir, { mode: 0o600 });
    fs.writeFileSync(record, dir, { mode: 0o600 });
  } catch (err) {
    logger.warn(
      { shm, err: (err as Error).message },
      'cannot make a ring directory in shared memory; keeping the access-log ring files in the data dir',
    );
    if (dir !== undefined) {
      fs.rmSync(path.join(dir, RING_OWNER), { force: true });
      try {
        fs.rmdirSync(dir);
      } catch {
        // Gone already.
      }
    }
    return routerDir;
  }
  return dir;
}

/**
 * True while `dir` can take a new ring file: the router directory itself, or a ring directory in
 * `shm` that is still this router's (a real directory of this user, mode 0700, owned by
 * `routerDir`). Checked before every file made: a directory that vanished (removed by hand, or by a
 * router on a copy of this data dir) could have been made again by anyone.
 */
export function ringDirUsable(dir: string, routerDir: string, shm = SHM): boolean {
  if (dir === routerDir) return true;
  return isOurRingDir(dir, shm) && readText(path.join(dir, RING_OWNER)) === routerDir;
}

/** Removes this router's ring directory (or, for the router directory itself, its ring files). */
export function closeRingDir(dir: string, routerDir: string, logger: Logger, shm = SHM): void {
  if (dir === routerDir) {
    removeRingFiles(routerDir);
    return;
  }
  removeRingDir(dir, shm, logger, routerDir);
  fs.rmSync(path.join(routerDir, RING_DIR_RECORD), { force: true });
}

/**
 * Makes the ring file of one HAProxy start or reload in `dir`, every byte of it allocated;
 * undefined (said in the log) when the file system has no room for it or it cannot be made.
 */
export function makeRingFile(dir: string, id: string, bytes: number, logger: Logger): string | undefined {
  const file = path.join(dir, `access-${id}.ring`);
  let fd: number | undefined;
  try {
    fd = fs.openSync(file, 'wx', 0o600);
    const zeros = Buffer.alloc(Math.min(bytes, 1 << 20));
    for (let at = 0; at < bytes; at += zeros.length)
      fs.writeSync(fd, zeros, 0, Math.min(zeros.length, bytes - at), at);
    return file;
  } catch (err) {
    logger.warn(
      { file, err: (err as Error).message },
      'cannot make the access-log ring file; keeping this ring in haproxy memory (read over the Runtime API)',
    );
    // Only a file this call made (never one that was there: O_EXCL refused it).
    if (fd !== undefined) fs.rmSync(file, { force: true });
    return undefined;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** Removes one ring file (its worker has exited and it was read to its end), if its directory is still ours. */
export function removeRingFile(file: string, shm = SHM): void {
  const dir = path.dirname(file);
  if (path.dirname(dir) === shm && !isOurRingDir(dir, shm)) return;
  if (FILE_NAME.test(path.basename(file)) && fs.lstatSync(file, { throwIfNoEntry: false })?.isFile())
    fs.rmSync(file, { force: true });
}

/**
 * Removes the ring files in `dir` (regular files of our naming), but those in `keep` (the plane
 * prunes files made for a start or reload that failed: no worker's ring was attached to them).
 */
export function removeRingFiles(dir: string, keep?: ReadonlySet<string>): void {
  for (const name of readDir(dir)) {
    if (!FILE_NAME.test(name)) continue;
    const file = path.join(dir, name);
    if (keep?.has(file)) continue;
    if (fs.lstatSync(file, { throwIfNoEntry: false })?.isFile()) fs.rmSync(file, { force: true });
  }
}

/** True when `dir` is a ring directory of this user in `shm`, as openRingDir makes them. */
function isOurRingDir(dir: string, shm: string): boolean {
  if (path.dirname(dir) !== shm || !DIR_NAME.test(path.basename(dir))) return false;
  const st = fs.lstatSync(dir, { throwIfNoEntry: false });
  return st?.isDirectory() === true && st.uid === process.getuid?.() && (st.mode & 0o777) === 0o700;
}

/**
 * Empties (regular files of our naming only) and removes a ring directory that is ours, and, when
 * `owner` is given, serves that router directory.
 */
function removeRingDir(dir: string, shm: string, logger: Logger, owner?: string): void {
  if (!isOurRingDir(dir, shm)) return;
  if (owner !== undefined && readText(path.join(dir, RING_OWNER)) !== owner) return;
  removeRingFiles(dir);
  const ownerFile = path.join(dir, RING_OWNER);
  if (fs.lstatSync(ownerFile, { throwIfNoEntry: false })?.isFile()) fs.rmSync(ownerFile, { force: true });
  try {
    fs.rmdirSync(dir);
  } catch (err) {
    logger.warn({ dir, err: (err as Error).message }, 'ring directory left in place (not empty)');
  }
}

/**
 * Removes the ring directories of routers killed before they could remove them and whose router
 * directory is gone since (a router started again on its data dir removes its own).
 */
function sweepOrphanRingDirs(shm: string, logger: Logger): void {
  for (const name of readDir(shm)) {
    const dir = path.join(shm, name);
    if (!isOurRingDir(dir, shm)) continue;
    const owner = readText(path.join(dir, RING_OWNER));
    if (owner === undefined) {
      const st = fs.lstatSync(dir, { throwIfNoEntry: false });
      if (!st || Date.now() - st.mtimeMs < GRACE_MS) continue;
    } else if (fs.existsSync(owner)) continue;
    removeRingDir(dir, shm, logger);
    logger.info({ dir, owner }, 'removed the access-log ring directory of a router whose data dir is gone');
  }
}

function readDir(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}

/** A small file's text, or undefined (missing, not a regular file, unreadable). */
function readText(file: string): string | undefined {
  try {
    if (!fs.lstatSync(file).isFile()) return undefined;
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}
