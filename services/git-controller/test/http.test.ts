import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import zlib from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  gitCli,
  type Harness,
  makeWorkTree,
  must,
  repoPath,
  startHarness,
  tempDir,
} from './support/harness.js';

/** Sends a raw HTTP request and returns the status code and body (no client-side URL cleaning). */
function rawRequest(
  base: string,
  head: string,
  body: Buffer = Buffer.alloc(0),
): Promise<{ status: number; text: string; raw: string }> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const sock = net.connect(Number(url.port), url.hostname);
    const chunks: Buffer[] = [];
    sock.on('data', (b) => chunks.push(b));
    sock.on('error', reject);
    sock.on('close', () => {
      const raw = Buffer.concat(chunks).toString('latin1');
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(raw)?.[1] ?? 0);
      resolve({ status, text: raw.slice(raw.indexOf('\r\n\r\n') + 4), raw });
    });
    sock.write(`${head}\r\nHost: ${url.host}\r\nConnection: close\r\nContent-Length: ${body.length}\r\n\r\n`);
    // Not end(): the server drops half-closed connections before it answers.
    sock.write(body);
  });
}

const basic = (token: string) => `Authorization: Basic ${Buffer.from(`x:${token}`).toString('base64')}`;
const trimmed = (lines: Array<{ line: string }>) =>
  lines.map((l) => l.line.trimEnd()).filter((l) => l.startsWith('remote: '));

