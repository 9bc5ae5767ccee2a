// The in-process reads of the pre-receive path give what git itself gives (`git log --format`,
// `git for-each-ref`) on real repositories, and step aside (undefined) where only git should answer.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MAX_REFS_READ, parseCommit, readLooseCommit, readRefValues } from '../src/objects.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'gc-objects-'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

const ENV = {
  PATH: process.env.PATH ?? '/usr/bin:/bin',
  HOME: root,
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_COMMITTER_NAME: 'c',
  GIT_COMMITTER_EMAIL: 'c@example.com',
};

/** Runs git in `cwd` and returns its trimmed stdout. */
function git(cwd: string, args: string[], env: Record<string, string> = {}): string {
  return execFileSync('git', args, { cwd, env: { ...ENV, ...env }, encoding: 'utf8' }).replace(/\n$/, '');
}

/** An empty bare repository. */
function bareRepo(): string {
  const bare = fs.mkdtempSync(path.join(root, 'bare-'));
  git(bare, ['init', '-q', '--bare', '-b', 'main']);
  return bare;
}

/** A commit of the empty tree with `message` by `name <email>`; returns its sha. */
function commitTree(bare: string, message: string, name: string, email: string): string {
  const tree = execFileSync('git', ['hash-object', '-t', 'tree', '-w', '--stdin'], {
    cwd: bare,
    env: ENV,
    input: '',
    encoding: 'utf8',
  }).trim();
  return execFileSync('git', ['commit-tree', tree], {
    cwd: bare,
    env: { ...ENV, GIT_AUTHOR_NAME: name, GIT_AUTHOR_EMAIL: email, GIT_AUTHOR_DATE: '1700000000 +0200' },
    input: message,
    encoding: 'utf8',
  }).trim();
}

/** What git log prints for the pre-receive hook's description. */
function gitLog(bare: string, sha: string) {
  const [subject, authorName, authorEmail, at] = git(bare, [
    'log',
    '-1',
    '--no-walk',
    '--format=%s%x00%an%x00%ae%x00%at',
    sha,
  ]).split('\0');
  return { subject, authorName, authorEmail, authoredAt: Number(at) };
}

