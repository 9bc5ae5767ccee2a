// The SSH host key: an ed25519 key in OpenSSH's own file format (PROTOCOL.key), created on first
// start and read on every later one. It is encoded here rather than by ssh2's generateKeyPairSync,
// which writes a malformed file for about 1 key in 256 (a public key that starts with a zero byte
// is written as 31 bytes, and ssh2 then refuses its own file: "Malformed OpenSSH private key").
// Files that bug wrote are repaired on read: the 32-byte seed is intact, and the key is the same.
import { createPrivateKey, createPublicKey, randomBytes, randomInt } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import ssh2 from 'ssh2';

const KEY_TYPE = 'ssh-ed25519';
const MAGIC = Buffer.from('openssh-key-v1\0', 'latin1');
// DER of PKCS#8 for an ed25519 private key, up to the 32-byte seed (RFC 8410 §10.3).
const PKCS8_ED25519 = Buffer.from('302e020100300506032b657004220420', 'hex');

/** What loadOrCreateHostKey did, for the start-up log. */
export type HostKeyOrigin = 'created' | 'read' | 'repaired';

export interface HostKey {
  /** The private key file's text, as ssh2's Server takes it. */
  privateKey: string;
  /** `ssh-ed25519 <base64> <comment>`, the line of the `.pub` file. */
  publicLine: string;
  origin: HostKeyOrigin;
  /**
   * Set when the key was repaired in memory but the repaired file could not be written back (a
   * read-only location, say): why, for the start-up log. The key is used as repaired all the same,
   * and the repair is attempted again on the next start.
   */
  warning?: string;
}

/** The 32-byte ed25519 public key of a 32-byte seed. */
export function ed25519PublicKey(seed: Buffer): Buffer {
  if (seed.length !== 32) throw new Error(`an ed25519 seed is 32 bytes, not ${seed.length}`);
  const key = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519, seed]), format: 'der', type: 'pkcs8' });
  return Buffer.from(createPublicKey(key).export({ format: 'jwk' }).x as string, 'base64url');
}

function sshString(data: Buffer | string): Buffer {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  const length = Buffer.alloc(4);
  length.writeUInt32BE(bytes.length);
  return Buffer.concat([length, bytes]);
}

function uint32(value: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(value);
  return b;
}

/** The unencrypted OpenSSH private key file and `.pub` line of an ed25519 seed. */
export function encodeEd25519(
  seed: Buffer,
  comment: string,
  check = randomInt(2 ** 32),
): Omit<HostKey, 'origin'> {
  const pub = ed25519PublicKey(seed);
  const publicBlob = Buffer.concat([sshString(KEY_TYPE), sshString(pub)]);
  const body = Buffer.concat([
    uint32(check),
    uint32(check),
    sshString(KEY_TYPE),
    sshString(pub),
    sshString(Buffer.concat([seed, pub])),
    sshString(comment),
  ]);
  // Padded with 1, 2, 3, … to the cipher's block size, 8 for "none".
  const padding = Buffer.from(Array.from({ length: (8 - (body.length % 8)) % 8 }, (_, i) => i + 1));
  const file = Buffer.concat([
    MAGIC,
    sshString('none'),
    sshString('none'),
    sshString(''),
    uint32(1),
    sshString(publicBlob),
    sshString(Buffer.concat([body, padding])),
  ]);
  const lines = file.toString('base64').match(/.{1,70}/g) ?? [];
  return {
    privateKey: `-----BEGIN OPENSSH PRIVATE KEY-----\n${lines.join('\n')}\n-----END OPENSSH PRIVATE KEY-----\n`,
    publicLine: `${KEY_TYPE} ${publicBlob.toString('base64')} ${comment}`,
  };
}

/** A reader of SSH wire strings that returns undefined past the end instead of throwing. */
class Reader {
  private at = 0;
  constructor(private readonly buf: Buffer) {}
  bytes(n: number): Buffer | undefined {
    if (n < 0 || this.at + n > this.buf.length) return undefined;
    this.at += n;
    return this.buf.subarray(this.at - n, this.at);
  }
  u32(): number | undefined {
    return this.bytes(4)?.readUInt32BE(0);
  }
  string(): Buffer | undefined {
    const n = this.u32();
    return n === undefined ? undefined : this.bytes(n);
  }
}

/**
 * The seed and comment of an unencrypted ed25519 OpenSSH key file whose public key was written
 * without its leading zero bytes (ssh2's bug), or undefined when the file is anything else. The
 * seed is accepted only when the public key it derives is those zero bytes followed by the bytes
 * written.
 */
