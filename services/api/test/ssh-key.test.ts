import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { InvalidArgumentError } from '@paastech/kit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseSshPublicKey } from '../src/ssh-keys/ssh-key.js';

let dir: string;

/** Generates a key pair with the real ssh-keygen and returns the paths of both halves. */
function keygen(name: string, ...args: string[]): { pub: string; priv: string } {
  const priv = path.join(dir, name);
  execFileSync('ssh-keygen', ['-q', '-N', '', '-C', `${name}@test`, '-f', priv, ...args]);
  return { pub: `${priv}.pub`, priv };
}

/** What `ssh-keygen -lf` prints for a public key file: bits, fingerprint, type. */
function keygenFingerprint(pub: string): { bits: number; fingerprint: string } {
  const out = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', pub], { encoding: 'utf8' }).trim();
  const [bits, fingerprint] = out.split(' ');
  return { bits: Number(bits), fingerprint: fingerprint! };
}

/** An SSH wire-format blob made of length-prefixed strings. */
function wire(...parts: (string | Buffer)[]): string {
  return Buffer.concat(
    parts.flatMap((p) => {
      const b = typeof p === 'string' ? Buffer.from(p) : p;
      const len = Buffer.alloc(4);
      len.writeUInt32BE(b.length);
      return [len, b];
    }),
  ).toString('base64');
}

/** The message parseSshPublicKey throws for `input`. */
function refusal(input: unknown): string {
  try {
    parseSshPublicKey(input);
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidArgumentError);
    return (err as Error).message;
  }
  throw new Error('expected the key to be refused');
}

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'paastech-sshkey-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('parseSshPublicKey against the real ssh-keygen', () => {
  it.each([
    ['ed25519', ['-t', 'ed25519'], 'ssh-ed25519', 256],
    ['ecdsa256', ['-t', 'ecdsa', '-b', '256'], 'ecdsa-sha2-nistp256', 256],
    ['ecdsa384', ['-t', 'ecdsa', '-b', '384'], 'ecdsa-sha2-nistp384', 384],
    ['ecdsa521', ['-t', 'ecdsa', '-b', '521'], 'ecdsa-sha2-nistp521', 521],
    ['rsa2048', ['-t', 'rsa', '-b', '2048'], 'ssh-rsa', 2048],
    ['rsa3072', ['-t', 'rsa', '-b', '3072'], 'ssh-rsa', 3072],
  ])('accepts %s with the fingerprint ssh-keygen prints', (name, args, type, bits) => {
    const { pub } = keygen(name, ...args);
    const line = fs.readFileSync(pub, 'utf8');
    const key = parseSshPublicKey(line);
    const expected = keygenFingerprint(pub);
    expect(key.fingerprint).toBe(expected.fingerprint);
    expect(key.bits).toBe(expected.bits);
    expect(key.bits).toBe(bits);
    expect(key.type).toBe(type);
    expect(key.comment).toBe(`${name}@test`);
    expect(line.startsWith(key.openssh)).toBe(true);
  });

  it('accepts a key without a comment and with surrounding blank space', () => {
    const { pub } = keygen('nocomment', '-t', 'ed25519');
    const [type, data] = fs.readFileSync(pub, 'utf8').split(' ');
    const key = parseSshPublicKey(`\n  ${type}\t${data}  \n`);
    expect(key.comment).toBe('');
    expect(key.fingerprint).toBe(keygenFingerprint(pub).fingerprint);
  });

  it('refuses rsa of 1024 bits, saying how many it has', () => {
    const { pub } = keygen('rsa1024', '-t', 'rsa', '-b', '1024');
    expect(refusal(fs.readFileSync(pub, 'utf8'))).toBe(
      'ssh key: rsa keys must have at least 2048 bits (this one has 1024)',
    );
  });

  it('refuses a DSA key made by ssh-keygen', () => {
    const { pub } = keygen('dsa', '-t', 'dsa');
    expect(refusal(fs.readFileSync(pub, 'utf8'))).toBe(
      'ssh key: DSA keys are not accepted (use ed25519, ecdsa or rsa of 2048+ bits)',
    );
  });

  it('refuses a hand-made DSA key', () => {
    const dsa = `ssh-dss ${wire('ssh-dss', Buffer.alloc(129, 1), Buffer.alloc(21, 1), Buffer.alloc(129, 1), Buffer.alloc(129, 1))}`;
    expect(refusal(dsa)).toContain('DSA keys are not accepted');
  });

  it('refuses a private key pasted by mistake, saying so', () => {
    const { priv } = keygen('private', '-t', 'ed25519');
    const message = refusal(fs.readFileSync(priv, 'utf8'));
    expect(message).toContain('this is a private key: paste the public key (the .pub file)');
    expect(refusal('-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----')).toContain(
      'this is a private key',
    );
  });

  it('refuses a certificate', () => {
    const ca = keygen('ca', '-t', 'ed25519');
    const user = keygen('user', '-t', 'ed25519');
    execFileSync('ssh-keygen', ['-q', '-s', ca.priv, '-I', 'id', '-n', 'git', user.pub]);
    const cert = fs.readFileSync(path.join(dir, 'user-cert.pub'), 'utf8');
    expect(refusal(cert)).toContain('certificates are not accepted');
  });

  it('refuses a key in PEM / RFC 4716 format', () => {
    const { pub } = keygen('pem', '-t', 'rsa', '-b', '2048');
    const pkcs8 = execFileSync('ssh-keygen', ['-e', '-m', 'PKCS8', '-f', pub], { encoding: 'utf8' });
    const rfc4716 = execFileSync('ssh-keygen', ['-e', '-f', pub], { encoding: 'utf8' });
    expect(refusal(pkcs8)).toContain('must be in OpenSSH format');
    expect(refusal(rfc4716)).toContain('must be in OpenSSH format');
  });
});

