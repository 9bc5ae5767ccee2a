// Secrets kept as files under the data dir: created once with mode 0600, then reused.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

/**
 * Returns the secret stored at `file`, creating it (random, `bytes` long, base64url) when absent.
 * Creation is atomic (O_EXCL), so two processes starting together agree on one secret.
 */
export function loadOrCreateSecret(file: string, bytes = 32): string {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  try {
    fs.writeFileSync(file, `${randomBytes(bytes).toString('base64url')}\n`, { flag: 'wx', mode: 0o600 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const mode = fs.statSync(file).mode & 0o777;
  if (mode & 0o077) fs.chmodSync(file, 0o600);
  const value = fs.readFileSync(file, 'utf8').trim();
  if (value.length < 16)
    throw new Error(`secret file "${file}" is empty or too short: delete it to regenerate`);
  return value;
}

/**
 * Makes `dir` (the data dir) exist with mode 0700, tightening one that exists readable by others
 * (an operator's `mkdir`, systemd's StateDirectory= default 0755): it holds the database, keys and
 * every project's repository. Refused, with a message naming PAASTECH_DATA_DIR and left as it is:
 * a directory another user owns (or a symlink to one), and one others could write to already
 * (group- or world-writable, sticky like /tmp) — what they planted would stay.
 */
export function privateDir(dir: string): void {
  const refuse = (why: string, cause?: unknown) =>
    new Error(`the data dir "${dir}" ${why}: set PAASTECH_DATA_DIR to a directory of its own`, { cause });
  let stat: fs.Stats;
  try {
    try {
      fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    } catch (err) {
      // Something that is not a directory is there: said below.
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    stat = fs.statSync(dir);
  } catch (err) {
    throw refuse(`cannot be created (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, err);
  }
  if (!stat.isDirectory()) throw refuse('is not a directory');
  const uid = process.geteuid?.();
  if (uid !== undefined && stat.uid !== uid)
    throw refuse(`belongs to uid ${stat.uid}, not to this process (uid ${uid})`);
  const mode = stat.mode & 0o7777;
  if (mode & 0o1022) throw refuse(`is writable by others (mode 0${mode.toString(8)})`);
  if (mode & 0o077) {
    try {
      fs.chmodSync(dir, 0o700);
    } catch (err) {
      throw refuse(`cannot be made 0700 (${(err as Error).message})`, err);
    }
  }
}

/** Path of the secret that paastechd shares between its services. */
export function internalSecretPath(dataDir: string): string {
  return path.join(dataDir, 'keys', 'internal-secret');
}

/** The internal secret: from the configuration when set, else from (or created in) the data dir. */
export function resolveInternalSecret(config: { dataDir: string; internalSecret?: string }): string {
  return config.internalSecret ?? loadOrCreateSecret(internalSecretPath(config.dataDir));
}