describe('readLooseCommit', () => {
  const bare = bareRepo();
  it.each([
    ['one line', 'deploy it', 'Ada', 'ada@example.com'],
    [
      'a paragraph of three lines, blanks around',
      '\n\n  first  \nsecond\t\nthird\r\n\nbody\n',
      'Ada L',
      'a@x',
    ],
    ['UTF-8 everywhere', 'déployé ✓ "quoted" \\ back\n', 'Zoë Ünïcode', 'zoë@exämple.org'],
    ['an empty message', '', 'Ada', 'ada@example.com'],
  ])('gives what git log gives for %s', async (_case, message, name, email) => {
    const sha = commitTree(bare, message, name, email);
    const mine = await readLooseCommit(bare, [path.join(bare, 'objects')], sha);
    expect(mine).toEqual(gitLog(bare, sha));
  });

  it('steps aside for a packed commit, a missing one, another encoding and replace refs', async () => {
    const sha = commitTree(bare, 'packed\n', 'Ada', 'ada@example.com');
    const objects = path.join(bare, 'objects');
    expect(await readLooseCommit(bare, [objects], 'f'.repeat(40))).toBeUndefined();
    expect(await readLooseCommit(bare, [objects], '../../etc/passwd')).toBeUndefined();
    const raw = `tree ${'a'.repeat(40)}\nauthor A <a@x> 1 +0000\ncommitter A <a@x> 1 +0000\nencoding ISO-8859-1\n\ncaf\u00e9\n`;
    expect(parseCommit(raw)).toBeUndefined();
    expect(parseCommit(raw.replace('ISO-8859-1', 'UTF-8'))).toMatchObject({ subject: 'caf\u00e9' });
    expect(parseCommit('tree x\nauthor broken line\n\nmsg\n')).toBeUndefined();
    git(bare, ['replace', '-f', sha, commitTree(bare, 'other\n', 'B', 'b@x')]);
    expect(await readLooseCommit(bare, [objects], sha)).toBeUndefined();
    fs.rmSync(path.join(bare, 'refs', 'replace'), { recursive: true, force: true });
    expect(await readLooseCommit(bare, [objects], sha)).toMatchObject({ subject: 'packed' });
    git(bare, ['update-ref', 'refs/heads/main', sha]);
    git(bare, ['repack', '-a', '-d', '-q']);
    git(bare, ['prune-packed']);
    expect(await readLooseCommit(bare, [objects], sha)).toBeUndefined();
  });

  it('sees a replace ref that appears in packed-refs after an earlier read (the answer is kept per file version)', async () => {
    const bare = bareRepo();
    const objects = path.join(bare, 'objects');
    const sha = commitTree(bare, 'mine\n', 'Ada', 'ada@example.com');
    git(bare, ['update-ref', 'refs/heads/main', sha]);
    git(bare, ['pack-refs', '--all']);
    expect(await readLooseCommit(bare, [objects], sha)).toMatchObject({ subject: 'mine' });
    git(bare, ['replace', '-f', sha, commitTree(bare, 'other\n', 'B', 'b@x')]);
    git(bare, ['pack-refs', '--all']);
    expect(fs.existsSync(path.join(bare, 'refs', 'replace'))).toBe(true);
    fs.rmSync(path.join(bare, 'refs', 'replace'), { recursive: true, force: true });
    // Only packed-refs names the replace ref now: the earlier "none" must not be reused.
    expect(fs.readFileSync(path.join(bare, 'packed-refs'), 'utf8')).toContain('refs/replace/');
    expect(await readLooseCommit(bare, [objects], sha)).toBeUndefined();
  });
});

describe('readRefValues', () => {
  it('leaves a push of more than MAX_REFS_READ refs to git (synchronous reads stay bounded)', async () => {
    const bare = bareRepo();
    const names = (n: number) => Array.from({ length: n }, (_, i) => `refs/heads/b${i}`);
    expect((await readRefValues(bare, names(MAX_REFS_READ)))?.size).toBe(MAX_REFS_READ);
    expect(await readRefValues(bare, names(MAX_REFS_READ + 1))).toBeUndefined();
  });

  it('reads loose and packed refs as for-each-ref does, and "" for a missing one', async () => {
    const bare = bareRepo();
    const a = commitTree(bare, 'a\n', 'A', 'a@x');
    const b = commitTree(bare, 'b\n', 'B', 'b@x');
    git(bare, ['update-ref', 'refs/heads/main', a]);
    git(bare, ['update-ref', 'refs/heads/packed', b]);
    git(bare, ['pack-refs', '--all']);
    git(bare, ['update-ref', 'refs/heads/main', b]);
    const values = await readRefValues(bare, ['refs/heads/main', 'refs/heads/packed', 'refs/heads/none']);
    expect(Object.fromEntries(values ?? [])).toEqual({
      'refs/heads/main': git(bare, ['rev-parse', 'refs/heads/main']),
      'refs/heads/packed': git(bare, ['rev-parse', 'refs/heads/packed']),
      'refs/heads/none': '',
    });
    expect(values?.get('refs/heads/main')).toBe(b);
  });

  it('steps aside for a symbolic ref and for a name outside refs/', async () => {
    const bare = bareRepo();
    git(bare, ['symbolic-ref', 'refs/heads/alias', 'refs/heads/main']);
    expect(await readRefValues(bare, ['refs/heads/alias'])).toBeUndefined();
    expect(await readRefValues(bare, ['refs/../../config'])).toBeUndefined();
    expect(await readRefValues(bare, ['HEAD'])).toBeUndefined();
  });
});
