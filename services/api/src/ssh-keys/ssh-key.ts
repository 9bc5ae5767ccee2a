// OpenSSH public keys (`type base64 [comment]`, one line of an authorized_keys file without
// options). Invariant: a key accepted here is one the git controller's SSH server can verify —
// ed25519, ECDSA on NIST P-256/384/521, or RSA of 2048 to 16384 bits — its blob is well-formed to
// the last byte, and its fingerprint is exactly what `ssh-keygen -lf` prints, so a Client can
// compare the two by eye.
import { createHash, createPublicKey, type JsonWebKey } from 'node:crypto';
import { InvalidArgumentError } from '@paastech/kit';

/** A parsed, validated public key. */
export interface SshPublicKey {
  /** Algorithm name, e.g. `ssh-ed25519`. */
  type: string;
  /** Size as ssh-keygen reports it (256 for ed25519, the curve size for ECDSA, modulus bits for RSA). */
  bits: number;
  /** `SHA256:` + unpadded base64 of the SHA-256 of the key blob, as `ssh-keygen -lf` prints it. */
  fingerprint: string;
  /** The key blob, base64 (canonical). */
  blob: string;
  /** The text after the key, trimmed; empty when there was none. */
  comment: string;
  /** `type blob` — the key as stored and handed to the git controller (comment dropped). */
  openssh: string;
}

export const SSH_KEY_MAX_CHARS = 16 * 1024;
export const RSA_MIN_BITS = 2048;
export const RSA_MAX_BITS = 16384;
export const SSH_KEY_COMMENT_MAX = 255;

const CURVES: Record<string, { curve: string; jwk: string; bits: number; pointBytes: number }> = {
  'ecdsa-sha2-nistp256': { curve: 'nistp256', jwk: 'P-256', bits: 256, pointBytes: 65 },
  'ecdsa-sha2-nistp384': { curve: 'nistp384', jwk: 'P-384', bits: 384, pointBytes: 97 },
  'ecdsa-sha2-nistp521': { curve: 'nistp521', jwk: 'P-521', bits: 521, pointBytes: 133 },
};

/** Throws the InvalidArgumentError of an unusable key, on the `public_key` field. */
function refuse(rule: string): never {
  throw new InvalidArgumentError(`ssh key: ${rule}`, [{ field: 'public_key', message: rule }]);
}

/** Reads the length-prefixed strings of the SSH wire format, refusing truncation. */
class WireReader {
  private offset = 0;
  constructor(private readonly buf: Buffer) {}
  /** Next length-prefixed string as bytes. */
  bytes(): Buffer {
    if (this.offset + 4 > this.buf.length) refuse('key data is truncated');
    const len = this.buf.readUInt32BE(this.offset);
    this.offset += 4;
    if (len > this.buf.length - this.offset) refuse('key data is truncated');
    const out = this.buf.subarray(this.offset, this.offset + len);
    this.offset += len;
    return out;
  }
  /** Next length-prefixed string as ASCII text. */
  text(): string {
    return this.bytes().toString('latin1');
  }
  /** Refuses bytes left after the last field. */
  end(): void {
    if (this.offset !== this.buf.length) refuse('key data has trailing bytes');
  }
}

/** Refuses the common wrong pastes (private keys, PEM, certificates) with a message that says so. */
function refuseWrongKinds(text: string, type: string): void {
  if (/PRIVATE KEY/.test(text)) {
    refuse('this is a private key: paste the public key (the .pub file) and keep the private key secret');
  }
  if (/^-{4,5} ?BEGIN/.test(text)) refuse('must be in OpenSSH format ("ssh-ed25519 AAAA… comment")');
  if (type === 'ssh-dss') refuse('DSA keys are not accepted (use ed25519, ecdsa or rsa of 2048+ bits)');
  if (type.includes('-cert-v01@openssh.com'))
    refuse('certificates are not accepted: paste a plain public key');
  if (type.startsWith('sk-')) refuse('security-key (sk-) keys are not accepted: use ed25519, ecdsa or rsa');
}

/** Bit length of an unsigned big-endian integer given as an SSH mpint. */
function mpintBits(mpint: Buffer): number {
  let i = 0;
  while (i < mpint.length && mpint[i] === 0) i++;
  if (i === mpint.length) return 0;
  return (mpint.length - i - 1) * 8 + (32 - Math.clz32(mpint[i]!));
}

