import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readApiConfig } from '../src/config.js';
import {
  configVarAad,
  masterKeyPath,
  resolveMasterKey,
  SecretBox,
  SecretBoxError,
} from '../src/crypto/secret-box.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

/** A fresh temp data dir, removed after the suite. */
function tempDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'paastech-secretbox-'));
  dirs.push(d);
  return d;
}

describe('SecretBox', () => {
  const box = new SecretBox(randomBytes(32));
  const aad = configVarAad('project-1', 'DATABASE_URL');

  it.each(['', 'postgres://u:p@h/db', 'é😀\n\t', 'x'.repeat(32 * 1024)])('round-trips a value', (value) => {
    const sealed = box.seal(value, aad);
    expect(sealed.keyVersion).toBe(1);
    expect(Buffer.from(sealed.nonce, 'base64')).toHaveLength(12);
    expect(box.open(sealed, aad)).toBe(value);
  });

  it('uses a fresh nonce each time and never stores the plaintext', () => {
    const a = box.seal('hunter2hunter2', aad);
    const b = box.seal('hunter2hunter2', aad);
    expect(a.nonce).not.toBe(b.nonce);
    expect(a.ciphertext).not.toBe(b.ciphertext);
    expect(Buffer.from(a.ciphertext, 'base64').toString('latin1')).not.toContain('hunter2');
  });

  it.each([
    ['another var name', configVarAad('project-1', 'OTHER')],
    ['another project', configVarAad('project-2', 'DATABASE_URL')],
    ['a shifted separator', configVarAad('project-1D', 'ATABASE_URL')],
  ])('refuses a ciphertext moved to %s', (_what, otherAad) => {
    const sealed = box.seal('secret', aad);
    expect(() => box.open(sealed, otherAad)).toThrow(SecretBoxError);
  });

  it('refuses tampered bytes, a wrong key, a relabelled key version and malformed values', () => {
    const sealed = box.seal('secret', aad);
    const bytes = Buffer.from(sealed.ciphertext, 'base64');
    bytes[0]! ^= 1;
    expect(() => box.open({ ...sealed, ciphertext: bytes.toString('base64') }, aad)).toThrow(
      'sealed value does not authenticate',
    );
    expect(() => new SecretBox(randomBytes(32)).open(sealed, aad)).toThrow(SecretBoxError);
    const ring = new SecretBox(
      new Map([
        [1, randomBytes(32)],
        [2, randomBytes(32)],
      ]),
      2,
    );
    const v2 = ring.seal('secret', aad);
    expect(v2.keyVersion).toBe(2);
    expect(ring.open(v2, aad)).toBe('secret');
    expect(() => ring.open({ ...v2, keyVersion: 1 }, aad)).toThrow(SecretBoxError);
    expect(() => box.open({ ...sealed, keyVersion: 9 }, aad)).toThrow('no master key of version 9');
    expect(() => box.open({ ...sealed, nonce: 'AAAA' }, aad)).toThrow('sealed value is malformed');
    expect(() => box.open({ ...sealed, ciphertext: '' }, aad)).toThrow('sealed value is malformed');
  });

  it('refuses keys that are not 32 bytes', () => {
    expect(() => new SecretBox(randomBytes(16))).toThrow('must be 32 bytes');
  });
});

describe('resolveMasterKey', () => {
  it('creates <dataDir>/keys/master.key with mode 0600 once and reuses it', () => {
    const dataDir = tempDir();
    const key = resolveMasterKey({ dataDir });
    expect(key).toHaveLength(32);
    expect(fs.statSync(masterKeyPath(dataDir)).mode & 0o777).toBe(0o600);
    expect(resolveMasterKey({ dataDir }).equals(key)).toBe(true);
  });

  it('prefers PAASTECH_MASTER_KEY (base64 of 32 bytes) and creates no file', () => {
    const dataDir = tempDir();
    const raw = randomBytes(32);
    expect(resolveMasterKey({ dataDir, masterKey: raw.toString('base64') }).equals(raw)).toBe(true);
    expect(fs.existsSync(masterKeyPath(dataDir))).toBe(false);
  });

  it.each(['short', randomBytes(31).toString('base64'), randomBytes(33).toString('base64')])(
    'refuses a master key that is not 32 bytes',
    (masterKey) => {
      expect(() => resolveMasterKey({ dataDir: tempDir(), masterKey })).toThrow(
        'master key from PAASTECH_MASTER_KEY must be base64 of 32 bytes',
      );
    },
  );
});

describe('PAASTECH_MASTER_KEY and PAASTECH_ROUTER_PORT in the API config', () => {
  it('reads a base64 master key and the router port', () => {
    const key = randomBytes(32).toString('base64');
    const config = readApiConfig({ PAASTECH_MASTER_KEY: key, PAASTECH_ROUTER_PORT: '80' });
    expect(config.masterKey).toBe(key);
    expect(config.routerPort).toBe(80);
    expect(readApiConfig({}).masterKey).toBeUndefined();
    expect(readApiConfig({}).routerPort).toBe(8080);
  });

  it.each(['short', randomBytes(16).toString('base64'), `${randomBytes(32).toString('base64')}x`])(
    'refuses the master key %j at start-up',
    (value) => {
      expect(() => readApiConfig({ PAASTECH_MASTER_KEY: value })).toThrow(
        'PAASTECH_MASTER_KEY: must be base64 of 32 bytes',
      );
    },
  );
});
