// Reading files of an untrusted source tree from the host: regular files only (a symlink named
// package.json must not make the platform read /etc/shadow), bounded in size.
import fs from 'node:fs';
import path from 'node:path';

const MAX_READ = 1024 * 1024;

/** Text of `rel` under `appDir` when it is a regular file (not a symlink) of at most 1 MiB. */
export function readAppFile(appDir: string, rel: string): string | null {
  const file = path.join(appDir, rel);
  if (!file.startsWith(`${appDir}${path.sep}`)) return null;
  try {
    const st = fs.lstatSync(file);
    if (!st.isFile() || st.size > MAX_READ) return null;
    return fs.readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}

/** True when `rel` under `appDir` is a regular file. */
export function hasAppFile(appDir: string, rel: string): boolean {
  try {
    return fs.lstatSync(path.join(appDir, rel)).isFile();
  } catch {
    return false;
  }
}

/**
 * What `du -sb DIR` prints, counted in this process when the tree has at most `maxEntries` entries
 * (null beyond: the caller runs `du`, quicker on big trees). Apparent sizes of every entry (the
 * directories' own included, symlinks not followed), each hard-linked file once. Synchronous: for
 * the few entries it takes, a round trip through libuv's thread pool per entry costs more.
 */
export function smallTreeBytes(dir: string, maxEntries: number): number | null {
  const seen = new Set<string>();
  let entries = 0;
  let total = 0;
  for (const pending = [dir]; pending.length > 0; ) {
    const p = pending.pop() as string;
    if (++entries > maxEntries) return null;
    const st = fs.lstatSync(p, { bigint: true });
    if (st.isDirectory()) {
      // Entry by entry: a directory of millions of files (a build can make one) is never listed
      // whole in this process; past the budget, `du` counts it.
      const d = fs.opendirSync(p);
      try {
        for (let e = d.readSync(); e !== null; e = d.readSync()) {
          if (entries + pending.length >= maxEntries) return null;
          pending.push(path.join(p, e.name));
        }
      } finally {
        d.closeSync();
      }
    } else if (st.nlink > 1n) {
      const id = `${st.dev}:${st.ino}`;
      if (seen.has(id)) continue;
      seen.add(id);
    }
    total += Number(st.size);
  }
  return total;
}
