// A push's ref advertisement written in-process is byte for byte what
// `git receive-pack --stateless-rpc --advertise-refs` prints for the same repository state (real
// git builds every state), and every state out of the plain case is left to git.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { forgetCapabilities, protocolVersion, receivePackAdvertisement } from '../src/advertise.js';
import type { GitRuntime } from '../src/git.js';
import { pinnedConfig } from '../src/repositories.js';
import {
  gitCli,
  type Harness,
  makeWorkTree,
  must,
  repoPath,
  startHarness,
  tempDir,
} from './support/harness.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'gc-advertise-'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));
const runtime: GitRuntime = { path: process.env.PATH ?? '/usr/bin:/bin', home: root };
const ENV = {
  PATH: runtime.path,
  HOME: root,
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_AUTHOR_NAME: 'a',
  GIT_AUTHOR_EMAIL: 'a@example.com',
  GIT_COMMITTER_NAME: 'c',
  GIT_COMMITTER_EMAIL: 'c@example.com',
  GIT_AUTHOR_DATE: '1700000000 +0000',
  GIT_COMMITTER_DATE: '1700000000 +0000',
};

/** Runs git in `cwd` and returns its trimmed stdout. */
function git(cwd: string, args: string[], input?: string): string {
  return execFileSync('git', args, { cwd, env: ENV, encoding: 'utf8', input }).trim();
}

/** What git itself advertises for a push into `repo`. */
function gitAdvertisement(repo: string, protocol?: string): Buffer {
  return execFileSync('git', ['receive-pack', '--stateless-rpc', '--advertise-refs', repo], {
    cwd: repo,
    env: { ...ENV, ...(protocol ? { GIT_PROTOCOL: protocol } : {}) },
    stdio: ['ignore', 'pipe', 'ignore'],
  });
}

/** A bare repository with the controller's pinned config (as CreateRepository makes it). */
function bareRepo(...initArgs: string[]): string {
  const bare = fs.mkdtempSync(path.join(root, 'bare-'));
  git(bare, ['init', '-q', '--bare', '-b', 'main', ...initArgs]);
  for (const [key, value] of pinnedConfig(path.join(root, 'hooks'))) git(bare, ['config', key, value]);
  return bare;
}

/** A new commit (its own tree) in `bare`; returns its id. */
function commit(bare: string, message: string, parent?: string): string {
  const blob = git(bare, ['hash-object', '-w', '--stdin'], `${message}\n`);
  const tree = git(bare, ['mktree'], `100644 blob ${blob}\tfile\n`);
  return git(bare, ['commit-tree', tree, ...(parent ? ['-p', parent] : [])], message);
}

/** How many times the advertisement asked git. */
let gitRuns = 0;
const runGit = (repo: string, protocol?: string) => async () => {
  gitRuns++;
  return gitAdvertisement(repo, protocol);
};

async function ours(repo: string, protocol?: string) {
  return receivePackAdvertisement(runtime, repo, protocol, runGit(repo, protocol));
}

const ZERO = '0'.repeat(40);

