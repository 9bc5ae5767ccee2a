import { describe, expect, it } from 'vitest';
import { parseAssignment, parseAssignments } from '../src/assignments.js';
import { formatCredential, parseCredentialRequest, requestOrigin } from '../src/credential.js';
import { UsageError } from '../src/errors.js';
import { parseDeploymentNumber, parseFormation } from '../src/formation.js';
import { projectFromRemoteUrl } from '../src/remote.js';
import { SseParser } from '../src/sse.js';
import { closest, levenshtein } from '../src/suggest.js';

const files: Record<string, string> = { 'cert.pem': '-----BEGIN-----\nabc\n', 'nul.bin': 'a\0b' };
const readFile = (p: string) => {
  if (p in files) return files[p]!;
  throw Object.assign(new Error('no such file'), { code: 'ENOENT' });
};

describe('KEY=VALUE parsing', () => {
  it.each([
    ['A=1', ['A', '1']],
    ['DATABASE_URL=postgres://u:p@h/db?x=1', ['DATABASE_URL', 'postgres://u:p@h/db?x=1']],
    ['EMPTY=', ['EMPTY', '']],
    ['_X=a=b=c', ['_X', 'a=b=c']],
    ['SPACES= two words ', ['SPACES', ' two words ']],
    ['MULTI=line1\nline2', ['MULTI', 'line1\nline2']],
    ['CERT=@cert.pem', ['CERT', '-----BEGIN-----\nabc\n']],
    ['AT=@@literal', ['AT', '@literal']],
    ['SHELL=$(rm -rf /); `id`', ['SHELL', '$(rm -rf /); `id`']],
    ['UNICODE=é✓', ['UNICODE', 'é✓']],
  ])('%j → %j', (arg, expected) => {
    expect(parseAssignment(arg, readFile)).toEqual(expected);
  });

  it.each([
    ['NOEQUALS', '"NOEQUALS": expected KEY=VALUE'],
    ['=value', 'config var name is empty: expected KEY=VALUE'],
    [
      'lower=1',
      'config var "lower": name must be upper-case letters, digits and _ and not start with a digit',
    ],
    ['1ABC=1', 'config var "1ABC": name must be upper-case'],
    ['A-B=1', 'config var "A-B": name must be upper-case'],
    ['A B=1', 'config var "A B": name must be upper-case'],
    ['ÉTÉ=1', 'config var "ÉTÉ": name must be upper-case'],
    ['--force=1', 'config var "--force": name must be upper-case'],
    ['../../X=1', 'config var "../../X": name must be upper-case'],
    ['K=@missing.txt', 'config var "K": cannot read file "missing.txt" (ENOENT)'],
    ['K=@', 'config var "K": expected a file name after @'],
    ['K=@nul.bin', 'config var "K": value must not contain a NUL byte'],
    ['K=a\0b', 'config var "K": value must not contain a NUL byte'],
  ])('refuses %j', (arg, message) => {
    const call = () => parseAssignment(arg, readFile);
    expect(call).toThrow(UsageError);
    expect(call).toThrow(message);
  });

  it('refuses a name given twice and an empty list', () => {
    expect(() => parseAssignments(['A=1', 'A=2'], readFile)).toThrow('config var "A": given more than once');
    expect(() => parseAssignments([], readFile)).toThrow('expected at least one KEY=VALUE');
    expect(parseAssignments(['A=1', 'B=2'], readFile)).toEqual({ A: '1', B: '2' });
  });

  it('keeps __proto__-like names as plain data', () => {
    expect(() => parseAssignments(['__proto__=1'], readFile)).toThrow('name must be upper-case');
    const parsed = parseAssignments(['__PROTO__=1', 'CONSTRUCTOR=2'], readFile);
    expect(Object.keys(parsed)).toEqual(['__PROTO__', 'CONSTRUCTOR']);
  });
});

describe('remote URL → project', () => {
  it.each([
    ['http://127.0.0.1:3001/my-app.git', 'my-app'],
    ['https://git.example.com/my-app.git', 'my-app'],
    ['https://git.example.com/my-app.git/', 'my-app'],
    ['https://user@git.example.com/prefix/my-app.git', 'my-app'],
    ['ssh://git@127.0.0.1:2222/my-app.git', 'my-app'],
    ['git@git.example.com:my-app.git', 'my-app'],
    ['git.example.com:/my-app.git', 'my-app'],
    ['  http://h/app1.git\n', 'app1'],
  ])('%j → %j', (url, name) => {
    expect(projectFromRemoteUrl(url)).toBe(name);
  });

  it.each([
    'http://h/My-App.git',
    'http://h/my_app.git',
    'http://h/-app.git',
    'http://h/app-.git',
    'http://h/app',
    'http://h/.git',
    'http://h/../x.git/..',
    'http://h/%2e%2e.git',
    'http://h/x.git?service=git-upload-pack',
    'http://h/x.git#frag',
    `http://h/${'a'.repeat(64)}.git`,
    'http://h/аpp.git', // Cyrillic а
    'file:///srv/git/app.git',
    '/srv/git/app.git',
    '../app.git',
    'ext::sh -c touch% /tmp/pwned',
    '--upload-pack=touch /tmp/x:app.git',
    'ftp://h/app.git',
    '',
  ])('refuses %j', (url) => {
    expect(projectFromRemoteUrl(url)).toBeUndefined();
  });
});

