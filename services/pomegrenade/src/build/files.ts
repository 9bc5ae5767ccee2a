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