/** Repository states where the in-process bytes must be git's. */
const plain: Array<[string, (bare: string) => void]> = [
  ['an empty repository', () => {}],
  ['one branch', (b) => git(b, ['update-ref', 'refs/heads/main', commit(b, 'one')])],
  [
    'many branches and tags, annotated ones too',
    (b) => {
      let c = commit(b, 'root');
      for (let i = 0; i < 30; i++) {
        c = commit(b, `c${i}`, c);
        git(b, ['update-ref', `refs/heads/branch-${i}`, c]);
        if (i % 3 === 0) git(b, ['tag', `v${i}`, c]);
        if (i % 4 === 0) git(b, ['tag', '-a', '-m', `release ${i}`, `r${i}`, c]);
      }
      // An annotated tag of an annotated tag, and of a tree.
      git(b, ['tag', '-a', '-m', 'nested', 'nested', 'r0']);
      git(b, ['tag', '-a', '-m', 'a tree', 'tree-tag', `${c}^{tree}`]);
      git(b, ['update-ref', 'refs/heads/main', c]);
    },
  ],
  [
    'packed refs and packed objects',
    (b) => {
      const a = commit(b, 'a');
      git(b, ['update-ref', 'refs/heads/main', a]);
      git(b, ['update-ref', 'refs/heads/dev', commit(b, 'dev', a)]);
      git(b, ['tag', '-a', '-m', 'one', 'v1', a]);
      git(b, ['pack-refs', '--all']);
      git(b, ['repack', '-a', '-d', '-q']);
      git(b, ['prune-packed']);
    },
  ],
  [
    'loose refs over packed ones, refs deleted after packing, loose and packed names interleaved',
    (b) => {
      const a = commit(b, 'a');
      const c = commit(b, 'c', a);
      for (const n of ['main', 'b', 'd', 'gone', 'gone-too']) git(b, ['update-ref', `refs/heads/${n}`, a]);
      git(b, ['pack-refs', '--all']);
      git(b, ['update-ref', 'refs/heads/main', c]);
      git(b, ['update-ref', 'refs/heads/c', c]);
      git(b, ['update-ref', 'refs/heads/e', c]);
      git(b, ['update-ref', '-d', 'refs/heads/gone']);
      // Present in packed-refs only, with a loose override, then deleted: gone from both.
      git(b, ['update-ref', 'refs/heads/gone-too', c]);
      git(b, ['update-ref', '-d', 'refs/heads/gone-too']);
      // A loose override written by hand, as a crashed older git could leave it.
      fs.writeFileSync(path.join(b, 'refs', 'heads', 'd'), `${c}\n`);
    },
  ],
  [
    'odd but valid names, sorted by their bytes (not UTF-16), loose and packed',
    (b) => {
      const a = commit(b, 'a');
      const names = [
        'a-b',
        'a/b',
        'a.b',
        'a0',
        'A',
        'Z',
        '@x',
        'x{y}',
        'x@y',
        'ünïcode',
        '\u{ff21}',
        '\u{1f600}',
        'v1.0+rc_1,2=3',
        'deep/er/still/deeper',
        'quote\'and"double',
        'semi;colon&amp',
      ];
      for (const [i, n] of names.entries()) {
        git(b, ['update-ref', `refs/heads/${n}`, a]);
        if (i === 7) git(b, ['pack-refs', '--all']);
      }
      git(b, ['update-ref', 'refs/tags/\u{1f600}/\u{ff21}', a]);
      git(b, ['update-ref', 'refs/notes-like', a]);
    },
  ],
  [
    'lock files and dot files under refs/ (git skips them)',
    (b) => {
      const a = commit(b, 'a');
      git(b, ['update-ref', 'refs/heads/main', a]);
      fs.writeFileSync(path.join(b, 'refs', 'heads', 'main.lock'), `${commit(b, 'b')}\n`);
      fs.writeFileSync(path.join(b, 'refs', 'heads', '.hidden'), `${a}\n`);
    },
  ],
];

