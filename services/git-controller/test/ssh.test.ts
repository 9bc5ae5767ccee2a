import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import ssh2 from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sshFingerprint } from '../src/ssh.js';
import { gitCli, type Harness, makeWorkTree, must, startHarness, tempDir } from './support/harness.js';

/** Creates an ed25519 key pair with ssh-keygen; returns the private key path and its fingerprint. */
function makeKey(dir: string, name: string): { file: string; fingerprint: string } {
  const file = path.join(dir, name);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', name, '-f', file]);
  const fingerprint = execFileSync('ssh-keygen', ['-l', '-f', `${file}.pub`])
    .toString()
    .split(' ')[1]!;
  return { file, fingerprint };
}

/** A git CLI that goes over SSH with `key`. */
function sshGit(home: string, key: string) {
  return gitCli(home, undefined, {
    GIT_SSH_COMMAND: `ssh -F /dev/null -i ${key} -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR`,
  });
}

/** Runs one request on an ssh2 client connection (from `localAddress`) and reports what the server said. */
function sshSession(
  port: number,
  key: string,
  use: (conn: ssh2.Client, done: (outcome: string) => void) => void,
  localAddress?: string,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const conn = new ssh2.Client();
    conn.on('ready', () =>
      use(conn, (outcome) => {
        conn.end();
        resolve(outcome);
      }),
    );
    conn.on('error', reject);
    conn.connect({
      host: '127.0.0.1',
      port,
      username: 'git',
      privateKey: fs.readFileSync(key),
      ...(localAddress ? { localAddress } : {}),
    });
  });
}

/** Collects a channel's stderr and exit code. */
function outcomeOf(ch: ssh2.ClientChannel, done: (o: string) => void): void {
  let err = '';
  let code: number | undefined;
  ch.stderr.on('data', (b: Buffer) => {
    err += b.toString();
  });
  ch.on('exit', (c: number) => {
    code = c;
  });
  ch.on('close', () => done(`${code} ${err.trim()}`));
  ch.resume();
}