describe('parseSshPublicKey with hostile input', () => {
  const ed = Buffer.alloc(32, 7);
  const good = wire('ssh-ed25519', ed);

  it('accepts a hand-built ed25519 key', () => {
    expect(parseSshPublicKey(`ssh-ed25519 ${good} me`).bits).toBe(256);
  });

  it.each([
    ['', 'must not be empty'],
    ['   \n', 'must not be empty'],
    ['garbage', 'must be an OpenSSH public key line'],
    ['ssh-ed25519', 'must be an OpenSSH public key line'],
    [`command="rm -rf /" ssh-ed25519 ${good}`, 'must be an OpenSSH public key line'],
    [`ssh-ed25519 ${good}\nssh-ed25519 ${good}`, 'must be a single key on one line'],
    [`ssh-ed25519 ${good.slice(0, -4)}`, 'key data'],
    [`ssh-ed25519 ${good}!`, 'key data must be base64'],
    [`ssh-ed25519 ${good.slice(0, -1)}`, 'key data must be base64'],
    [`ssh-ed25519 ${wire('ssh-ed25519', Buffer.alloc(31))}`, 'ed25519 key data must hold 32 bytes'],
    [`ssh-ed25519 ${wire('ssh-ed25519', ed, 'extra')}`, 'key data has trailing bytes'],
    [`ssh-rsa ${good}`, 'key type does not match the key data'],
    [`ssh-ed25519 ${wire('ssh-rsa', Buffer.from([1, 0, 1]), Buffer.alloc(257, 0xff))}`, 'does not match'],
    [`ssh-foo ${wire('ssh-foo', ed)}`, 'key type "ssh-foo" is not accepted'],
    [
      `sk-ssh-ed25519@openssh.com ${wire('sk-ssh-ed25519@openssh.com', ed, 'ssh:')}`,
      'security-key (sk-) keys',
    ],
    [
      `ecdsa-sha2-nistp256 ${wire('ecdsa-sha2-nistp256', 'nistp384', Buffer.alloc(65, 4))}`,
      'ecdsa curve does not match the key type',
    ],
    [
      `ecdsa-sha2-nistp256 ${wire('ecdsa-sha2-nistp256', 'nistp256', Buffer.alloc(33, 2))}`,
      'ecdsa key data must be an uncompressed point',
    ],
    [
      `ecdsa-sha2-nistp256 ${wire('ecdsa-sha2-nistp256', 'nistp256', Buffer.concat([Buffer.from([4]), Buffer.alloc(64, 9)]))}`,
      'ecdsa key data is not a valid public key',
    ],
    [
      `ssh-rsa ${wire('ssh-rsa', Buffer.from([1, 0, 1]), Buffer.alloc(2100, 0xff))}`,
      'at most 16384 bits (this one has 16800)',
    ],
    [`ssh-ed25519 ${wire('ssh-ed25519', ed)} bell\u0007`, 'comment must not contain control characters'],
    [`ssh-ed25519 ${wire('ssh-ed25519', ed)} ${'c'.repeat(300)}`, 'comment must be at most 255 characters'],
    ['x'.repeat(20_000), 'must be at most 16384 characters'],
    [`\u0455sh-ed25519 ${good}`, 'must be an OpenSSH public key line'], // Cyrillic ѕ
  ])('refuses %#', (input, message) => {
    expect(refusal(input)).toContain(message);
  });

  it.each([[['ssh-ed25519 AAAA']], [{ key: 'x' }], [42], [null]])('refuses the non-string %j', (value) => {
    expect(refusal(value)).toBe('ssh key: must be a string');
  });

  it('reports the rule on the public_key field', () => {
    try {
      parseSshPublicKey('nope');
    } catch (err) {
      expect((err as InvalidArgumentError).violations[0]?.field).toBe('public_key');
    }
  });
});
