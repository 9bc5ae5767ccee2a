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
 * Makes `dir` (the data dir) exist with mode 0700, tightening one that exists with a looser mode
 * (an operator's `mkdir`, systemd's StateDirectory= default 0755): it holds the database, keys and
 * every project's repository. Throws when it cannot (another user's directory).
 */
export function privateDir(dir: string): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const stat = fs.statSync(dir);
  if (!stat.isDirectory()) throw new Error(`the data dir "${dir}" is not a directory`);
  // A shared directory (/tmp: sticky, world-writable) is never taken over and made private.
  if (stat.mode & 0o1002)
    throw new Error(
      `the data dir "${dir}" is a shared directory (mode 0${(stat.mode & 0o7777).toString(8)}): set PAASTECH_DATA_DIR to a directory of its own`,
    );
  const mode = stat.mode & 0o777;
  if (mode & 0o077) {
    try {
      fs.chmodSync(dir, 0o700);
    } catch (err) {
      throw new Error(
        `the data dir "${dir}" is mode 0${mode.toString(8)} and cannot be made 0700 (${(err as Error).message}): it must belong to the user paastechd runs as`,
      );
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