export function seedOfShortKey(text: string): { seed: Buffer; comment: string } | undefined {
  const m = /-----BEGIN OPENSSH PRIVATE KEY-----([A-Za-z0-9+/=\s]+)-----END OPENSSH PRIVATE KEY-----/.exec(
    text,
  );
  if (!m) return undefined;
  const r = new Reader(Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64'));
  if (!r.bytes(MAGIC.length)?.equals(MAGIC)) return undefined;
  if (r.string()?.toString() !== 'none' || r.string()?.toString() !== 'none') return undefined;
  if (r.string() === undefined || r.u32() !== 1) return undefined;
  const outer = r.string();
  if (!outer) return undefined;
  const priv = r.string();
  if (!priv) return undefined;
  const p = new Reader(priv);
  const check = p.u32();
  if (check === undefined || p.u32() !== check || p.string()?.toString() !== KEY_TYPE) return undefined;
  const pub = p.string();
  const secret = p.string();
  const comment = p.string();
  // ssh2 strips every leading zero byte: 31 bytes for 1 key in 256, 30 for 1 in 65,536, …
  if (!pub || pub.length >= 32 || secret?.length !== 32 + pub.length || comment === undefined)
    return undefined;
  const seed = Buffer.from(secret.subarray(0, 32));
  if (!secret.subarray(32).equals(pub)) return undefined;
  const derived = ed25519PublicKey(seed);
  const zeros = 32 - pub.length;
  if (!derived.subarray(0, zeros).equals(Buffer.alloc(zeros)) || !derived.subarray(zeros).equals(pub))
    return undefined;
  // The file's public key blob must be the one ssh2 writes with the same short bytes; anything
  // else is not its bug.
  if (!outer.equals(Buffer.concat([sshString(KEY_TYPE), sshString(pub)]))) return undefined;
  return { seed, comment: comment.toString('utf8') };
}

/** A name for a temporary file next to `file`, unique to this call. */
function tempName(file: string): string {
  return `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
}

/** Writes `text` to a new file `tmp` (O_EXCL, `mode`) and fsyncs it before closing. */
function writeSynced(tmp: string, text: string, mode: number): void {
  const fd = fs.openSync(tmp, 'wx', mode);
  try {
    fs.writeFileSync(fd, text);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Makes a rename, link or unlink in `dir` durable. */
function fsyncDir(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

function removeQuietly(file: string): void {
  try {
    fs.unlinkSync(file);
  } catch {
    // Already gone, or the directory is not writable: nothing more to do.
  }
}

/** Replaces `file` with `text`: a reader sees the old file or the new one, whole, even after a crash. */
function writeAtomically(file: string, text: string, mode: number): void {
  const tmp = tempName(file);
  try {
    writeSynced(tmp, text, mode);
    fs.renameSync(tmp, file);
  } catch (err) {
    removeQuietly(tmp);
    throw err;
  }
  fsyncDir(path.dirname(file));
}

/**
 * Creates `file` with `text` only if it does not exist yet, whole or not at all: the text is
 * written and fsynced under a temporary name, then hard-linked into place (link(2) fails with
 * EEXIST rather than replace a file). False when another process created it first.
 */
function createAtomically(file: string, text: string, mode: number): boolean {
  const tmp = tempName(file);
  try {
    writeSynced(tmp, text, mode);
  } catch (err) {
    removeQuietly(tmp);
    throw err;
  }
  try {
    fs.linkSync(tmp, file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    removeQuietly(tmp);
  }
  fsyncDir(path.dirname(file));
  return true;
}

function reason(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Reads the host key, creating it (ed25519, mode 0600) the first time; creation is race-free and
 * crash-safe (see createAtomically). A file ssh2 cannot parse is repaired when it is ssh2's
 * short-public-key bug, and refused with what to do otherwise. A repair that cannot be written back
 * still returns the repaired key, with a warning.
 */
export function loadOrCreateHostKey(file: string, comment = 'paastech git host key'): HostKey {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  let origin: HostKeyOrigin = 'read';
  if (!fs.existsSync(file)) {
    const key = encodeEd25519(randomBytes(32), comment);
    if (createAtomically(file, key.privateKey, 0o600)) {
      writeAtomically(`${file}.pub`, `${key.publicLine}\n`, 0o644);
      origin = 'created';
    }
  }
  const text = fs.readFileSync(file, 'utf8');
  const parsed = ssh2.utils.parseKey(text);
  const key = parsed instanceof Error ? undefined : Array.isArray(parsed) ? parsed[0] : parsed;
  if (key?.isPrivateKey()) {
    const publicLine = `${key.type} ${key.getPublicSSH().toString('base64')} ${key.comment}`.trimEnd();
    return { privateKey: text, publicLine, origin };
  }
  const short = seedOfShortKey(text);
  if (!short) {
    const why = parsed instanceof Error ? parsed.message : 'it is a public key, not a private one';
    throw new Error(
      `the SSH host key ${file} cannot be read (${why}); restore it from a backup, or remove it ` +
        `and ${file}.pub to create a new one (git clients will then warn that the host key changed)`,
    );
  }
  const repaired = encodeEd25519(short.seed, short.comment);
  try {
    writeAtomically(file, repaired.privateKey, 0o600);
  } catch (err) {
    const warning =
      `the SSH host key ${file}, written by ssh2's short-public-key bug, is used repaired but could ` +
      `not be written back (${reason(err)}); it is repaired again on every start until it can be`;
    return { ...repaired, origin: 'repaired', warning };
  }
  try {
    writeAtomically(`${file}.pub`, `${repaired.publicLine}\n`, 0o644);
  } catch (err) {
    const warning =
      `the SSH host key ${file} was repaired (ssh2's short-public-key bug), but ${file}.pub could ` +
      `not be written (${reason(err)}); it may still hold the public key one byte short`;
    return { ...repaired, origin: 'repaired', warning };
  }
  return { ...repaired, origin: 'repaired' };
}
