import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { git as gitv1 } from '@paastech/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Repositories } from '../src/repositories.js';
import {
  call,
  gitCli,
  type Harness,
  makeWorkTree,
  md,
  must,
  repoPath,
  startHarness,
  tempDir,
} from './support/harness.js';

/** Reads a whole GetArchive stream. */
function archive(h: Harness, req: Partial<gitv1.GetArchiveRequest>): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const stream = h.gitClient.getArchive(gitv1.GetArchiveRequest.fromPartial(req), md());
    stream.on('data', (m: gitv1.GetArchiveResponse) => {
      expect(m.data.length).toBeLessThanOrEqual(64 * 1024);
      chunks.push(m.data);
    });
    stream.on('error', reject);
    stream.on('end', () => resolve(Buffer.concat(chunks)));
  });
}

describe('GitService over gRPC', () => {
  let h: Harness;
  let work: string;
  let home: string;
  let head: string;
  let tree: string;
  beforeAll(async () => {
    h = await startHarness();
    work = tempDir('gw-');
    home = path.join(work, 'home');
    const src = path.join(work, 'src');
    await makeWorkTree(src, { 'README.md': 'hi\n', 'big.bin': 'x'.repeat(200_000) }, home);
    fs.symlinkSync('/etc/passwd', path.join(src, 'escape'));
    fs.symlinkSync('../../..', path.join(src, 'up'));
    const g = gitCli(home, { token: 'alice-token' });
    await must(g(['add', '-A'], src));
    await must(g(['commit', '-qm', 'symlinks'], src));
    await must(g(['tag', '-a', '-m', 'v1', 'v1.0'], src));
    await must(g(['push', `${h.httpBase}/shop.git`, 'main', 'v1.0'], src));
    head = (await must(g(['rev-parse', 'HEAD'], src))).stdout.trim();
    tree = (await must(g(['rev-parse', 'HEAD^{tree}'], src))).stdout.trim();
  });
  afterAll(async () => {
    await h.stop();
    fs.rmSync(work, { recursive: true, force: true });
  });

  it('creates a bare repository with the pinned config, and refuses a second one', async () => {
    await call((cb) =>
      h.gitClient.createRepository({ projectId: 'p-new', defaultBranch: 'trunk' }, md(), cb),
    );
    const dir = repoPath(h, 'p-new');
    const cfg = (key: string) =>
      execFileSync('git', ['config', '--file', path.join(dir, 'config'), key])
        .toString()
        .trim();
    expect(cfg('core.bare')).toBe('true');
    expect(cfg('receive.fsckObjects')).toBe('true');
    expect(cfg('transfer.fsckObjects')).toBe('true');
    expect(cfg('uploadpack.allowAnySHA1InWant')).toBe('false');
    expect(cfg('core.hooksPath')).toBe(path.join(h.dataDir, 'git', 'hooks'));
    expect(fs.existsSync(path.join(dir, 'hooks'))).toBe(false);
    const refs = await call<gitv1.ListRefsResponse>((cb) =>
      h.gitClient.listRefs({ projectId: 'p-new', prefix: '' }, md(), cb),
    );
    expect(refs).toEqual({ refs: [], head: 'refs/heads/trunk' });
    await expect(
      call((cb) => h.gitClient.createRepository({ projectId: 'p-new', defaultBranch: '' }, md(), cb)),
    ).rejects.toMatchObject({ code: grpc.status.ALREADY_EXISTS });
  });

  it.each([
    ['../escape', grpc.status.INVALID_ARGUMENT],
    ['a/b', grpc.status.INVALID_ARGUMENT],
    ['', grpc.status.INVALID_ARGUMENT],
    ['UPPER', grpc.status.INVALID_ARGUMENT],
    ['--bare', grpc.status.INVALID_ARGUMENT],
  ])('refuses project id %j (%i)', async (projectId, code) => {
    await expect(
      call((cb) => h.gitClient.createRepository({ projectId, defaultBranch: '' }, md(), cb)),
    ).rejects.toMatchObject({ code });
    expect(fs.readdirSync(path.join(h.dataDir, 'repositories')).filter((f) => !f.endsWith('.git'))).toEqual(
      [],
    );
  });

  it.each(['--orphan', 'a..b', 'x.lock', 'a b', '-x', 'refs/../x'])(
    'refuses default branch %j',
    async (defaultBranch) => {
      await expect(
        call((cb) => h.gitClient.createRepository({ projectId: 'p-branch', defaultBranch }, md(), cb)),
      ).rejects.toMatchObject({ code: grpc.status.INVALID_ARGUMENT });
      expect(fs.existsSync(repoPath(h, 'p-branch'))).toBe(false);
    },
  );

  it('lists refs sorted, with peeled tags, filtered by prefix', async () => {
    const all = await call<gitv1.ListRefsResponse>((cb) =>
      h.gitClient.listRefs({ projectId: 'p-shop', prefix: '' }, md(), cb),
    );
    expect(all.head).toBe('refs/heads/main');
    expect(all.refs.map((r) => r.name)).toEqual(['refs/heads/main', 'refs/tags/v1.0']);
    expect(all.refs[0]).toEqual({ name: 'refs/heads/main', targetSha: head, peeledSha: '' });
    expect(all.refs[1]!.peeledSha).toBe(head);
    const tags = await call<gitv1.ListRefsResponse>((cb) =>
      h.gitClient.listRefs({ projectId: 'p-shop', prefix: 'refs/tags/' }, md(), cb),
    );
    expect(tags.refs.map((r) => r.name)).toEqual(['refs/tags/v1.0']);
  });

  it('reports repository info and endpoints', async () => {
    const info = await call<gitv1.GetRepositoryInfoResponse>((cb) =>
      h.gitClient.getRepositoryInfo({ projectId: 'p-shop' }, md(), cb),
    );
    expect(info.empty).toBe(false);
    expect(info.head).toBe('refs/heads/main');
    expect(info.sizeBytes).toBeGreaterThan(1000);
    expect(Date.now() - info.lastPushedAt!.getTime()).toBeLessThan(60_000);
    const empty = await call<gitv1.GetRepositoryInfoResponse>((cb) =>
      h.gitClient.getRepositoryInfo({ projectId: 'p-other' }, md(), cb),
    );
    expect(empty).toMatchObject({ empty: true, head: 'refs/heads/main', lastPushedAt: undefined });
    await expect(
      call((cb) => h.gitClient.getRepositoryInfo({ projectId: 'p-missing' }, md(), cb)),
    ).rejects.toMatchObject({ code: grpc.status.NOT_FOUND });
    const ep = await call<gitv1.GetGitEndpointsResponse>((cb) => h.gitClient.getGitEndpoints({}, md(), cb));
    expect(ep.httpBaseUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(ep.sshBaseUrl).toMatch(/^ssh:\/\/git@127\.0\.0\.1:\d+$/);
    expect(ep.httpBaseUrl).toBe(h.httpBase);
  });

  it('streams a tar of a commit where symlinks stay symlinks, never followed', async () => {
    const tar = await archive(h, { projectId: 'p-shop', commitSha: head });
    expect(tar.length).toBeGreaterThan(200_000);
    const out = tempDir('ga-');
    fs.writeFileSync(path.join(out, 'a.tar'), tar);
    const listing = execFileSync('tar', ['-tvf', path.join(out, 'a.tar')]).toString();
    expect(listing).toMatch(/^l.* escape -> \/etc\/passwd$/m);
    expect(listing).toMatch(/^l.* up -> \.\.\/\.\.\/\.\.$/m);
    expect(listing).not.toContain('root:');
    expect(listing).toMatch(/ README\.md$/m);
    const gz = await archive(h, {
      projectId: 'p-shop',
      commitSha: head,
      format: gitv1.ArchiveFormat.ARCHIVE_FORMAT_TAR_GZIP,
    });
    expect(gz.subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b]));
    fs.rmSync(out, { recursive: true, force: true });
  });

  it.each([
    [{ commitSha: 'main' }, grpc.status.INVALID_ARGUMENT],
    [{ commitSha: '--output=/tmp/x' }, grpc.status.INVALID_ARGUMENT],
    [{ commitSha: 'f'.repeat(40) }, grpc.status.NOT_FOUND],
    [{ projectId: '../p-shop' }, grpc.status.INVALID_ARGUMENT],
    [{ projectId: 'p-missing' }, grpc.status.NOT_FOUND],
    [
      { quarantine: { objectDirectory: '/tmp', alternateObjectDirectories: [] } },
      grpc.status.INVALID_ARGUMENT,
    ],
    [
      { quarantine: { objectDirectory: 'relative/objects', alternateObjectDirectories: [] } },
      grpc.status.INVALID_ARGUMENT,
    ],
  ])('refuses archive request %j', async (patch, code) => {
    await expect(archive(h, { projectId: 'p-shop', commitSha: head, ...patch })).rejects.toMatchObject({
      code,
    });
  });

  it('answers NOT_FOUND, before any data, for an object that exists but is not a commit', async () => {
    await expect(archive(h, { projectId: 'p-shop', commitSha: tree })).rejects.toMatchObject({
      code: grpc.status.NOT_FOUND,
      details: `commit "${tree}" not found in project "p-shop"`,
    });
  });

  it('refuses a quarantine in another repository, also through a symlink or ..', async () => {
    const other = path.join(repoPath(h, 'p-blog'), 'objects');
    const link = path.join(repoPath(h, 'p-shop'), 'objects', 'sneaky');
    fs.symlinkSync(other, link);
    try {
      for (const dir of [
        other,
        link,
        path.join(repoPath(h, 'p-shop'), 'objects', '..', '..', 'p-blog.git', 'objects'),
      ]) {
        await expect(
          archive(h, {
            projectId: 'p-shop',
            commitSha: head,
            quarantine: { objectDirectory: dir, alternateObjectDirectories: [] },
          }),
        ).rejects.toMatchObject({
          code: grpc.status.INVALID_ARGUMENT,
          details: expect.stringMatching(/must be inside the repository's objects directory/),
        });
      }
    } finally {
      fs.rmSync(link);
    }
  });

  it('requires the internal secret', async () => {
    await expect(
      call((cb) => h.gitClient.listRefs({ projectId: 'p-shop', prefix: '' }, new grpc.Metadata(), cb)),
    ).rejects.toMatchObject({ code: grpc.status.UNAUTHENTICATED });
  });

  it('deletes a repository, idempotently', async () => {
    await call((cb) => h.gitClient.createRepository({ projectId: 'p-gone', defaultBranch: '' }, md(), cb));
    const first = await call<gitv1.DeleteRepositoryResponse>((cb) =>
      h.gitClient.deleteRepository({ projectId: 'p-gone' }, md(), cb),
    );
    expect(first.existed).toBe(true);
    expect(first.freedBytes).toBeGreaterThan(0);
    expect(fs.existsSync(repoPath(h, 'p-gone'))).toBe(false);
    const again = await call<gitv1.DeleteRepositoryResponse>((cb) =>
      h.gitClient.deleteRepository({ projectId: 'p-gone' }, md(), cb),
    );
    expect(again).toEqual({ existed: false, freedBytes: 0 });
  });
});