/** States git must advertise itself. */
const odd: Array<[string, (bare: string) => void]> = [
  [
    'a FIFO where a ref file should be',
    (b) => {
      git(b, ['update-ref', 'refs/heads/main', commit(b, 'a')]);
      execFileSync('mkfifo', [path.join(b, 'refs', 'heads', 'fifo')]);
    },
  ],
  [
    'a branch pointing at a missing object',
    (b) => {
      git(b, ['update-ref', 'refs/heads/main', commit(b, 'a')]);
      fs.writeFileSync(path.join(b, 'refs', 'heads', 'broken'), `${'e'.repeat(40)}\n`);
    },
  ],
  [
    'a packed ref pointing at a missing object',
    (b) => {
      git(b, ['update-ref', 'refs/heads/main', commit(b, 'a')]);
      fs.appendFileSync(path.join(b, 'packed-refs'), `${'e'.repeat(40)} refs/heads/zz\n`);
    },
  ],
  [
    'a symbolic ref under refs/',
    (b) => {
      git(b, ['update-ref', 'refs/heads/main', commit(b, 'a')]);
      git(b, ['symbolic-ref', 'refs/heads/alias', 'refs/heads/main']);
    },
  ],
  [
    'a symlink under refs/',
    (b) => {
      git(b, ['update-ref', 'refs/heads/main', commit(b, 'a')]);
      fs.symlinkSync('main', path.join(b, 'refs', 'heads', 'link'));
    },
  ],
  [
    'hidden refs in the config',
    (b) => {
      git(b, ['update-ref', 'refs/heads/main', commit(b, 'a')]);
      git(b, ['update-ref', 'refs/secret/x', commit(b, 'x')]);
      git(b, ['config', 'receive.hideRefs', 'refs/secret']);
    },
  ],
  [
    'an alternate object store (.have lines)',
    (b) => {
      const other = bareRepo();
      git(other, ['update-ref', 'refs/heads/main', commit(other, 'other')]);
      git(b, ['update-ref', 'refs/heads/main', commit(b, 'a')]);
      fs.writeFileSync(path.join(b, 'objects', 'info', 'alternates'), `${path.join(other, 'objects')}\n`);
    },
  ],
  [
    'a shallow repository',
    (b) => {
      const a = commit(b, 'a');
      git(b, ['update-ref', 'refs/heads/main', commit(b, 'b', a)]);
      fs.writeFileSync(path.join(b, 'shallow'), `${a}\n`);
    },
  ],
  [
    'a ref name git refuses',
    (b) => {
      const a = commit(b, 'a');
      git(b, ['update-ref', 'refs/heads/main', a]);
      fs.writeFileSync(path.join(b, 'refs', 'heads', 'two..dots'), `${a}\n`);
    },
  ],
  [
    'a ref file without its newline, or with more after the id',
    (b) => {
      const a = commit(b, 'a');
      fs.writeFileSync(path.join(b, 'refs', 'heads', 'main'), a);
      fs.writeFileSync(path.join(b, 'refs', 'heads', 'more'), `${a} trailing\n`);
    },
  ],
  [
    'a null id in a ref file',
    (b) => {
      git(b, ['update-ref', 'refs/heads/main', commit(b, 'a')]);
      fs.writeFileSync(path.join(b, 'refs', 'heads', 'null'), `${ZERO}\n`);
    },
  ],
  [
    'a packed-refs file out of order',
    (b) => {
      const a = commit(b, 'a');
      fs.writeFileSync(
        path.join(b, 'packed-refs'),
        `# pack-refs with: peeled fully-peeled sorted \n${a} refs/heads/z\n${a} refs/heads/a\n`,
      );
    },
  ],
  [
    'a packed-refs file with CRLF lines',
    (b) => {
      const a = commit(b, 'a');
      fs.writeFileSync(path.join(b, 'packed-refs'), `${a} refs/heads/a\r\n`);
    },
  ],
  [
    'a config with an include',
    (b) => {
      git(b, ['update-ref', 'refs/heads/main', commit(b, 'a')]);
      git(b, ['config', 'include.path', path.join(root, 'nowhere')]);
    },
  ],
];

