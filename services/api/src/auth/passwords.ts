// Password rules and hashing. Hashes are argon2id with OWASP's recommended parameters
// (m = 19 MiB, t = 2, p = 1); the rules are NIST 800-63B's: length, and not a common password.
import fs from 'node:fs';
import { hash, verify } from '@node-rs/argon2';
import { type FieldViolation, InvalidArgumentError } from '@paastech/kit';

/** argon2id (the Algorithm const enum of @node-rs/argon2, which isolatedModules cannot inline). */
const ARGON2ID = 2;

export const ARGON2_OPTIONS = {
  algorithm: ARGON2ID,
  memoryCost: 19_456,
  timeCost: 2,
  parallelism: 1,
} as const;

export const PASSWORD_MIN = 10;
export const PASSWORD_MAX = 256;

let common: Set<string> | undefined;

/** The shipped list of the most common passwords (lower-cased), loaded on first use. */
function commonPasswords(): Set<string> {
  // dist/auth and src/auth are both two levels below the package, so this path works from either.
  const file = new URL('../../src/auth/common-passwords.txt', import.meta.url);
  common ??= new Set(fs.readFileSync(file, 'utf8').split('\n').filter(Boolean));
  return common;
}

/** Number of passwords in the shipped list. */
export function commonPasswordCount(): number {
  return commonPasswords().size;
}

/** The rule `password` breaks, or undefined when it is acceptable. */
export function passwordProblem(password: string): string | undefined {
  const length = [...password].length;
  if (length < PASSWORD_MIN) return `password must be at least ${PASSWORD_MIN} characters`;
  if (length > PASSWORD_MAX) return `password must be at most ${PASSWORD_MAX} characters`;
  if (commonPasswords().has(password.toLowerCase()))
    return 'password is one of the most common passwords: choose another';
  return undefined;
}

/** Throws InvalidArgumentError (field `password`) when the password breaks a rule. */
export function checkPassword(password: string): void {
  const message = passwordProblem(password);
  if (!message) return;
  const violation: FieldViolation = { field: 'password', message };
  throw new InvalidArgumentError(message, [violation]);
}

/** Hashes a password with argon2id. */
export function hashPassword(password: string): Promise<string> {
  return hash(password, ARGON2_OPTIONS);
}

/** Verifies a password against a stored hash; false on mismatch or on a malformed hash. */
export async function verifyPassword(stored: string, password: string): Promise<boolean> {
  try {
    return await verify(stored, password);
  } catch {
    return false;
  }
}