/** base64url without padding of an mpint's magnitude, for a JWK. */
function mpintJwk(mpint: Buffer): string {
  let i = 0;
  while (i < mpint.length - 1 && mpint[i] === 0) i++;
  return mpint.subarray(i).toString('base64url');
}

/** Asks OpenSSL whether the key material is a valid public key; refuses it otherwise. */
function assertLoadable(jwk: JsonWebKey, what: string): void {
  try {
    createPublicKey({ key: jwk, format: 'jwk' });
  } catch {
    refuse(`${what} key data is not a valid public key`);
  }
}

/** Validates the blob of `type` and returns its size in bits. */
function blobBits(type: string, blob: Buffer): number {
  const r = new WireReader(blob);
  if (r.text() !== type) refuse('key type does not match the key data');
  if (type === 'ssh-ed25519') {
    if (r.bytes().length !== 32) refuse('ed25519 key data must hold 32 bytes');
    r.end();
    return 256;
  }
  if (type === 'ssh-rsa') {
    const e = r.bytes();
    const n = r.bytes();
    r.end();
    const bits = mpintBits(n);
    if (bits < RSA_MIN_BITS)
      refuse(`rsa keys must have at least ${RSA_MIN_BITS} bits (this one has ${bits})`);
    if (bits > RSA_MAX_BITS) refuse(`rsa keys must have at most ${RSA_MAX_BITS} bits (this one has ${bits})`);
    assertLoadable({ kty: 'RSA', n: mpintJwk(n), e: mpintJwk(e) }, 'rsa');
    return bits;
  }
  const curve = CURVES[type];
  if (!curve) refuse(`key type "${type}" is not accepted (use ed25519, ecdsa or rsa of 2048+ bits)`);
  if (r.text() !== curve.curve) refuse('ecdsa curve does not match the key type');
  const q = r.bytes();
  r.end();
  if (q.length !== curve.pointBytes || q[0] !== 4) refuse('ecdsa key data must be an uncompressed point');
  const half = (q.length - 1) / 2;
  assertLoadable(
    {
      kty: 'EC',
      crv: curve.jwk,
      x: q.subarray(1, 1 + half).toString('base64url'),
      y: q.subarray(1 + half).toString('base64url'),
    },
    'ecdsa',
  );
  return curve.bits;
}

/** Decodes strict, canonical base64 (what ssh-keygen writes); refuses anything else. */
function decodeBase64(text: string): Buffer {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text) || text.length % 4 !== 0) refuse('key data must be base64');
  const buf = Buffer.from(text, 'base64');
  if (buf.toString('base64') !== text) refuse('key data must be base64');
  return buf;
}

/** The fingerprint `ssh-keygen -lf` prints for a key blob. */
export function sshFingerprint(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/** Parses one OpenSSH public key line from untrusted input; throws InvalidArgumentError naming the rule. */
export function parseSshPublicKey(input: unknown): SshPublicKey {
  if (typeof input !== 'string') refuse('must be a string');
  if (input.length > SSH_KEY_MAX_CHARS) refuse(`must be at most ${SSH_KEY_MAX_CHARS} characters`);
  const text = input.trim();
  if (text === '') refuse('must not be empty');
  const [type = '', data = '', ...rest] = text.split(/[ \t]+/);
  refuseWrongKinds(text, type);
  if (/[\r\n]/.test(text)) refuse('must be a single key on one line');
  if (!/^(ssh|ecdsa)-[a-z0-9@.-]+$/.test(type) || data === '') {
    refuse('must be an OpenSSH public key line ("ssh-ed25519 AAAA… comment"), without options');
  }
  if (type !== 'ssh-ed25519' && type !== 'ssh-rsa' && !CURVES[type]) {
    refuse(`key type "${type}" is not accepted (use ed25519, ecdsa or rsa of 2048+ bits)`);
  }
  const blob = decodeBase64(data);
  const bits = blobBits(type, blob);
  const comment = rest.join(' ');
  if (comment.length > SSH_KEY_COMMENT_MAX)
    refuse(`comment must be at most ${SSH_KEY_COMMENT_MAX} characters`);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
  if (/[\u0000-\u001f\u007f]/.test(comment)) refuse('comment must not contain control characters');
  return { type, bits, fingerprint: sshFingerprint(blob), blob: data, comment, openssh: `${type} ${data}` };
}