describe('git over SSH', () => {
  let h: Harness;
  let work: string;
  let home: string;
  let src: string;
  let alice: { file: string; fingerprint: string };
  let bob: { file: string; fingerprint: string };
  let stranger: { file: string; fingerprint: string };
  let url: (project: string) => string;
  beforeAll(async () => {
    h = await startHarness();
    work = tempDir('gs-');
    home = path.join(work, 'home');
    src = path.join(work, 'src');
    alice = makeKey(work, 'alice');
    bob = makeKey(work, 'bob');
    stranger = makeKey(work, 'stranger');
    h.control.clients[0]!.fingerprints = [alice.fingerprint];
    h.control.clients[1]!.fingerprints = [bob.fingerprint];
    url = (project) => `ssh://git@127.0.0.1:${h.sshPort}/${project}.git`;
    await makeWorkTree(src, { 'index.js': 'console.log("ssh")\n' }, home);
  });
  afterAll(async () => {
    await h.stop();
    fs.rmSync(work, { recursive: true, force: true });
  });

  it('creates the host key once (ed25519, mode 0600) and computes fingerprints like ssh-keygen', () => {
    const file = path.join(h.dataDir, 'keys', 'ssh_host_ed25519_key');
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(fs.readFileSync(file, 'utf8')).toContain('OPENSSH PRIVATE KEY');
    const blob = Buffer.from(fs.readFileSync(`${alice.file}.pub`, 'utf8').split(' ')[1]!, 'base64');
    expect(sshFingerprint(blob)).toBe(alice.fingerprint);
  });

  it('pushes with remote: lines in order, then clones and fetches', async () => {
    const g = sshGit(home, alice.file);
    const push = await g(['push', url('shop'), 'main'], src);
    expect(push.code, push.stderr).toBe(0);
    const timed = push.timedLines.filter((l) => l.line.startsWith('remote: '));
    expect(timed.at(-1)!.at - timed[0]!.at).toBeGreaterThan(600);
    const remote = timed.map((l) => l.line.trimEnd());
    expect(remote).toEqual([
      expect.stringMatching(/^remote: -----> deployment v1 of [0-9a-f]{7} \(refs\/heads\/main\)$/),
      'remote: -----> Building first commit',
      'remote:        step 1 of 2',
      'remote:        step 2 of 2',
      'remote: -----> deployed v1: http://app.localhost:8080',
    ]);
    expect(h.control.authorizations.at(-1)).toMatchObject({
      credential: { $case: 'sshKeyFingerprint', value: alice.fingerprint },
      projectName: 'shop',
      access: 2,
      transport: 2,
    });
    for (const version of ['2', '0']) {
      const dir = path.join(work, `clone-${version}`);
      await must(g(['-c', `protocol.version=${version}`, 'clone', url('shop'), dir], work));
      expect(fs.readFileSync(path.join(dir, 'index.js'), 'utf8')).toBe('console.log("ssh")\n');
    }
    fs.writeFileSync(path.join(src, 'index.js'), 'console.log("two")\n');
    await must(g(['commit', '-qam', 'two'], src));
    await must(g(['push', `ssh://git@127.0.0.1:${h.sshPort}/shop.git`, 'main'], src));
    await must(g(['pull', '-q', '--ff-only', 'origin', 'main'], path.join(work, 'clone-2')));
    expect(fs.readFileSync(path.join(work, 'clone-2', 'index.js'), 'utf8')).toBe('console.log("two")\n');
  });

  it('speaks protocol v2 when the client asks for it (GIT_PROTOCOL env request)', async () => {
    const g = gitCli(home, undefined, {
      GIT_TRACE_PACKET: '1',
      GIT_SSH_COMMAND: `ssh -F /dev/null -i ${alice.file} -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR`,
    });
    const v2 = await must(g(['-c', 'protocol.version=2', 'ls-remote', url('shop')], work));
    expect(v2.stderr).toMatch(/< version 2/);
    expect(v2.stdout).toMatch(/refs\/heads\/main/);
  });

  it('never lets another client or an unknown key clone, push or learn that a project exists', async () => {
    const messages: string[] = [];
    for (const [key, project] of [
      [bob.file, 'shop'],
      [bob.file, 'nothing-here'],
    ] as const) {
      const g = sshGit(home, key);
      const clone = await g(['clone', url(project), path.join(work, `x-${project}`)], work);
      const push = await g(['push', url(project), 'main'], src);
      expect(clone.code).not.toBe(0);
      expect(push.code).not.toBe(0);
      messages.push(clone.stderr.replaceAll(project, 'P'), push.stderr.replaceAll(project, 'P'));
    }
    expect(messages[0]).toContain('paastech: repository "P" not found');
    expect(messages[0]).toBe(messages[2]);
    expect(messages[1]).toBe(messages[3]);
    const unknown = await sshGit(home, stranger.file)(['clone', url('shop'), path.join(work, 'x')], work);
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toContain('paastech: permission denied (publickey)');
  });

  it.each([
    ['ls -la', 'only git-upload-pack'],
    ["git-upload-pack '../shop.git'", 'only git-upload-pack'],
    ["git-upload-pack 'shop.git'; id", 'only git-upload-pack'],
    ["git-upload-pack '/etc/passwd'", 'only git-upload-pack'],
    ["git-upload-archive 'shop.git'", 'only git-upload-pack'],
    ["git-receive-pack '--help.git'", 'only git-upload-pack'],
  ])('refuses exec %j with one line and exit 1', async (command, message) => {
    const outcome = await sshSession(h.sshPort, alice.file, (conn, done) =>
      conn.exec(command, (err, ch) => (err ? done(`error ${err.message}`) : outcomeOf(ch, done))),
    );
    expect(outcome).toMatch(new RegExp(`^1 paastech: ${message}[^\\n]*$`));
  });

  it('refuses shells, subsystems, port forwarding, ptys and env requests', async () => {
    const shell = await sshSession(h.sshPort, alice.file, (conn, done) =>
      conn.shell(false, (err, ch) => (err ? done(`error ${err.message}`) : outcomeOf(ch, done))),
    );
    expect(shell).toMatch(/^1 paastech: no shell access\./);
    const subsystem = await sshSession(h.sshPort, alice.file, (conn, done) =>
      conn.subsys('sftp', (err, ch) => (err ? done(`error ${err.message}`) : outcomeOf(ch, done))),
    );
    expect(subsystem).toMatch(/^(1 paastech: no subsystems\.|error)/);
    const forwardOut = await sshSession(h.sshPort, alice.file, (conn, done) =>
      conn.forwardOut('127.0.0.1', 0, '127.0.0.1', 22, (err) =>
        done(err ? `error ${err.message}` : 'opened'),
      ),
    );
    expect(forwardOut).toMatch(/^error/);
    const forwardIn = await sshSession(h.sshPort, alice.file, (conn, done) =>
      conn.forwardIn('127.0.0.1', 0, (err) => done(err ? `error ${err.message}` : 'bound')),
    );
    expect(forwardIn).toMatch(/^error/);
    const pty = await sshSession(h.sshPort, alice.file, (conn, done) =>
      conn.exec("git-upload-pack 'shop.git'", { pty: true }, (err) =>
        done(err ? `error ${err.message}` : 'ran'),
      ),
    );
    expect(pty).toMatch(/^error/);
    // Env requests are refused (the client is not told: OpenSSH sends them without a reply); what
    // shows is that git never gets the variable: the loader would complain about this library.
    const env = await sshSession(h.sshPort, alice.file, (conn, done) =>
      conn.exec("git-upload-pack 'shop.git'", { env: { LD_PRELOAD: '/nonexistent/x.so' } }, (err, ch) => {
        if (err) return done(`error ${err.message}`);
        outcomeOf(ch, done);
        ch.end('0000');
      }),
    );
    expect(env).toBe('0 ');
  });

  it('refuses password and keyboard-interactive authentication', async () => {
    const err = await new Promise<Error>((resolve) => {
      const conn = new ssh2.Client();
      conn.on('error', resolve);
      conn.on('ready', () => resolve(new Error('logged in')));
      conn.connect({
        host: '127.0.0.1',
        port: h.sshPort,
        username: 'git',
        password: 'alice-token',
        tryKeyboard: true,
      });
    });
    expect(err.message).toMatch(/All configured authentication methods failed/);
  });

  // From 127.0.0.2 (still loopback), so the other tests' address 127.0.0.1 is never locked out.
  it('rate-limits failed authentications per address, before asking the API', async () => {
    const exec = (key: string, project: string, from?: string) =>
      sshSession(
        h.sshPort,
        key,
        (conn, done) =>
          conn.exec(`git-upload-pack '${project}.git'`, (err, ch) => {
            if (err) return done(`error ${err.message}`);
            outcomeOf(ch, done);
            ch.end('0000'); // a flush: git-upload-pack, if it ever runs, ends at once
          }),
        from,
      );
    const failures: string[] = [];
    for (let i = 0; i < 10; i++) failures.push(await exec(stranger.file, 'shop', '127.0.0.2'));
    expect(failures).toEqual(Array(10).fill('1 paastech: permission denied (publickey)'));
    const asked = h.control.authorizations.length;
    // Now even a valid key is refused from that address, without a question to the API.
    const locked = await exec(alice.file, 'shop', '127.0.0.2');
    expect(locked).toMatch(/^1 paastech: too many failed attempts; retry in \d+ s$/);
    const seconds = Number(/retry in (\d+) s/.exec(locked)![1]);
    expect(seconds).toBeGreaterThanOrEqual(1);
    expect(seconds).toBeLessThanOrEqual(60);
    expect(h.control.authorizations.length).toBe(asked);
    // Another address is not affected: its request reaches the API and gets the usual answer.
    expect(await exec(alice.file, 'nothing-here', '127.0.0.1')).toBe(
      '1 paastech: repository "nothing-here" not found',
    );
    expect(h.control.authorizations.length).toBe(asked + 1);
  });
});
