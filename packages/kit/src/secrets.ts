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

/** Path of the secret that paastechd shares between its services. */
export function internalSecretPath(dataDir: string): string {
  return path.join(dataDir, 'keys', 'internal-secret');
}

/** The internal secret: from the configuration when set, else from (or created in) the data dir. */
export function resolveInternalSecret(config: { dataDir: string; internalSecret?: string }): string {
  return config.internalSecret ?? loadOrCreateSecret(internalSecretPath(config.dataDir));
}