describe('receivePackAdvertisement', () => {
  beforeAll(async () => {
    // Learn the capabilities once, from git, on a plain repository of the pinned config.
    forgetCapabilities();
    const bare = bareRepo();
    gitRuns = 0;
    const first = await ours(bare);
    expect(first?.via).toBe('git');
    expect(first?.body.equals(gitAdvertisement(bare))).toBe(true);
    expect(gitRuns).toBe(1);
  });

  it.each(plain)('writes exactly what git writes for %s', async (_name, build) => {
    const bare = bareRepo();
    build(bare);
    for (const protocol of [undefined, 'version=1', 'version=2', 'version=2:version=1', 'x=y:version=1']) {
      gitRuns = 0;
      const mine = await ours(bare, protocol);
      const theirs = gitAdvertisement(bare, protocol);
      expect(mine?.via, String(protocol)).toBe('memory');
      expect(gitRuns).toBe(0);
      expect(mine?.body.toString('latin1'), String(protocol)).toBe(theirs.toString('latin1'));
    }
  });

  it.each(odd)('leaves %s to git', async (name, build) => {
    const bare = bareRepo();
    build(bare);
    if (!name.includes('FIFO')) {
      const theirs = gitAdvertisement(bare); // git still answers (it would wait on a FIFO forever)
      expect(theirs.subarray(-4).toString()).toBe('0000');
    }
    gitRuns = 0;
    const mine = await receivePackAdvertisement(runtime, bare, undefined, async () => {
      gitRuns++;
      return undefined; // as if git had failed: the caller then starts git itself
    });
    expect(mine).toBeUndefined();
  });

  it('learns the capabilities of another object format from git, then writes them itself', async () => {
    const bare = bareRepo('--object-format=sha256');
    git(bare, ['update-ref', 'refs/heads/main', commit(bare, 'a')]);
    gitRuns = 0;
    const learnt = await ours(bare);
    expect(learnt?.via).toBe('git');
    expect(learnt?.body.toString()).toContain('object-format=sha256');
    const again = await ours(bare, 'version=1');
    expect(again?.via).toBe('memory');
    expect(again?.body.equals(gitAdvertisement(bare, 'version=1'))).toBe(true);
    expect(gitRuns).toBe(1);
  });

  it('never keeps capabilities that change between runs (push certificate nonce)', async () => {
    const bare = bareRepo();
    git(bare, ['config', 'receive.certNonceSeed', 'seed']);
    git(bare, ['update-ref', 'refs/heads/main', commit(bare, 'a')]);
    gitRuns = 0;
    expect((await ours(bare))?.via).toBe('git');
    expect((await ours(bare))?.via).toBe('git');
    expect(gitRuns).toBe(2);
  });

  it('reads the protocol version as git does (the highest known version= key)', () => {
    expect(protocolVersion(undefined)).toBe(0);
    expect(protocolVersion('version=1')).toBe(1);
    expect(protocolVersion('version=1:version=2')).toBe(2);
    expect(protocolVersion('version=2:version=1')).toBe(2);
    expect(protocolVersion('version=3:version=1')).toBe(1);
    expect(protocolVersion('version=01')).toBe(0);
    expect(protocolVersion('a=b:version=1:c')).toBe(1);
  });

  it('agrees with git on the protocol version, including odd Git-Protocol values', async () => {
    const bare = bareRepo();
    git(bare, ['update-ref', 'refs/heads/main', commit(bare, 'a')]);
    for (const protocol of [
      'version=3',
      'version=01',
      'version=1:version=3',
      'version=0:version=1',
      'version=',
    ]) {
      const mine = await ours(bare, protocol);
      expect(mine?.via).toBe('memory');
      expect(mine?.body.toString('latin1'), protocol).toBe(
        gitAdvertisement(bare, protocol).toString('latin1'),
      );
    }
  });
});

describe('info/refs?service=git-receive-pack over HTTP', () => {
  let h: Harness;
  let work: string;
  beforeAll(async () => {
    h = await startHarness();
    work = tempDir('ga-');
  });
  afterAll(async () => {
    await h.stop();
    fs.rmSync(work, { recursive: true, force: true });
  });

  /** GET info/refs for a push to "shop", as alice. */
  async function infoRefs(protocol?: string) {
    const res = await fetch(`${h.httpBase}/shop.git/info/refs?service=git-receive-pack`, {
      headers: {
        authorization: `Basic ${Buffer.from('x:alice-token').toString('base64')}`,
        ...(protocol ? { 'git-protocol': protocol } : {}),
      },
    });
    return { res, body: Buffer.from(await res.arrayBuffer()) };
  }

  it('answers the preamble and git’s own advertisement, before and after pushes', async () => {
    const repo = repoPath(h, 'p-shop');
    const preamble = Buffer.from('001f# service=git-receive-pack\n0000');
    for (const protocol of [undefined, 'version=1']) {
      const { res, body } = await infoRefs(protocol);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('application/x-git-receive-pack-advertisement');
      expect(body.toString('latin1')).toBe(
        Buffer.concat([preamble, gitAdvertisement(repo, protocol)]).toString('latin1'),
      );
    }
    const home = path.join(work, 'home');
    const src = path.join(work, 'src');
    await makeWorkTree(src, { 'README.md': 'hello\n' }, home);
    const g = gitCli(home, { token: 'alice-token' });
    const url = `${h.httpBase}/shop.git`;
    await must(g(['push', url, 'main', 'main:refs/heads/other'], src));
    await must(g(['tag', '-a', '-m', 'first', 'v1'], src));
    await must(g(['push', url, 'v1'], src));
    const { body } = await infoRefs();
    const theirs = gitAdvertisement(repo);
    expect(body.toString('latin1')).toBe(Buffer.concat([preamble, theirs]).toString('latin1'));
    expect(theirs.toString()).toContain(' refs/heads/other\n');
    expect(theirs.toString()).toContain(' refs/tags/v1\n');
    expect(git(repo, ['rev-parse', 'main'])).toBe(git(src, ['rev-parse', 'main']));
  });
});
