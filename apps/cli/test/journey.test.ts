// The CLI as a user runs it: the built `paastech` as a child process against a real `paastechd all`
// (needs `npm run build`), each user with its own XDG_CONFIG_HOME.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { type RunningDaemon, startPaastechd } from '@paastech/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, type CliResult, type CliUser, cliUser, gitAs, makeAppRepository, startCli } from './support.js';

/** A loopback port nothing listens on (bound by the OS, then released). */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Polls the app through the router until it answers `expected` (routes switch right after activation). */
async function appAnswers(project: string, expected: string): Promise<string> {
  let body = '';
  for (let i = 0; i < 150 && body !== expected; i++) {
    body = await appBody(project).catch((e: Error) => e.message);
    if (body !== expected) await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return body;
}

/** GET / of a project's app through the router, as a visitor would (Host: <project>.localhost). */
function appBody(project: string): Promise<string> {
  const port = new URL(daemon.endpoints.get('apps')!.replace('<project>', 'x')).port;
  return new Promise((resolve, reject) => {
    const req = http.get(
      { host: '127.0.0.1', port, path: '/', headers: { host: `${project}.localhost` } },
      (res) => {
        let body = '';
        res.on('data', (b: Buffer) => {
          body += b.toString();
        });
        res.on('end', () => resolve(body));
      },
    );
    req.once('error', reject);
  });
}

const PASSWORD = 'correct horse battery staple 42';

let daemon: RunningDaemon;
let apiUrl: string;

beforeAll(async () => {
  daemon = await startPaastechd({ role: 'all', timeoutMs: 60_000 });
  apiUrl = daemon.endpoints.get('dashboard and API')!.replace(/\/$/, '');
}, 90_000);

afterAll(async () => {
  await daemon?.stop();
});

describe('paastech against a real server', () => {
  let ada: CliUser;

  beforeAll(() => {
    ada = cliUser(apiUrl);
  });

  it('says when nobody is logged in', async () => {
    const r = await ada.run(['whoami']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(
      `error: not logged in\nhint: run paastech login (server ${apiUrl}), or set PAASTECH_TOKEN\n`,
    );
  });

  it('signs up with --password-stdin, stores the token 0600, and knows who it is', async () => {
    const r = await ada.run(['signup', '--email', 'ada@example.com', '--password-stdin'], {
      input: `${PASSWORD}\n`,
    });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(`signed up and logged in as ada@example.com on ${apiUrl}\n`);
    expect(r.code).toBe(0);
    const file = path.join(ada.configDir, 'config.json');
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(fs.statSync(ada.configDir).mode & 0o777).toBe(0o700);
    const stored = JSON.parse(fs.readFileSync(file, 'utf8'));
    expect(stored.logins[new URL(apiUrl).origin].token).toMatch(/^pt_/);

    const who = await ada.run(['whoami']);
    expect(who).toMatchObject({ code: 0, stdout: 'ada@example.com\n', stderr: '' });
    const json = await ada.run(['whoami', '--json']);
    expect(JSON.parse(json.stdout)).toMatchObject({ email: 'ada@example.com' });
    const token = await ada.run(['auth:token']);
    expect(token.stdout.trim()).toBe(stored.logins[new URL(apiUrl).origin].token);
  });

  it('asks for the e-mail and the password twice on a terminal (through script(1), a real pty)', async () => {
    const user = cliUser(apiUrl);
    const quote = (w: string) => `'${w.replace(/'/g, `'\\''`)}'`;
    const child = spawn('script', ['-qec', `${quote(process.execPath)} ${quote(CLI)} signup`, '/dev/null'], {
      cwd: user.home,
      env: { ...user.env, TERM: 'dumb' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (b: Buffer) => {
      output += b.toString();
    });
    const done = new Promise<number | null>((resolve) => child.once('close', resolve));
    const answer = async (prompt: string, text: string) => {
      for (let i = 0; i < 300 && !output.endsWith(prompt) && !output.includes(`${prompt}\u001b`); i++) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      child.stdin.write(`${text}\r`);
    };
    await answer('E-mail: ', 'tty@example.com');
    await answer('Password: ', PASSWORD);
    await answer('Password again: ', PASSWORD);
    expect(await done).toBe(0);
    expect(output).toContain('Password again: ');
    expect(output).not.toContain(PASSWORD); // typed without echo
    expect(output).toContain(`signed up and logged in as tty@example.com on ${apiUrl}`);
    expect((await user.run(['whoami'])).stdout).toBe('tty@example.com\n');
  }, 30_000);

  it('refuses a second sign-up with the same e-mail with the API’s reason', async () => {
    const r = await cliUser(apiUrl).run(['signup', '--email', 'ada@example.com', '--password-stdin'], {
      input: PASSWORD,
    });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^error: .*ada@example\.com.*\n/);
  });

  it('logs in with a password, and refuses a wrong one in one line', async () => {
    const bob = cliUser(apiUrl);
    const ok = await bob.run(['login', '--email', 'ada@example.com', '--password-stdin'], {
      input: PASSWORD,
    });
    expect(ok.stdout).toBe(`logged in as ada@example.com on ${apiUrl}\n`);
    expect(ok.code).toBe(0);
    const bad = await cliUser(apiUrl).run(['login', '--email', 'ada@example.com', '--password-stdin'], {
      input: 'wrong password 123',
    });
    expect(bad.code).toBe(1);
    expect(bad.stderr.split('\n').filter((l) => l.startsWith('error: '))).toHaveLength(1);
    expect(bad.stderr).not.toMatch(/\bat .*\.js:\d+/); // no stack trace without --debug
  });

  it('creates, lists, uses and revokes an API token', async () => {
    const created = await ada.run(['tokens:create', 'ci deploys', '--expires-in', '30']);
    expect(created.code).toBe(0);
    const token = created.stdout.trim();
    expect(token).toMatch(/^pt_[A-Za-z0-9]{32,}$/);
    expect(created.stderr).toMatch(
      /^created token "ci deploys" \(id (\S+), expires .+\); it is shown only now:\n$/,
    );
    const id = /\(id (\S+),/.exec(created.stderr)![1]!;

    const list = await ada.run(['tokens']);
    expect(list.stdout).toMatch(/^ID +NAME +PREFIX +CREATED +EXPIRES +LAST USED\n/);
    expect(list.stdout).toContain(id);
    const listed = JSON.parse((await ada.run(['tokens', '--json'])).stdout) as Array<{
      id: string;
      name: string;
    }>;
    expect(listed.find((t) => t.id === id)?.name).toBe('ci deploys');

    const ci = cliUser(apiUrl);
    expect((await ci.run(['whoami'], { env: { PAASTECH_TOKEN: token } })).stdout).toBe('ada@example.com\n');

    const revoked = await ada.run(['tokens:revoke', id]);
    expect(revoked).toMatchObject({ code: 0, stdout: `revoked token ${id}\n` });
    const after = await ci.run(['whoami'], { env: { PAASTECH_TOKEN: token } });
    expect(after.code).toBe(1);
    expect(after.stderr).toMatch(
      /^error: .+\nhint: your session is missing or expired: run paastech login\n$/,
    );
  });

  it('prints the problem document with --debug', async () => {
    const r = await ada.run(['tokens:revoke', 'no-such-token', '--debug']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: .+\n(hint: .+\n)?problem: \{"type":.*"status":404/);
  });

  it('refuses bad command lines with exit code 2', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['tokns'], /^error: unknown command "tokns"\nhint: did you mean "paastech tokens"\?/],
      [
        ['config', 'set', 'A=1'],
        /^error: unknown command "config set"\nhint: commands use a colon: paastech config:set\n$/,
      ],
      [['tokens:create'], /^error: tokens:create: missing argument NAME\n/],
      [
        ['tokens:create', 'x', '--expires-in', 'soon'],
        /^error: --expires-in "soon": must be a whole number of days\n/,
      ],
      [['whoami', '--frobnicate'], /^error: whoami: unknown flag "--frobnicate"\n/],
      [['whoami', 'extra'], /^error: whoami: unexpected argument "extra"\n/],
      [
        ['whoami', '--api', 'ftp://x'],
        /^error: API URL "ftp:\/\/x": must be an http:\/\/ or https:\/\/ URL\n/,
      ],
    ];
    for (const [args, stderr] of cases) {
      const r = await ada.run(args);
      expect({ args, code: r.code }).toEqual({ args, code: 2 });
      expect(r.stderr).toMatch(stderr);
      expect(r.stdout).toBe('');
    }
  });

  it('explains when the server is down', async () => {
    const down = `http://127.0.0.1:${await closedPort()}`;
    const r = await ada.run(['whoami', '--api', down], { env: { PAASTECH_TOKEN: 'pt_x' } });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      `error: cannot reach the API at ${down} (connection refused)\n` +
        'hint: is paastechd running? choose the server with --api URL or PAASTECH_API_URL\n',
    );
  });

  it('answers git credential requests only for known git hosts', async () => {
    const r = await ada.run(['git:credential', 'get'], {
      input: 'protocol=https\nhost=evil.example.com\n\n',
    });
    expect(r).toMatchObject({ code: 0, stdout: '' });
  });

  it('logs in with the device flow once the code is approved in the dashboard', async () => {
    const laptop = cliUser(apiUrl);
    const login = startLogin(laptop);
    const code = await login.userCode;
    expect(code).toMatch(/^[A-Z0-9]{4}-[A-Z0-9]{4}$/);
    await dashboard('ada@example.com', 'approve', code);
    const r = await login.done;
    expect(r.stdout).toBe(`logged in as ada@example.com on ${apiUrl}\n`);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`enter the code: ${code}\n`);
    expect(r.stderr).toContain('waiting for you to approve the code in the browser');
    expect((await laptop.run(['whoami'])).stdout).toBe('ada@example.com\n');
  }, 60_000);

  it('says so when the code is denied in the dashboard', async () => {
    const login = startLogin(cliUser(apiUrl));
    await dashboard('ada@example.com', 'deny', await login.userCode);
    const r = await login.done;
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/error: the login was denied in the browser\n$/);
  }, 60_000);

  describe('projects, git, config, domains, keys', () => {
    let repo: string;

    beforeAll(async () => {
      const login = await ada.run(['login', '--email', 'ada@example.com', '--password-stdin'], {
        input: PASSWORD,
      });
      expect(login.code).toBe(0);
      repo = path.join(ada.home, 'shop');
      await makeAppRepository(ada, repo);
    });

    it('creates a project inside a repository and adds the paastech remote', async () => {
      const r = await ada.run(['projects:create', 'shop'], { cwd: repo });
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(
        /^shop\n {2}app {8}http:\/\/shop\.\S+\n {2}git HTTPS {2}(http:\/\/127\.0\.0\.1:\d+\/shop\.git)\n {2}git SSH {4}ssh:\/\/\S+\/shop\.git\n {2}created {4}\S+\n$/,
      );
      const httpUrl = /git HTTPS {2}(\S+)/.exec(r.stdout)![1]!;
      expect(r.stderr).toContain(`git remote paastech added: ${httpUrl}\n`);
      const remote = await gitAs(ada, repo, ['config', '--get', 'remote.paastech.url']);
      expect(remote.stdout.trim()).toBe(httpUrl);
      const helpers = await gitAs(ada, repo, [
        'config',
        '--get-all',
        `credential.${new URL(httpUrl).origin}.helper`,
      ]);
      expect(helpers.stdout).toBe(`\n!'${process.execPath}' '${CLI}' git:credential\n`);
      const token = (await ada.run(['auth:token'])).stdout.trim();
      const u = new URL(httpUrl);
      const get = await ada.run(['git:credential', 'get'], {
        input: `protocol=http\nhost=${u.host}\npath=shop.git\n\n`,
      });
      expect(get).toMatchObject({ code: 0, stdout: `username=paastech\npassword=${token}\n`, stderr: '' });
      const other = await ada.run(['git:credential', 'get'], { input: `protocol=https\nhost=${u.host}\n\n` });
      expect(other.stdout).toBe(''); // same host, other scheme: not ours
    });

    it('lists projects and finds the project from the git remote', async () => {
      const list = await ada.run(['projects']);
      expect(list.stdout).toMatch(/^NAME +APP +GIT +CREATED\nshop +http:\/\/shop\./);
      const info = await ada.run(['projects:info', '--json'], { cwd: repo });
      expect(JSON.parse(info.stdout)).toMatchObject({ name: 'shop' });
    });

    it('pushes with git push paastech main, the token coming from the credential helper', async () => {
      const push = await gitAs(ada, repo, ['push', 'paastech', 'main'], { GIT_TERMINAL_PROMPT: '0' });
      expect(push.stderr).toMatch(/remote: -----> deployed v1/);
      const head = (await gitAs(ada, repo, ['rev-parse', 'HEAD'])).stdout.trim();
      const remote = await gitAs(ada, repo, ['ls-remote', 'paastech', 'refs/heads/main']);
      expect(remote.stdout).toBe(`${head}\trefs/heads/main\n`);
      expect(await appAnswers('shop', 'hello world')).toBe('hello world');
    }, 120_000);

    it('redeploys on config:set, rolls back code and config, scales, and shows deployments, ps and logs', async () => {
      const set = await ada.run(['config:set', 'GREETING=ada'], { cwd: repo });
      expect(set.stdout).toBe('set GREETING on shop: v2 is active\n');
      expect(set.code).toBe(0);
      expect(set.stderr).toMatch(/^setting GREETING on shop…\nv2: waiting…\n/);
      expect(await appAnswers('shop', 'hello ada')).toBe('hello ada');

      const list = await ada.run(['deployments'], { cwd: repo });
      expect(list.stdout).toMatch(
        /^VERSION +STATE +REASON +COMMIT +CREATED +DETAIL\nv2 +active +config +[0-9a-f]{7} .*\nv1 +superseded +push /,
      );
      const info = await ada.run(['deployments:info', 'v1'], { cwd: repo });
      expect(info.stdout).toMatch(
        /^v1 superseded\n {2}commit {5}[0-9a-f]{40} \(refs\/heads\/main\)\n {2}reason {5}push\n/,
      );
      expect(info.stdout).toContain('-----> ');
      const missing = await ada.run(['deployments:info', 'v99'], { cwd: repo });
      expect(missing.code).toBe(1);
      expect((await ada.run(['deployments:info', 'latest'], { cwd: repo })).code).toBe(2);

      const back = await ada.run(['rollback'], { cwd: repo });
      expect(back.stdout).toBe('shop rolled back: v3 is active\n');
      expect(back.stderr).toMatch(/^rolling back shop: deployment v3 created\n/);
      expect(await appAnswers('shop', 'hello world')).toBe('hello world'); // v1's code and v1's config
      // v1's config (no GREETING) is the project's again: the next push would run with it.
      expect(JSON.parse((await ada.run(['config', '--json'], { cwd: repo })).stdout)).toEqual({});

      const scale = await ada.run(['ps:scale', 'web=2'], { cwd: repo });
      expect(scale).toMatchObject({ code: 0, stdout: 'shop now runs web=2\n' });
      const bad = await ada.run(['ps:scale', 'web=many'], { cwd: repo });
      expect(bad.code).toBe(2);
      let status: { instances: Array<{ name: string; state: string }> } = { instances: [] };
      for (let i = 0; i < 100 && status.instances.filter((x) => x.state === 'running').length < 2; i++) {
        await new Promise((resolve) => setTimeout(resolve, 200));
        status = JSON.parse((await ada.run(['ps', '--json'], { cwd: repo })).stdout);
      }
      expect(status.instances.map((x) => x.name).sort()).toEqual(['web.1', 'web.2']);
      const ps = await ada.run(['ps'], { cwd: repo });
      expect(ps.stdout).toMatch(
        /^shop: deployment v3\nINSTANCE +STATE +VERSION +UPTIME +RESTARTS +MEMORY +CPU\nweb\.1 +running +v3 /,
      );

      const logs = await ada.run(['logs', '-n', '200', '--source', 'web'], { cwd: repo });
      expect(logs.code).toBe(0);
      expect(logs.stdout).toMatch(/^\S+Z web\.\d: listening$/m);
      const json = (await ada.run(['logs', '-n', '5', '--json'], { cwd: repo })).stdout.trim().split('\n');
      expect(json.length).toBeLessThanOrEqual(5);
      expect(JSON.parse(json[0]!)).toHaveProperty('source');
      expect((await ada.run(['logs', '-n', 'lots'], { cwd: repo })).code).toBe(2);
    }, 180_000);

    it('follows logs with -t until Ctrl-C, which exits 0', async () => {
      const tail = startCli(ada, ['logs', '-t', '-n', '0', '--source', 'platform'], repo);
      await new Promise((resolve) => setTimeout(resolve, 500)); // the stream is open before the restart
      const restart = await ada.run(['ps:restart', 'web'], { cwd: repo });
      expect(restart).toMatchObject({ code: 0, stdout: 'restarting web instances of shop\n' });
      await tail.waitFor(/ platform: restart done\n/);
      expect(tail.stdout()).not.toMatch(/ web\.\d: /);
      tail.child.kill('SIGINT');
      const end = await tail.done;
      expect(end.code).toBe(0);
      expect(end.stderr).toBe('');
    }, 60_000);

    it('prints the app URL with open when there is no browser', async () => {
      const r = await ada.run(['open'], { cwd: repo });
      expect(r).toMatchObject({ code: 0, stderr: '' });
      expect(r.stdout).toMatch(/^http:\/\/shop\.localhost[:/]\S*\n$/);
    });

    it('re-points an existing remote with git:remote', async () => {
      await gitAs(ada, repo, ['remote', 'set-url', 'paastech', 'http://127.0.0.1:9/elsewhere.git']);
      const r = await ada.run(['git:remote', '-p', 'shop'], { cwd: repo });
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^git remote paastech updated: http:\/\/127\.0\.0\.1:\d+\/shop\.git\n/);
      const outside = await ada.run(['git:remote', '-p', 'shop']);
      expect(outside.code).toBe(1);
      expect(outside.stderr).toMatch(/^error: not inside a git repository\n/);
    });

    it('sets, reads and unsets config vars', async () => {
      fs.writeFileSync(path.join(repo, 'cert.pem'), 'line 1\nline 2\n');
      const set = await ada.run(
        ['config:set', '--no-wait', 'NODE_ENV=production', 'GREETING=hello world', 'CERT=@cert.pem'],
        { cwd: repo },
      );
      expect(set.stderr).toBe('setting NODE_ENV, GREETING, CERT on shop…\n');
      expect(set).toMatchObject({
        code: 0,
        stdout: 'set NODE_ENV, GREETING, CERT on shop: v4 is deploying\n',
      });
      expect((await ada.run(['config:get', 'GREETING'], { cwd: repo })).stdout).toBe('hello world\n');
      const json = JSON.parse((await ada.run(['config', '--json', '-p', 'shop'])).stdout);
      expect(json).toEqual({ CERT: 'line 1\nline 2\n', GREETING: 'hello world', NODE_ENV: 'production' });
      const unset = await ada.run(['config:unset', '--no-wait', 'GREETING', '-p', 'shop']);
      expect(unset.stdout).toMatch(/^unset GREETING on shop: v\d+ is deploying\n$/);
      const missing = await ada.run(['config:get', 'GREETING', '-p', 'shop']);
      expect(missing.code).toBe(1);
      expect(missing.stderr).toMatch(/^error: config var "GREETING" is not set on project "shop"\n/);
    });

    it.each([
      [['config:set', 'lower=1'], 2, /^error: config var "lower": name must be upper-case/],
      [['config:set', 'NOVALUE'], 2, /^error: "NOVALUE": expected KEY=VALUE\n/],
      [
        ['config:set', 'K=@/nonexistent/file'],
        2,
        /^error: config var "K": cannot read file "\/nonexistent\/file" \(ENOENT\)\n/,
      ],
      [['config:set', 'PORT=80'], 1, /^setting PORT on shop…\nerror: .*PORT.*\n/],
      [['config:unset', 'A=1'], 2, /^error: "A=1": config:unset takes names only/],
    ])('refuses %j with exit code %i', async (args, code, stderr) => {
      const r = await ada.run([...args, '-p', 'shop']);
      expect(r.code).toBe(code);
      expect(r.stderr).toMatch(stderr);
      expect(r.stdout).toBe('');
    });

    it('adds, lists and removes a domain', async () => {
      const add = await ada.run(['domains:add', 'www.shop.example', '-p', 'shop']);
      expect(add).toMatchObject({ code: 0, stdout: 'added www.shop.example to shop\n' });
      expect((await ada.run(['domains', '-p', 'shop'])).stdout).toMatch(
        /^HOSTNAME +ADDED\nwww\.shop\.example +\d{4}-/,
      );
      const bad = await ada.run(['domains:add', 'not a host', '-p', 'shop']);
      expect(bad.code).toBe(1);
      expect(bad.stderr).toMatch(/^error: .*not a host/);
      expect((await ada.run(['domains:remove', 'www.shop.example', '-p', 'shop'])).code).toBe(0);
      expect((await ada.run(['domains', '-p', 'shop'])).stdout).toMatch(/has no custom domains/);
    });

    it('adds an SSH key from ~/.ssh, pushes over SSH with it, and removes it', async () => {
      const sshDir = path.join(ada.home, '.ssh');
      fs.mkdirSync(sshDir, { mode: 0o700 });
      await gitAsTool('ssh-keygen', [
        '-q',
        '-t',
        'ed25519',
        '-N',
        '',
        '-C',
        'ada@laptop',
        '-f',
        path.join(sshDir, 'id_ed25519'),
      ]);
      const priv = await ada.run(['keys:add', path.join(sshDir, 'id_ed25519')]);
      expect(priv.code).toBe(1);
      expect(priv.stderr).toMatch(/is a private key: it never leaves your machine\n/);
      const add = await ada.run(['keys:add']);
      expect(add.code).toBe(0);
      const fingerprint = /^added ssh-ed25519 key (SHA256:\S+) \(ada@laptop\)\n$/.exec(add.stdout)?.[1];
      expect(fingerprint).toBeDefined();
      expect((await ada.run(['keys'])).stdout).toContain(fingerprint);

      const remote = await ada.run(['git:remote', '--ssh'], { cwd: repo });
      expect(remote.stdout).toMatch(
        /^git remote paastech updated: ssh:\/\/\S+\/shop\.git\ngit will authenticate with your SSH key/,
      );
      fs.appendFileSync(path.join(repo, 'server.js'), '// second\n');
      await gitAs(ada, repo, [
        '-c',
        'user.email=a@example.com',
        '-c',
        'user.name=A',
        'commit',
        '-qam',
        'second',
      ]);
      const ssh = `ssh -i ${path.join(sshDir, 'id_ed25519')} -o IdentitiesOnly=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR`;
      await gitAs(ada, repo, ['push', '-q', 'paastech', 'main'], { GIT_SSH_COMMAND: ssh });
      const head = (await gitAs(ada, repo, ['rev-parse', 'HEAD'])).stdout.trim();
      const listed = await gitAs(ada, repo, ['ls-remote', 'paastech', 'refs/heads/main'], {
        GIT_SSH_COMMAND: ssh,
      });
      expect(listed.stdout).toBe(`${head}\trefs/heads/main\n`);

      const removed = await ada.run(['keys:remove', fingerprint!]);
      expect(removed).toMatchObject({ code: 0, stdout: `removed key ${fingerprint}\n` });
      expect((await ada.run(['keys'])).stdout).toBe('no SSH keys: add yours with paastech keys:add\n');
    }, 120_000);

    it('removes a key whose fingerprint holds "/" and "+" (path-encoded, not a path)', async () => {
      let fingerprint = '';
      for (let i = 0; i < 40 && !/[/+]/.test(fingerprint); i++) {
        const file = path.join(ada.home, `k${i}`);
        await gitAsTool('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `k${i}`, '-f', file]);
        const add = await ada.run(['keys:add', `${file}.pub`, '--name', `k${i}`]);
        expect(add.code).toBe(0);
        fingerprint = /key (SHA256:\S+)/.exec(add.stdout)![1]!;
      }
      expect(fingerprint).toMatch(/[/+]/);
      const removed = await ada.run(['keys:remove', fingerprint]);
      expect(removed).toMatchObject({ code: 0, stdout: `removed key ${fingerprint}\n` });
      expect((await ada.run(['keys'])).stdout).not.toContain(fingerprint);
    }, 120_000);

    it('gives an unknown project and another Client’s project the same not-found error', async () => {
      const mallory = cliUser(apiUrl);
      const signup = await mallory.run(['signup', '--email', 'mallory@example.com', '--password-stdin'], {
        input: PASSWORD,
      });
      expect(signup.code).toBe(0);
      const theirs = await mallory.run(['config', '-p', 'shop']);
      const unknown = await mallory.run(['config', '-p', 'no-such-project']);
      expect(theirs.code).toBe(1);
      expect(unknown.code).toBe(1);
      expect(theirs.stderr).toMatch(/^error: .*"shop"/);
      expect(theirs.stderr.replace('"shop"', '"X"')).toBe(unknown.stderr.replace('"no-such-project"', '"X"'));
      const del = await mallory.run(['projects:delete', 'shop', '--confirm', 'shop']);
      expect(del.code).toBe(1);
    });

    it('needs a project it can determine', async () => {
      const r = await ada.run(['config']);
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(
        'error: no project given, and this directory has no `paastech` git remote\n' +
          'hint: pass -p NAME, or run paastech git:remote -p NAME in your repository (paastech projects lists yours)\n',
      );
      const bad = await ada.run(['config', '-p', '../etc']);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toMatch(/^error: project "\.\.\/etc": name must be a DNS label/);
    });

    it('deletes a project only with the matching confirmation', async () => {
      const none = await ada.run(['projects:delete', 'shop']);
      expect(none.code).toBe(2);
      expect(none.stderr).toMatch(/^error: projects:delete: stdin is not a terminal: pass --confirm shop\n/);
      const wrong = await ada.run(['projects:delete', 'shop', '--confirm', 'shoop']);
      expect(wrong.code).toBe(1);
      expect(wrong.stderr).toMatch(/^error: confirmation "shoop" does not match project "shop"\n/);
      const ok = await ada.run(['projects:delete', 'shop', '--confirm', 'shop']);
      expect(ok).toMatchObject({ code: 0, stdout: 'deleted project shop\n' });
      expect((await ada.run(['projects'])).stdout).toMatch(/^no projects yet/);
    }, 60_000);
  });

  it('logs out', async () => {
    const token = (await ada.run(['auth:token'])).stdout.trim();
    const out = await ada.run(['logout']);
    expect(out).toMatchObject({ code: 0, stdout: `logged out of ${apiUrl} (token revoked)\n` });
    const reuse = await cliUser(apiUrl).run(['whoami'], { env: { PAASTECH_TOKEN: token } });
    expect(reuse.code).toBe(1);
    expect((await ada.run(['whoami'])).stderr).toMatch(/^error: not logged in\n/);
  });
});

