import { describe, expect, it } from 'vitest';
import {
  checkCommitSha,
  checkProjectId,
  matchAdvertisedService,
  matchGitHttpPath,
  parseRefUpdates,
  parseSshCommand,
  splitRequestUrl,
} from '../src/parse.js';
import { FailureLimiter } from '../src/rate-limit.js';
import { basicPassword } from '../src/smart-http.js';
import { sshFingerprint } from '../src/ssh.js';

const A = 'a'.repeat(40);
const B = 'b'.repeat(40);

describe('matchGitHttpPath', () => {
  it.each([
    ['/shop.git/info/refs', { project: 'shop', endpoint: 'info/refs' }],
    ['/shop.git/git-upload-pack', { project: 'shop', endpoint: 'git-upload-pack' }],
    ['/my-app-2.git/git-receive-pack', { project: 'my-app-2', endpoint: 'git-receive-pack' }],
  ])('accepts %s', (p, want) => {
    expect(matchGitHttpPath(p)).toEqual(want);
  });

  it.each([
    '/../shop.git/info/refs',
    '/shop.git/../other.git/info/refs',
    '/%2e%2e/shop.git/info/refs',
    '/shop.git/%2e%2e/info/refs',
    '/shop%2egit/info/refs',
    '/shop.git\\..\\other.git/info/refs',
    '\\shop.git/info/refs',
    '//shop.git/info/refs',
    '/shop.git//info/refs',
    '/etc/passwd',
    '/tmp/x.git/info/refs',
    '/shop.git/objects/info/alternates',
    '/shop.git/objects/info/packs',
    '/shop.git/HEAD',
    '/shop.git/config',
    '/shop.git/git-upload-archive',
    '/shop.git/info/refs/',
    '/Shop.git/info/refs',
    '/-shop.git/info/refs',
    '/shop-.git/info/refs',
    '/shop/info/refs',
    '/shop.git',
    `/${'a'.repeat(64)}.git/info/refs`,
    '/shop.git/info/refs\0',
    '/sh op.git/info/refs',
  ])('refuses %j', (p) => {
    expect(matchGitHttpPath(p)).toBeUndefined();
  });
});

describe('request URL and service', () => {
  it.each([
    ['service=git-upload-pack', 'git-upload-pack'],
    ['service=git-receive-pack', 'git-receive-pack'],
    ['service=git-upload-archive', undefined],
    ['service=--upload-pack=touch', undefined],
    ['service=git-upload-pack&service=git-receive-pack', undefined],
    ['', undefined],
  ])('service of %j is %s', (q, want) => {
    expect(matchAdvertisedService(q)).toBe(want);
  });

  it('refuses URLs with non-ASCII or control bytes', () => {
    expect(splitRequestUrl('/shop.git/info/refs?service=git-upload-pack')).toEqual({
      pathname: '/shop.git/info/refs',
      query: 'service=git-upload-pack',
    });
    expect(splitRequestUrl('/shöp.git/info/refs')).toBeUndefined();
    expect(splitRequestUrl('/shop.git/info/refs\t')).toBeUndefined();
  });
});

describe('parseSshCommand', () => {
  it.each([
    ["git-upload-pack 'shop.git'", { service: 'git-upload-pack', project: 'shop' }],
    ["git-receive-pack '/shop.git'", { service: 'git-receive-pack', project: 'shop' }],
  ])('accepts %s', (c, want) => {
    expect(parseSshCommand(c)).toEqual(want);
  });

  it.each([
    'git-upload-pack shop.git',
    "git-upload-pack '../shop.git'",
    "git-upload-pack '/srv/shop.git'",
    "git-upload-pack 'shop.git'; id",
    "git-upload-pack 'shop.git' && id",
    "git-upload-archive 'shop.git'",
    "git-upload-pack '--upload-pack=id'",
    "git-upload-pack 'shop.git' extra",
    "git upload-pack 'shop.git'",
    "git-upload-pack  'shop.git'",
    "git-upload-pack 'shop'",
    "git-upload-pack '$(id).git'",
    "git-receive-pack 'sh\\op.git'",
    'sh',
    'bash -c id',
    '',
  ])('refuses %j', (c) => {
    expect(parseSshCommand(c)).toBeUndefined();
  });
});

describe('ids and object names', () => {
  it.each(['../etc', 'a/b', '', 'A-UPPER', '-x', 'x'.repeat(65), 'a b', 'a\0b', '.git'])(
    'refuses project id %j',
    (id) => {
      expect(() => checkProjectId(id)).toThrow(/must be 1-64 characters/);
    },
  );

  it('accepts uuids and slugs as project ids', () => {
    expect(checkProjectId('3f2b8c1e-2d4a-4b6f-9e1a-0c5d7e8f9a0b')).toBe(
      '3f2b8c1e-2d4a-4b6f-9e1a-0c5d7e8f9a0b',
    );
    expect(checkProjectId('p-shop')).toBe('p-shop');
  });

  it.each(['HEAD', 'main', A.slice(1), `${A}0`, A.toUpperCase(), '--output=/tmp/x', `${A}^{tree}`])(
    'refuses commit %j',
    (sha) => {
      expect(() => checkCommitSha(sha)).toThrow(/must be a full object id/);
    },
  );
});

describe('parseRefUpdates', () => {
  it('parses lines, keeping hostile ref names as data', () => {
    expect(parseRefUpdates(`${A} ${B} refs/heads/main\n${A} ${B} refs/heads/--upload-pack=x\n`)).toEqual([
      { oldSha: A, newSha: B, refName: 'refs/heads/main' },
      { oldSha: A, newSha: B, refName: 'refs/heads/--upload-pack=x' },
    ]);
  });

  it.each([`${A} ${B}`, `${A} ${B} main`, `x ${B} refs/heads/main`, `${A} ${B} refs/heads/a b`])(
    'refuses %j',
    (line) => {
      expect(() => parseRefUpdates(line)).toThrow(/must be "<old> <new> <ref>"/);
    },
  );
});

describe('credentials', () => {
  it.each([
    [`Basic ${Buffer.from('git:tok').toString('base64')}`, 'tok'],
    [`Basic ${Buffer.from(':tok:with:colons').toString('base64')}`, 'tok:with:colons'],
    [`Basic ${Buffer.from('git:').toString('base64')}`, undefined],
    [`Basic ${Buffer.from('tokenonly').toString('base64')}`, undefined],
    ['Bearer abc', undefined],
    [undefined, undefined],
  ])('password of %j is %j', (header, want) => {
    expect(basicPassword(header)).toBe(want);
  });

  it('fingerprints a key blob as ssh-keygen does', () => {
    // sha256 of an empty input, unpadded base64 (the real-key comparison with ssh-keygen is in ssh.test.ts)
    expect(sshFingerprint(Buffer.alloc(0))).toBe('SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU');
  });

  it('limits failures per address within a window', () => {
    let now = 0;
    const limiter = new FailureLimiter(3, 10_000, () => now);
    for (let i = 0; i < 3; i++) limiter.fail('1.2.3.4');
    expect(limiter.retryAfter('1.2.3.4')).toBe(10);
    expect(limiter.retryAfter('5.6.7.8')).toBe(0);
    now = 10_000;
    expect(limiter.retryAfter('1.2.3.4')).toBe(0);
  });
});