describe('Repositories.repair at start-up', () => {
  it('re-pins a hooks path that no longer points at our hooks and removes half-created or half-deleted leftovers and old quarantines', async () => {
    const root = tempDir('gr-');
    const runtime = { path: process.env.PATH ?? '/usr/bin:/bin', home: root };
    const repos = new Repositories(path.join(root, 'repositories'), path.join(root, 'hooks'), runtime);
    await repos.create('p-one', '');
    const config = path.join(root, 'repositories', 'p-one.git', 'config');
    execFileSync('git', ['config', '--file', config, 'core.hooksPath', '/old/data/dir/git/hooks']);
    const objects = path.join(root, 'repositories', 'p-one.git', 'objects');
    for (const [name, ageHours] of [
      ['tmp_objdir-incoming-old', 7],
      ['tmp_objdir-incoming-live', 0],
    ] as const) {
      fs.mkdirSync(path.join(objects, name));
      const t = new Date(Date.now() - ageHours * 3600_000);
      fs.utimesSync(path.join(objects, name), t, t);
    }
    fs.mkdirSync(path.join(root, 'repositories', '.creating-p-two-abc'));
    fs.mkdirSync(path.join(root, 'repositories', '.deleting-p-three-def'));
    expect(await repos.repair()).toEqual({ repinned: 1, removed: 3 });
    expect(fs.readdirSync(objects).filter((n) => n.startsWith('tmp_objdir'))).toEqual([
      'tmp_objdir-incoming-live',
    ]);
    expect(execFileSync('git', ['config', '--file', config, 'core.hooksPath']).toString().trim()).toBe(
      path.join(root, 'hooks'),
    );
    expect(fs.readdirSync(path.join(root, 'repositories'))).toEqual(['p-one.git']);
    expect(await repos.repair()).toEqual({ repinned: 0, removed: 0 });
    fs.rmSync(root, { recursive: true, force: true });
  });
});
