import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import ssh2 from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gitCli, type Harness, makeWorkTree, repoPath, startHarness, tempDir } from './support/harness.js';

const LIMIT = 64 * 1024;

describe('limits: stalled clients and oversized pushes', () => {
  let h: Harness;
  let work: string;
  let key: string;
  beforeAll(async () => {
    h = await startHarness({
      PAASTECH_GIT_IDLE_TIMEOUT_MS: '500',
      PAASTECH_GIT_MAX_PUSH_BYTES: String(LIMIT),
    });
    work = tempDir('gl-');
    key = path.join(work, 'id');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
    const fingerprint = execFileSync('ssh-keygen', ['-l', '-f', `${key}.pub`])
      .toString()
      .split(' ')[1]!;
    h.control.clients[0]!.fingerprints = [fingerprint];
  });
  afterAll(async () => {
    await h.stop();
    fs.rmSync(work, { recursive: true, force: true });
  });

  it('cuts off an HTTP client that stops sending its request body', async () => {
    const url = new URL(h.httpBase);
    const started = Date.now();
    const closed = await new Promise<number>((resolve) => {
      const sock = net.connect(Number(url.port), url.hostname);
      sock.on('error', () => {});
      sock.on('close', () => resolve(Date.now() - started));
      const auth = Buffer.from('x:alice-token').toString('base64');
      sock.write(
        `POST /shop.git/git-upload-pack HTTP/1.1\r\nHost: x\r\nAuthorization: Basic ${auth}\r\n` +
          'Content-Type: application/x-git-upload-pack-request\r\nContent-Length: 1000\r\n\r\n0032want ',
      );
    });
    expect(closed).toBeGreaterThanOrEqual(400);
    expect(closed).toBeLessThan(5000);
  });

  it('cuts off an SSH client that sends nothing', async () => {
    const outcome = await new Promise<string>((resolve, reject) => {
      const conn = new ssh2.Client();
      conn.on('error', reject);
      conn.on('ready', () =>
        conn.exec("git-receive-pack 'shop.git'", (err, ch) => {
          if (err) return reject(err);
          let stderr = '';
          let code = -1;
          ch.stderr.on('data', (b: Buffer) => {
            stderr += b.toString();
          });
          ch.on('exit', (c: number) => {
            code = c;
          });
          ch.on('close', () => {
            conn.end();
            resolve(`${code} ${stderr.trim()}`);
          });
          ch.resume();
        }),
      );
      conn.connect({ host: '127.0.0.1', port: h.sshPort, username: 'git', privateKey: fs.readFileSync(key) });
    });
    expect(outcome).toBe('1 paastech: connection idle for too long');
  });

  it('refuses an SSH push over the limit, naming it, with nothing stored', async () => {
    const home = path.join(work, 'home');
    const src = path.join(work, 'big');
    await makeWorkTree(src, { 'blob.bin': randomBytes(200 * 1024).toString('latin1') }, home);
    const g = gitCli(home, undefined, {
      GIT_SSH_COMMAND: `ssh -F /dev/null -i ${key} -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR`,
    });
    const push = await g(['push', `ssh://git@127.0.0.1:${h.sshPort}/shop.git`, 'main'], src);
    expect(push.code).not.toBe(0);
    expect(push.stderr).toContain(`larger than the limit of ${LIMIT} bytes (PAASTECH_GIT_MAX_PUSH_BYTES)`);
    const repo = repoPath(h, 'p-shop');
    expect(execFileSync('git', ['for-each-ref'], { cwd: repo }).toString()).toBe('');
    await new Promise((r) => setTimeout(r, 300));
    expect(fs.readdirSync(path.join(repo, 'objects')).filter((n) => n.includes('incoming'))).toEqual([]);
  });
});
