// Random secrets handed to clients (session ids, API tokens, device codes) and their stored form:
// only a sha256 hash is ever written to the database, so a leaked database grants no access.
import { createHash, randomBytes, randomInt } from 'node:crypto';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** sha256 of `secret` as hex: the form stored and looked up. */
export function sha256Hex(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

/** `length` uniformly random characters of `alphabet`. */
export function randomString(length: number, alphabet: string = BASE62): string {
  let out = '';
  for (let i = 0; i < length; i++) out += alphabet[randomInt(alphabet.length)];
  return out;
}

/** 32 random bytes, base64url: a session id or a device code. */
export function randomSecret(): string {
  return randomBytes(32).toString('base64url');
}