/** Runs a tool (ssh-keygen) and fails on a non-zero exit. */
async function gitAsTool(command: string, args: string[]): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const child = spawn(command, args, { stdio: 'ignore' });
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolve() : reject(new Error(`${command} exited ${code}`))));
  });
}

/** Starts `paastech login` (device flow) and resolves its user code as soon as it prints it. */
function startLogin(user: CliUser): { userCode: Promise<string>; done: Promise<CliResult> } {
  const child = spawn(process.execPath, [CLI, 'login'], {
    cwd: user.home,
    env: user.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let onCode: (code: string) => void = () => {};
  const userCode = new Promise<string>((resolve) => {
    onCode = resolve;
  });
  child.stdout.on('data', (b: Buffer) => {
    stdout += b.toString();
  });
  child.stderr.on('data', (b: Buffer) => {
    stderr += b.toString();
    const m = /enter the code: (\S+)\n/.exec(stderr);
    if (m) onCode(m[1]!);
  });
  const done = new Promise<CliResult>((resolve) =>
    child.once('close', (code) => resolve({ code, stdout, stderr })),
  );
  return { userCode, done };
}

/** What the dashboard does: sign in with a session cookie and approve or deny a device code. */
async function dashboard(email: string, action: 'approve' | 'deny', userCode: string): Promise<void> {
  const origin = new URL(apiUrl).origin;
  const login = await fetch(`${apiUrl}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin },
    body: JSON.stringify({ email, password: PASSWORD }),
  });
  expect(login.status).toBe(200);
  const cookie = login.headers
    .getSetCookie()
    .map((c) => c.split(';')[0])
    .join('; ');
  const res = await fetch(`${apiUrl}/api/v1/auth/device/${action}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin, cookie },
    body: JSON.stringify({ user_code: userCode }),
  });
  expect(res.status).toBe(204);
}
