import { InvalidArgumentError } from '@paastech/kit';
import { describe, expect, it } from 'vitest';
import { BuildOutput } from '../src/deployments/build-output.js';
import { parseFormation, storedFormation } from '../src/deployments/formation.js';
import { parseLogsQuery } from '../src/deployments/logs-query.js';
import { parseDeploymentNumber } from '../src/deployments/project-deployments.js';
import { decidePush, deployBranch, type RefChange } from '../src/deployments/push-policy.js';

const ZERO = '0'.repeat(40);
const A = 'a'.repeat(40);
const change = (refName: string, newSha = A): RefChange => ({ oldSha: ZERO, newSha, refName });
const NONE = { main: false, master: false };

describe('push policy', () => {
  it.each([
    ['an empty repository, main pushed', [change('refs/heads/main')], NONE, 'refs/heads/main'],
    ['an empty repository, master pushed', [change('refs/heads/master')], NONE, 'refs/heads/master'],
    [
      'both pushed at once',
      [change('refs/heads/master'), change('refs/heads/main')],
      NONE,
      'refs/heads/main',
    ],
    [
      'master pushed, main exists',
      [change('refs/heads/master')],
      { main: true, master: true },
      'refs/heads/main',
    ],
    [
      'dev pushed, only master exists',
      [change('refs/heads/dev')],
      { main: false, master: true },
      'refs/heads/master',
    ],
    ['dev pushed, nothing exists', [change('refs/heads/dev')], NONE, 'refs/heads/main'],
  ])('picks the deploy branch: %s', (_name, changes, existing, branch) => {
    expect(deployBranch(changes, existing)).toBe(branch);
  });

  it.each([
    ['refs/heads/dev', A, [], { kind: 'not-deployed', reason: 'stored, not deployed (only main deploys)' }],
    ['refs/tags/v1', A, [], { kind: 'not-deployed', reason: 'stored, not deployed (only main deploys)' }],
    [
      'refs/heads/main',
      ZERO,
      [],
      { kind: 'rejected', reason: 'branch "main" is the deploy branch: it cannot be deleted' },
    ],
    [
      'refs/heads/main',
      A,
      ['skip-deploy'],
      { kind: 'not-deployed', reason: 'stored, not deployed (push option skip-deploy)' },
    ],
    ['refs/heads/main', A, ['other'], { kind: 'deploy', refName: 'refs/heads/main', commitSha: A }],
    [
      'refs/heads/main',
      'b'.repeat(64),
      [],
      { kind: 'deploy', refName: 'refs/heads/main', commitSha: 'b'.repeat(64) },
    ],
    [
      'refs/heads/main',
      '--upload-pack=x',
      [],
      { kind: 'rejected', reason: 'ref "main": "--upload-pack=x" is not a full object id' },
    ],
    [
      'refs/heads/main',
      'A'.repeat(40),
      [],
      { kind: 'rejected', reason: `ref "main": "${'A'.repeat(40)}" is not a full object id` },
    ],
    [
      'refs/heads/--upload-pack=x',
      A,
      [],
      { kind: 'not-deployed', reason: 'stored, not deployed (only main deploys)' },
    ],
    ['refs/heads/$(id)', A, [], { kind: 'not-deployed', reason: 'stored, not deployed (only main deploys)' }],
  ])('decides a push of %s to %s with options %j', (ref, sha, options, decision) => {
    expect(decidePush([change(ref, sha)], options, { main: true, master: false })).toEqual(decision);
  });

  it('rejects deleting master when it is the deploy branch', () => {
    expect(decidePush([change('refs/heads/master', ZERO)], [], { main: false, master: true })).toEqual({
      kind: 'rejected',
      reason: 'branch "master" is the deploy branch: it cannot be deleted',
    });
  });
});