describe('git credential protocol', () => {
  it('parses what git sends and stops at the blank line', () => {
    const req = parseCredentialRequest(
      'protocol=http\nhost=127.0.0.1:3001\npath=app.git\n\nhost=evil.example\n',
    );
    expect(req).toEqual({ protocol: 'http', host: '127.0.0.1:3001', path: 'app.git' });
    expect(requestOrigin(req)).toBe('http://127.0.0.1:3001');
  });

  it('splits url= and tolerates CRLF and unknown keys', () => {
    const req = parseCredentialRequest('capability[]=authtype\r\nurl=https://Git.Example.com:8443/a.git\r\n');
    expect(requestOrigin(req)).toBe('https://git.example.com:8443');
  });

  it.each([
    ['host=h\n', undefined],
    ['protocol=http\n', undefined],
    ['protocol=ssh\nhost=h\n', undefined],
    ['protocol=file\nhost=h\n', undefined],
    ['garbage\n=x\nprotocol=https\nhost=h\n', 'https://h'],
    ['url=not a url\n', undefined],
  ])('origin of %j is %j', (input, origin) => {
    expect(requestOrigin(parseCredentialRequest(input))).toBe(origin);
  });

  it('formats an answer and refuses values that would inject lines', () => {
    expect(formatCredential('paastech', 'pt_abc')).toBe('username=paastech\npassword=pt_abc\n');
    expect(() => formatCredential('paastech', 'pt_abc\nhost=evil')).toThrow('line break');
    expect(() => formatCredential('a\0', 'x')).toThrow('NUL');
  });
});

describe('command suggestions', () => {
  it('measures edit distance', () => {
    expect(levenshtein('kitten', 'sitting')).toBe(3);
    expect(levenshtein('', 'abc')).toBe(3);
    expect(levenshtein('same', 'same')).toBe(0);
  });

  it.each([
    ['projcts', 'projects'],
    ['confg:set', 'config:set'],
    ['LOGIN', 'login'],
    ['domains:ad', 'domains:add'],
    ['xyzzy-frobnicate', undefined],
  ])('%j → %j', (input, expected) => {
    expect(closest(input, ['projects', 'config:set', 'config:get', 'login', 'logout', 'domains:add'])).toBe(
      expected,
    );
  });
});

describe('server-sent events', () => {
  it('parses events split across chunks, CRLF, comments and multi-line data', () => {
    const p = new SseParser();
    expect(p.push(': stream open\n\nevent: log\nda')).toEqual([]);
    expect(p.push('ta: {"text":"a"}\r\n\r\nevent: state\ndata: 1\ndata: 2\n\n')).toEqual([
      { event: 'log', data: '{"text":"a"}' },
      { event: 'state', data: '1\n2' },
    ]);
    expect(p.push('data: x\r')).toEqual([]);
    expect(p.push('\n\r\n')).toEqual([{ event: 'message', data: 'x' }]);
    expect(p.push('event: empty\n\n')).toEqual([]);
  });
});

describe('ps:scale and deployment arguments', () => {
  it('parses TYPE=COUNT pairs', () => {
    expect(parseFormation(['web=2', 'worker=0', 'clock_1=10'])).toEqual({ web: 2, worker: 0, clock_1: 10 });
  });

  it.each([
    [[], 'expected at least one TYPE=COUNT'],
    [['web'], '"web": expected TYPE=COUNT such as web=2'],
    [['web=-1'], 'web="-1": count must be a whole number'],
    [['web=2.5'], 'web="2.5": count must be a whole number'],
    [['web=lots'], 'web="lots": count must be a whole number'],
    [['web='], 'web="": count must be a whole number'],
    [['Web=1'], 'process type "Web": must be lower-case'],
    [['=1'], 'process type "": must be lower-case'],
    [['--all=1'], 'process type "--all": must be lower-case'],
    [['web=1', 'web=2'], 'process type "web": given more than once'],
    [['__proto__=1'], 'process type "__proto__": must be lower-case'],
  ])('refuses %j', (args, message) => {
    expect(() => parseFormation(args)).toThrow(message);
  });

  it.each([
    ['v3', 3],
    ['V12', 12],
    ['7', 7],
  ])('reads deployment %s', (raw, n) => {
    expect(parseDeploymentNumber(raw)).toBe(n);
  });

  it.each(['v0', '0', 'v', 'v-1', 'v3.1', 'latest', 'v99999999999', '../v1'])(
    'refuses deployment %s',
    (raw) => {
      expect(() => parseDeploymentNumber(raw)).toThrow(`deployment "${raw}": expected vN such as v3`);
    },
  );
});