describe('git over smart HTTP', () => {
  let h: Harness;
  let work: string;
  let home: string;
  let src: string;
  beforeAll(async () => {
    h = await startHarness({ PAASTECH_GIT_MAX_PUSH_BYTES: String(256 * 1024) });
    work = tempDir('gw-');
    home = path.join(work, 'home');
    src = path.join(work, 'src');
    await makeWorkTree(src, { 'README.md': 'hello\n', 'app/server.js': 'console.log(1)\n' }, home);
  });
  afterAll(async () => {
    await h.stop();
    fs.rmSync(work, { recursive: true, force: true });
  });

  it('pushes main and streams the deployment as remote: lines, in order, while the push runs', async () => {
    const alice = gitCli(home, { token: 'alice-token' });
    const push = await alice(['push', `${h.httpBase}/shop.git`, 'main'], src);
    expect(push.code, push.stderr).toBe(0);
    const remote = push.timedLines.filter((l) => l.line.startsWith('remote: '));
    expect(trimmed(remote)).toEqual([
      expect.stringMatching(/^remote: -----> deployment v1 of [0-9a-f]{7} \(refs\/heads\/main\)$/),
      'remote: -----> Building first commit',
      'remote:        step 1 of 2',
      'remote:        step 2 of 2',
      'remote: -----> deployed v1: http://app.localhost:8080',
    ]);
    // The lines reached the pusher as they were sent (300 ms apart, 1.2 s in all), not at the end.
    expect(remote.at(-1)!.at - remote[0]!.at).toBeGreaterThan(600);
    const recorded = h.control.pushes.at(-1)!;
    expect(recorded).toMatchObject({ projectId: 'p-shop', pusherClientId: 'client-alice' });
    expect(recorded.refUpdates[0]).toMatchObject({
      refName: 'refs/heads/main',
      newCommit: { subject: 'first commit', authorEmail: 'test@example.com' },
    });
    expect(recorded.quarantine?.objectDirectory).toMatch(
      /\/repositories\/p-shop\.git\/(\.\/)?objects\/tmp_objdir-incoming-/,
    );
  });

  it('clones, fetches and pulls (protocol v2 and v0)', async () => {
    const alice = gitCli(home, { token: 'alice-token' });
    for (const version of ['2', '0']) {
      const dir = path.join(work, `clone-v${version}`);
      await must(alice(['-c', `protocol.version=${version}`, 'clone', `${h.httpBase}/shop.git`, dir], work));
      expect(fs.readFileSync(path.join(dir, 'app/server.js'), 'utf8')).toBe('console.log(1)\n');
    }
    fs.writeFileSync(path.join(src, 'README.md'), 'hello again\n');
    await must(alice(['commit', '-qam', 'second commit'], src));
    await must(alice(['push', `${h.httpBase}/shop.git`, 'main'], src));
    const dir = path.join(work, 'clone-v2');
    await must(alice(['fetch', 'origin'], dir));
    const log = await must(alice(['log', '--format=%s', 'origin/main'], dir));
    expect(log.stdout).toBe('second commit\nfirst commit\n');
    await must(alice(['pull', '--ff-only', 'origin', 'main'], dir));
    expect(fs.readFileSync(path.join(dir, 'README.md'), 'utf8')).toBe('hello again\n');
  });

  it('stores other branches without deploying, and keeps hostile ref names as data', async () => {
    const alice = gitCli(home, { token: 'alice-token' });
    const push = await alice(
      [
        'push',
        `${h.httpBase}/shop.git`,
        'main:refs/heads/--upload-pack=x',
        'main:refs/heads/$(id)',
        'main:dev',
      ],
      src,
    );
    expect(push.code, push.stderr).toBe(0);
    expect(trimmed(push.timedLines).at(-1)).toBe('remote: -----> not deployed: not the deploy branch');
    const refs = await must(gitCli(home)(['for-each-ref', '--format=%(refname)'], repoPath(h, 'p-shop')));
    expect(refs.stdout.split('\n')).toEqual(
      expect.arrayContaining(['refs/heads/--upload-pack=x', 'refs/heads/$(id)', 'refs/heads/dev']),
    );
    const ls = await must(alice(['ls-remote', `${h.httpBase}/shop.git`], work));
    expect(ls.stdout).toContain('refs/heads/--upload-pack=x');
  });

  it('rejects the push when the deployment fails, leaving the branch where it was', async () => {
    const alice = gitCli(home, { token: 'alice-token' });
    const before = (await must(alice(['ls-remote', `${h.httpBase}/shop.git`, 'refs/heads/main'], work)))
      .stdout;
    fs.writeFileSync(path.join(src, 'broken.js'), 'throw 1\n');
    await must(alice(['add', '.'], src));
    await must(alice(['commit', '-qm', 'broken'], src));
    const push = await alice(['push', '-o', 'fail', `${h.httpBase}/shop.git`, 'main'], src);
    expect(push.code).not.toBe(0);
    expect(trimmed(push.timedLines).at(-1)).toBe(
      'remote: !     push rejected: build failed: step 2 exited with code 1',
    );
    expect(push.stderr).toContain('pre-receive hook declined');
    expect(h.control.pushes.at(-1)!.pushOptions).toEqual(['fail']);
    const after = (await must(alice(['ls-remote', `${h.httpBase}/shop.git`, 'refs/heads/main'], work)))
      .stdout;
    expect(after).toBe(before);
    await must(alice(['reset', '-q', '--hard', 'HEAD~1'], src));
  });

  it('asks for credentials (401 + WWW-Authenticate) and refuses wrong or revoked tokens', async () => {
    const r = await rawRequest(h.httpBase, 'GET /shop.git/info/refs?service=git-upload-pack HTTP/1.1');
    expect(r.status).toBe(401);
    expect(r.raw).toMatch(/www-authenticate: Basic realm="PaaSTech"/i);
    const wrong = await gitCli(home, { token: 'nope' })(['ls-remote', `${h.httpBase}/shop.git`], work);
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toMatch(/Authentication failed|could not read Username/);
    h.control.clients[0]!.tokens = [];
    try {
      const revoked = await gitCli(home, { token: 'alice-token' })(
        ['ls-remote', `${h.httpBase}/shop.git`],
        work,
      );
      expect(revoked.code).not.toBe(0);
      expect(revoked.stderr).toMatch(/Authentication failed|could not read Username/);
    } finally {
      h.control.clients[0]!.tokens = ['alice-token'];
    }
  });

  it('refuses a push with a read-only token (403) but lets it clone', async () => {
    const ro = gitCli(home, { token: 'alice-readonly' });
    await must(ro(['ls-remote', `${h.httpBase}/shop.git`], work));
    const push = await ro(['push', `${h.httpBase}/shop.git`, 'main:refs/heads/ro'], src);
    expect(push.code).not.toBe(0);
    expect(push.stderr).toMatch(/403/);
  });

  it('never lets another client clone, fetch, push or learn that a project exists', async () => {
    const bob = gitCli(home, { token: 'bob-token' });
    const outcomes: string[] = [];
    for (const project of ['shop', 'does-not-exist']) {
      const clone = await bob(
        ['clone', `${h.httpBase}/${project}.git`, path.join(work, `bob-${project}`)],
        work,
      );
      const push = await bob(['push', `${h.httpBase}/${project}.git`, 'main'], src);
      expect(clone.code).not.toBe(0);
      expect(push.code).not.toBe(0);
      outcomes.push(clone.stderr.replaceAll(project, 'P'), push.stderr.replaceAll(project, 'P'));
    }
    expect(outcomes[0]).toContain('repository "P" not found');
    expect(outcomes[0]).toBe(outcomes[2]);
    expect(outcomes[1]).toBe(outcomes[3]);
    for (const p of ['info/refs?service=git-upload-pack', 'info/refs?service=git-receive-pack']) {
      const a = await rawRequest(h.httpBase, `GET /shop.git/${p} HTTP/1.1\r\n${basic('bob-token')}`);
      const b = await rawRequest(h.httpBase, `GET /nothere.git/${p} HTTP/1.1\r\n${basic('bob-token')}`);
      expect(a.status).toBe(404);
      expect(b.status).toBe(404);
      expect(a.text.replace('shop', 'P')).toBe(b.text.replace('nothere', 'P'));
    }
  });

  it.each([
    'GET /../shop.git/info/refs?service=git-upload-pack',
    'GET /%2e%2e/shop.git/info/refs?service=git-upload-pack',
    'GET /shop.git/%2e%2e/%2e%2e/etc/passwd',
    'GET /shop.git/../other.git/info/refs?service=git-upload-pack',
    'GET /shop.git\\..\\other.git/info/refs?service=git-upload-pack',
    'GET //shop.git/info/refs?service=git-upload-pack',
    'GET /shop.git//info/refs?service=git-upload-pack',
    'GET /tmp/shop.git/info/refs?service=git-upload-pack',
    'GET http://evil/shop.git/info/refs?service=git-upload-pack',
    'GET /shop.git/objects/info/alternates',
    'GET /shop.git/objects/info/packs',
    'GET /shop.git/HEAD',
    'GET /shop.git/config',
    'GET /shop.git/info/refs',
    'GET /shop.git/info/refs?service=git-upload-archive',
    'GET /shop.git/info/refs?service=--upload-pack=id',
    'POST /shop.git/git-upload-archive',
    'POST /shop.git/info/refs?service=git-upload-pack',
    'HEAD /shop.git/info/refs?service=git-upload-pack',
    'PUT /shop.git/git-receive-pack',
    'DELETE /shop.git/git-receive-pack',
    'GET /shop.git/git-upload-pack',
    'POST /shop.git/git-upload-pack?x=1',
  ])('answers %s with 404, credentials or not', async (line) => {
    const r = await rawRequest(h.httpBase, `${line} HTTP/1.1\r\n${basic('alice-token')}`);
    expect(r.status).toBe(404);
    const anon = await rawRequest(h.httpBase, `${line} HTTP/1.1`);
    expect(anon.status).toBe(404);
  });

  it.each([
    ['text/plain', 415],
    ['application/x-git-receive-pack-request', 415],
    ['', 415],
  ])('refuses upload-pack bodies of content type %j', async (type, status) => {
    const head = `POST /shop.git/git-upload-pack HTTP/1.1\r\n${basic('alice-token')}${type ? `\r\nContent-Type: ${type}` : ''}`;
    const r = await rawRequest(h.httpBase, head, Buffer.from('0000'));
    expect(r.status).toBe(status);
  });

  it('accepts a gzip-encoded upload-pack request (protocol v2 ls-refs)', async () => {
    const pkt = (s: string) => `${(s.length + 4).toString(16).padStart(4, '0')}${s}`;
    const body = zlib.gzipSync(Buffer.from(`${pkt('command=ls-refs\n')}0001${pkt('peel\n')}0000`));
    const r = await rawRequest(
      h.httpBase,
      `POST /shop.git/git-upload-pack HTTP/1.1\r\n${basic('alice-token')}\r\nContent-Type: application/x-git-upload-pack-request\r\nContent-Encoding: gzip\r\nGit-Protocol: version=2`,
      body,
    );
    expect(r.status).toBe(200);
    expect(r.text).toMatch(/[0-9a-f]{40} refs\/heads\/main/);
  });

  it('refuses a gzip bomb sent to upload-pack (413), whatever its compressed size', async () => {
    // Valid want lines without an end, so git keeps reading until the limit stops it.
    const main = execFileSync('git', ['rev-parse', 'refs/heads/main'], { cwd: repoPath(h, 'p-shop') })
      .toString()
      .trim();
    const want = `0032want ${main}\n`;
    const body = zlib.gzipSync(Buffer.from(want.repeat(80_000)));
    expect(body.length).toBeLessThan(64 * 1024);
    const r = await rawRequest(
      h.httpBase,
      `POST /shop.git/git-upload-pack HTTP/1.1\r\n${basic('alice-token')}\r\nContent-Type: application/x-git-upload-pack-request\r\nContent-Encoding: gzip`,
      body,
    );
    expect(r.status).toBe(413);
  });

  it('speaks protocol v2 when the client asks for it', async () => {
    const alice = gitCli(home, { token: 'alice-token' }, { GIT_TRACE_PACKET: '1' });
    const v2 = await must(alice(['-c', 'protocol.version=2', 'ls-remote', `${h.httpBase}/shop.git`], work));
    expect(v2.stderr).toMatch(/< version 2/);
    const v0 = await must(alice(['-c', 'protocol.version=0', 'ls-remote', `${h.httpBase}/shop.git`], work));
    expect(v0.stderr).not.toMatch(/< version 2/);
    expect(v0.stdout).toBe(v2.stdout);
  });

  it('refuses a push over PAASTECH_GIT_MAX_PUSH_BYTES, naming the limit, with nothing stored', async () => {
    const alice = gitCli(home, { token: 'alice-token' });
    const big = path.join(work, 'big');
    const random = randomBytes(400 * 1024);
    await makeWorkTree(big, { 'blob.bin': random.toString('latin1') }, home);
    const objectsBefore = fs.readdirSync(path.join(repoPath(h, 'p-blog'), 'objects')).sort();
    const push = await alice(['push', `${h.httpBase}/blog.git`, 'main'], big);
    expect(push.code).not.toBe(0);
    expect(push.stderr).toContain(
      `larger than the limit of ${256 * 1024} bytes (PAASTECH_GIT_MAX_PUSH_BYTES)`,
    );
    const ls = await must(alice(['ls-remote', `${h.httpBase}/blog.git`], work));
    expect(ls.stdout).toBe('');
    // Give git's signal handler a moment to remove its quarantine.
    await new Promise((r) => setTimeout(r, 300));
    expect(fs.readdirSync(path.join(repoPath(h, 'p-blog'), 'objects')).sort()).toEqual(objectsBefore);
  });

  it('rate-limits failed authentications per address (429 + Retry-After)', async () => {
    let last = { status: 0, raw: '' };
    for (let i = 0; i < 12; i++) {
      last = await rawRequest(
        h.httpBase,
        `GET /shop.git/info/refs?service=git-upload-pack HTTP/1.1\r\n${basic(`guess-${i}`)}`,
      );
    }
    expect(last.status).toBe(429);
    expect(last.raw).toMatch(/retry-after: \d+/i);
    const good = await rawRequest(
      h.httpBase,
      `GET /shop.git/info/refs?service=git-upload-pack HTTP/1.1\r\n${basic('alice-token')}`,
    );
    expect(good.status).toBe(429);
  });

  it('answers /healthz', async () => {
    const r = await rawRequest(h.httpBase, 'GET /healthz HTTP/1.1');
    expect(r.status).toBe(200);
    expect(r.text).toContain('"ok"');
  });
});