describe('formation', () => {
  it('accepts process types with counts in bounds', () => {
    expect(parseFormation({ web: 2, worker: 0, 'queue-2': 10 })).toEqual({
      web: 2,
      worker: 0,
      'queue-2': 10,
    });
  });

  it.each([
    [null, 'formation must be an object of process type: count'],
    [[1, 2], 'formation must be an object of process type: count'],
    ['web=2', 'formation must be an object of process type: count'],
    [{}, 'formation "formation": must name at least one process type'],
    [{ web: -1 }, 'formation "web": count must be between 0 and 10'],
    [{ web: 11 }, 'formation "web": count must be between 0 and 10'],
    [{ web: 1.5 }, 'formation "web": count must be an integer'],
    [{ web: '2' }, 'formation "web": count must be an integer'],
    [{ Web: 1 }, 'formation "Web": process type must be 1-30 of a-z, 0-9, _ and -, starting with a letter'],
    [
      { '../x': 1 },
      'formation "../x": process type must be 1-30 of a-z, 0-9, _ and -, starting with a letter',
    ],
    [
      { 'web; rm -rf /': 1 },
      'formation "web; rm -rf /": process type must be 1-30 of a-z, 0-9, _ and -, starting with a letter',
    ],
    [{ a: 10, b: 10, c: 1 }, 'formation "formation": a project may run at most 20 instances (got 21)'],
  ])('refuses %j', (value, message) => {
    const err = (() => {
      try {
        parseFormation(value);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect((err as Error).message).toBe(message);
  });

  it.each([
    ['{"web":2}', { web: 2 }],
    ['not json', {}],
    ['[1]', {}],
    [null, {}],
    ['{"web":"x","worker":1}', { worker: 1 }],
  ])('reads the stored formation %j', (text, formation) => {
    expect(storedFormation(text)).toEqual(formation);
  });
});

describe('logs query', () => {
  it.each([
    [{}, { follow: false, sources: [], lines: 100 }],
    [
      { follow: '1', lines: '0' },
      { follow: true, sources: [], lines: 0 },
    ],
    [
      { follow: 'false', source: 'web,build' },
      { follow: false, sources: ['web', 'build'], lines: 100 },
    ],
    [{ source: ['web.1', 'router', 'web.1'] }, { follow: false, sources: ['web.1', 'router'], lines: 100 }],
  ])('parses %j', (raw, query) => {
    expect(parseLogsQuery(raw)).toEqual(query);
  });

  it.each([
    [{ follow: 'yes' }, 'logs query: follow: must be 1, 0, true or false'],
    [{ lines: '-1' }, 'logs query: lines: must be an integer between 0 and 10000'],
    [{ lines: '10001' }, 'logs query: lines: must be an integer between 0 and 10000'],
    [{ lines: ['1', '2'] }, 'logs query: lines: must be an integer between 0 and 10000'],
    [
      { source: '../etc' },
      'logs query: source: "../etc" is not a log source (build, release, web, web.1, router, platform…)',
    ],
    [
      { source: 'web.0' },
      'logs query: source: "web.0" is not a log source (build, release, web, web.1, router, platform…)',
    ],
    [
      { source: '--follow' },
      'logs query: source: "--follow" is not a log source (build, release, web, web.1, router, platform…)',
    ],
  ])('refuses %j', (raw, message) => {
    expect(() => parseLogsQuery(raw)).toThrow(message);
  });
});

describe('deployment numbers in paths', () => {
  it.each([
    ['3', 3],
    ['v3', 3],
    ['2147483647', 2147483647],
    ['2147483648', 0],
    ['03', 0],
    ['0', 0],
    ['-1', 0],
    ['3.0', 0],
    ['V3', 0],
    ['1e3', 0],
    ['../1', 0],
  ])('reads %j as %d', (text, number) => {
    expect(parseDeploymentNumber(text)).toBe(number);
  });
});

describe('build output', () => {
  it('keeps short output whole', () => {
    const out = new BuildOutput(1000);
    for (const line of ['one', 'two', 'three']) out.add(line);
    expect(out.text()).toBe('one\ntwo\nthree');
  });

  it('stays within its bound, keeping the first and the last lines and saying what it left out', () => {
    const out = new BuildOutput(2000);
    for (let i = 1; i <= 1000; i++) out.add(`line ${i}`);
    const text = out.text();
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(2000);
    expect(text.startsWith('line 1\nline 2\n')).toBe(true);
    expect(text.endsWith('line 999\nline 1000')).toBe(true);
    expect(text).toMatch(/\n… \d+ lines omitted …\n/);
  });

  it('cuts one huge line', () => {
    const out = new BuildOutput(100_000);
    out.add('x'.repeat(50_000));
    expect(out.text().length).toBeLessThan(2100);
  });
});
