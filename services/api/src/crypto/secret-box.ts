// Encryption at rest of secrets (config var values, config snapshots): AES-256-GCM under the
// master key. Invariants: a fresh random 96-bit nonce per value; the associated data binds each
// ciphertext to its row (e.g. project id + var name) and to the key version, so a ciphertext
// copied into another row or relabelled with another key version fails to decrypt instead of
// yielding another row's secret; the master key never leaves this module's closure.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import path from 'node:path';
import { loadOrCreateSecret } from '@paastech/kit';

const KEY_BYTES = 32;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

/** A sealed value as the database stores it (base64 text columns + key version). */
export interface Sealed {
  /** Ciphertext followed by the 16-byte GCM tag, base64. */
  ciphertext: string;
  /** The 12-byte nonce, base64. */
  nonce: string;
  keyVersion: number;
}

/** Raised when a sealed value cannot be opened (wrong key, wrong row, tampered). Never holds the value. */
export class SecretBoxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SecretBoxError';
  }
}

/** Decodes a base64 (or base64url) master key; throws unless it is exactly 32 bytes. */
export function decodeMasterKey(text: string, source: string): Buffer {
  const key = Buffer.from(text.trim(), 'base64');
  if (key.length !== KEY_BYTES) {
    throw new Error(
      `master key from ${source} must be base64 of ${KEY_BYTES} bytes (got ${key.length} bytes)`,
    );
  }
  return key;
}

/** Path of the master key file created at first start when PAASTECH_MASTER_KEY is unset. */
export function masterKeyPath(dataDir: string): string {
  return path.join(dataDir, 'keys', 'master.key');
}

/** The master key: from the configuration when set, else from (or created in) `<dataDir>/keys/master.key` (0600). */
export function resolveMasterKey(config: { dataDir: string; masterKey?: string }): Buffer {
  if (config.masterKey) return decodeMasterKey(config.masterKey, 'PAASTECH_MASTER_KEY');
  const file = masterKeyPath(config.dataDir);
  return decodeMasterKey(loadOrCreateSecret(file, KEY_BYTES), file);
}

/** Associated data of a config var value: binds the ciphertext to its project and name. */
export function configVarAad(projectId: string, name: string): string {
  return `config_var\u0000${projectId}\u0000${name}`;
}

/** The associated data actually authenticated: the caller's plus the key version. */
function fullAad(aad: string, keyVersion: number): Buffer {
  return Buffer.from(`v${keyVersion}\u0000${aad}`, 'utf8');
}

/** AES-256-GCM with a keyring: seals under the current key, opens under any known version. */
export class SecretBox {
  private readonly keys: ReadonlyMap<number, Buffer>;

  /** `keys` maps key versions to 32-byte keys; `current` seals new values. */
  constructor(
    keys: ReadonlyMap<number, Buffer> | Buffer,
    private readonly current = 1,
  ) {
    this.keys = Buffer.isBuffer(keys) ? new Map([[current, Buffer.from(keys)]]) : new Map(keys);
    for (const [version, key] of this.keys) {
      if (key.length !== KEY_BYTES) throw new Error(`key version ${version} must be ${KEY_BYTES} bytes`);
    }
    if (!this.keys.has(current)) throw new Error(`no key for the current version ${current}`);
  }

  /** Encrypts `plaintext` bound to `aad` under the current key with a fresh nonce. */
  seal(plaintext: string, aad: string): Sealed {
    const nonce = randomBytes(NONCE_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.keys.get(this.current)!, nonce);
    cipher.setAAD(fullAad(aad, this.current));
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
    return { ciphertext: body.toString('base64'), nonce: nonce.toString('base64'), keyVersion: this.current };
  }

  /** Decrypts a sealed value; throws SecretBoxError if the key, the associated data or the bytes differ. */
  open(sealed: Sealed, aad: string): string {
    const key = this.keys.get(sealed.keyVersion);
    if (!key) throw new SecretBoxError(`no master key of version ${sealed.keyVersion}`);
    const body = Buffer.from(sealed.ciphertext, 'base64');
    const nonce = Buffer.from(sealed.nonce, 'base64');
    if (nonce.length !== NONCE_BYTES || body.length < TAG_BYTES) {
      throw new SecretBoxError('sealed value is malformed');
    }
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
      decipher.setAAD(fullAad(aad, sealed.keyVersion));
      decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
      const plain = Buffer.concat([
        decipher.update(body.subarray(0, body.length - TAG_BYTES)),
        decipher.final(),
      ]);
      return plain.toString('utf8');
    } catch {
      throw new SecretBoxError('sealed value does not authenticate (wrong key, wrong row or tampered)');
    }
  }
}

/** A config var row as stored: name and its sealed value. */
export interface SealedConfigVar {
  name: string;
  value_ciphertext: string;
  value_nonce: string;
  key_version: number;
}

/** Opens the stored config vars of a project, name → plaintext value. */
export function openConfigVars(
  box: SecretBox,
  projectId: string,
  rows: readonly SealedConfigVar[],
): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const row of rows) {
    const sealed = { ciphertext: row.value_ciphertext, nonce: row.value_nonce, keyVersion: row.key_version };
    vars[row.name] = box.open(sealed, configVarAad(projectId, row.name));
  }
  return vars;
}
