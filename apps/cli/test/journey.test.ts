// The CLI as a user runs it: the built `paastech` as a child process against a real `paastechd all`
// (needs `npm run build`), each user with its own XDG_CONFIG_HOME.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { type RunningDaemon, startPaastechd } from '@paastech/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CliUser, cliUser } from './support.js';

/** A loopback port nothing listens on (bound by the OS, then released). */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const PASSWORD = 'correct horse battery staple 42';

let daemon: RunningDaemon;
let apiUrl: string;

beforeAll(async () => {
  daemon = await startPaastechd({ role: 'all' });
  apiUrl = daemon.endpoints.get('dashboard and API')!.replace(/\/$/, '');
});

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

  it('refuses bad command lines with exit code 2', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['tokns'], /^error: unknown command "tokns"\nhint: did you mean "paastech tokens"\?/],
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

  it('logs out', async () => {
    const out = await ada.run(['logout']);
    expect(out).toMatchObject({ code: 0, stdout: `logged out of ${apiUrl}\n` });
    expect((await ada.run(['whoami'])).stderr).toMatch(/^error: not logged in\n/);
  });
});
