// The newcomer's journey from a fresh `paastechd all` (needs `npm run build`): Client A through the
// real CLI (its own XDG_CONFIG_HOME, git through its credential helper), Client B signed up in headless
// chromium on the dashboard's sign-up page, then using the API with that browser's session cookie and
// Origin (the whole dashboard journey is apps/web/test). Each deploys every fixture app meant to
// succeed (buildpack-app with the operator-installed custom-buildpack, set by A with `paastech
// buildpacks:set` and by B over REST after a push without it was diagnosed), sees the failing ones
// diagnosed, then tries every door into the other's projects (REST, git
// over HTTP and SSH, the dashboard's pages in the browser) and gets nothing; then config, rollback,
// scale, domains, logs and delete.
import fs from 'node:fs';
import path from 'node:path';
import { type RunningDaemon, startPaastechd, tempDir } from '@paastech/testing';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  appsPort,
  type BrowserTab,
  CLI,
  Client,
  commitChange,
  FIXTURES,
  fixtureRepository,
  gitEnv,
  gitHttpUrl,
  launchChromium,
  openTab,
  PASSWORD,
  pool,
  pushHttp,
  type RunResult,
  run,
  sleep,
  viaRouter,
  waitForApp,
} from './support.js';

/** Fixture apps that must be refused, with the diagnosis the push prints. */
const FAILING: Record<string, RegExp> = {
  'build-fails': /build command "npm run build" exited with code 2/,
  'crash-on-start': /web\.1 crashed on start: exited with code 3/,
  'wrong-port': /web\.1 listens on 127\.0\.0\.1:3000, not on the port in \$PORT/,
};
/** A lone greeting.txt: no built-in builder fits it (B's first push, before its buildpack is set). */
const NO_BUILDER =
  /no builder fits this app: add a package\.json, requirements\.txt, index\.html or a Procfile/;
/** The operator-installed buildpack buildpack-app needs (copied into the data dir's buildpacks/). */
const BUILDPACK = 'custom-buildpack';
/** What the apps meant to succeed answer at / (an unknown new fixture must answer 200). */
const BODIES: Record<string, RegExp> = {
  'node-hello': /^hello from v1 \(web\.1\)\n$/,
  'node-dep': /^two days is 172800000 ms\n$/,
  'static-site': /Hello from a static site/,
  'python-stdlib': /^hello from python in /,
  'procfile-web-worker': /^web is up\n$/,
  // greeting.txt, then .profile.d's FROM_PROFILE, then the build count in the buildpack's cache.
  'buildpack-app': /^hello from the buildpack profile-ok build 1\n$/,
};

/** Every fixture app directory (a directory with bin/compile is a buildpack, not an app). */
const FIXTURE_APPS = fs
  .readdirSync(FIXTURES)
  .filter((d) => !fs.existsSync(path.join(FIXTURES, d, 'bin/compile')))
  .sort();
const SUCCEEDING = FIXTURE_APPS.filter((d) => !(d in FAILING));

/**
 * Runs a push again (at most twice more) when its build failed only because the npm registry out on
 * the internet could not be reached (node-dep installs `ms` from it): the world's network, not the
 * platform, is then at fault. Any other failure is returned at once.
 */
async function withRegistryRetry(push: () => Promise<RunResult>): Promise<RunResult> {
  let result = await push();
  for (
    let i = 0;
    i < 2 && /npm error (code|errno) (EAI_AGAIN|ENOTFOUND|ETIMEDOUT|ECONNRESET)/.test(result.stderr);
    i++
  ) {
    await sleep(2000);
    result = await push();
  }
  return result;
}

let daemon: RunningDaemon;
let apiUrl: string;
let port: number;
let home: string;
let a: Client; // through the CLI binary
let b: Client; // as the browser
let bToken: string;
let browser: Browser | undefined;
let bTab: BrowserTab; // B's browser, signed up on the dashboard
const cliEnv = () => ({
  ...gitEnv(home),
  XDG_CONFIG_HOME: path.join(home, 'xdg'),
  PAASTECH_API_URL: apiUrl,
});
const cli = (args: string[], options: { cwd?: string; input?: string } = {}) =>
  run(process.execPath, [CLI, ...args], { cwd: options.cwd ?? home, env: cliEnv(), input: options.input });

/** Project name of a fixture for a Client ("a-node-hello"). */
const project = (who: 'a' | 'b', fixture: string) => `${who}-${fixture}`.slice(0, 40);

beforeAll(async () => {
  // The operator installs the fixture buildpack before the platform starts: PAASTECH_BUILDPACKS_DIR
  // is left at its default, <data dir>/buildpacks.
  const dataDir = tempDir('pt-journey-');
  fs.cpSync(path.join(FIXTURES, BUILDPACK), path.join(dataDir, 'buildpacks', BUILDPACK), { recursive: true });
  daemon = await startPaastechd({ role: 'all', dataDir, timeoutMs: 60_000 });
  apiUrl = daemon.endpoints.get('dashboard and API')!.replace(/\/$/, '');
  port = appsPort(daemon);
  home = tempDir('pt-a-');
  fs.mkdirSync(path.join(home, 'xdg'));
}, 90_000);

afterAll(async () => {
  await browser?.close();
  await daemon?.stop();
});

describe('two Clients deploy every fixture app', () => {
  const pushes = new Map<string, { code: number | null; stderr: string }>();

  it('A signs up with the CLI, B in the browser', async () => {
    const signup = await cli(['signup', '--email', 'a@example.com', '--password-stdin'], { input: PASSWORD });
    expect(signup.stderr).toBe('');
    expect(signup.code).toBe(0);
    a = new Client(apiUrl, 'a@example.com', 'token');
    a.token = (await cli(['auth:token'])).stdout.trim();
    expect(a.token).toMatch(/^pt_/);
    browser = await launchChromium();
    bTab = await openTab(browser);
    b = new Client(apiUrl, 'b@example.com', 'browser');
    await b.authInBrowser(bTab, 'signup');
    expect(b.cookie).toMatch(/^paastech_session=[^;\s]+$/);
    expect(bTab.responses).toContainEqual({ method: 'POST', path: '/api/v1/auth/signup', status: 201 });
    expect((await b.json('GET', '/api/v1/account')).email).toBe('b@example.com');
    bToken = await b.createToken('git from the laptop');
  });

  it(`deploys ${FIXTURE_APPS.join(', ')} for both (A: paastech projects:create + git push paastech; B: REST + token)`, async () => {
    const jobs = FIXTURE_APPS.flatMap((fixture) => [
      async () => {
        const dir = await fixtureRepository(fixture, path.join(home, fixture));
        const created = await cli(['projects:create', project('a', fixture)], { cwd: dir });
        expect(created.code, created.stderr).toBe(0);
        if (fixture === 'buildpack-app') {
          const set = await cli(['buildpacks:set', BUILDPACK], { cwd: dir });
          expect(set.stdout, set.stderr).toMatch(
            /^a-buildpack-app buildpack set to custom-buildpack \(installed/,
          );
        }
        const push = await withRegistryRetry(() =>
          run('git', ['push', 'paastech', 'main'], { cwd: dir, env: cliEnv(), timeoutMs: 240_000 }),
        );
        pushes.set(project('a', fixture), push);
      },
      async () => {
        const dir = await fixtureRepository(fixture);
        const name = project('b', fixture);
        await b.createProject(name);
        if (fixture === 'buildpack-app') {
          // Without a buildpack the push is diagnosed; setting one deploys nothing by itself; the next
          // push builds with it.
          const plain = await pushHttp(daemon, dir, name, bToken);
          expect(plain.stderr).toMatch(NO_BUILDER);
          const set = await b.json('PATCH', `/api/v1/projects/${name}/settings`, { buildpack: BUILDPACK });
          expect(set).toMatchObject({ buildpack: BUILDPACK, builder: 'auto' });
          expect((await b.json('GET', `/api/v1/projects/${name}/settings`)).buildpack).toBe(BUILDPACK);
          expect((await b.deployments(name)).deployments.map((d) => d.state)).toEqual(['failed']);
          await commitChange(dir, 'README.md', 'now with its buildpack\n');
        }
        const push = await withRegistryRetry(() => pushHttp(daemon, dir, name, bToken));
        pushes.set(name, push);
      },
    ]);
    // Four pushes at a time: parallel, without a 2-core machine timing builds out.
    await pool(jobs, 4);

    for (const who of ['a', 'b'] as const) {
      for (const fixture of SUCCEEDING) {
        const push = pushes.get(project(who, fixture))!;
        expect(
          { fixture, who, code: push.code, deployed: /deployed v\d+/.test(push.stderr) },
          push.stderr,
        ).toEqual({
          fixture,
          who,
          code: 0,
          deployed: true,
        });
      }
      for (const fixture of Object.keys(FAILING).filter((f) => FIXTURE_APPS.includes(f))) {
        const push = pushes.get(project(who, fixture))!;
        expect(push.stderr, `${who} ${fixture}`).toMatch(FAILING[fixture]!);
        expect(push.stderr, `${who} ${fixture}`).not.toMatch(/deployed v1/);
      }
      // The build output streamed to git push names the buildpack (B's is its second deployment).
      const bp = pushes.get(project(who, 'buildpack-app'))!;
      expect(bp.stderr).toContain('Using buildpack custom-buildpack (installed on this platform)');
      expect(bp.stderr).toContain('compiling with the test buildpack');
      expect(bp.stderr).toMatch(who === 'a' ? /deployed v1\b/ : /deployed v2\b/);
    }
  }, 480_000);

  it('every app answers at its URL through the router; the failed ones have no route', async () => {
    for (const who of ['a', 'b'] as const) {
      for (const fixture of SUCCEEDING) {
        const host = `${project(who, fixture)}.localhost`;
        const body = BODIES[fixture] ?? /./;
        const answer = await waitForApp(port, host, (x) => x.status === 200 && body.test(x.body), 30_000);
        expect({ host, status: answer.status }).toEqual({ host, status: 200 });
        expect(answer.body).toMatch(body);
      }
      // The Procfile's other process type: none runs until scaled (web=1, others 0, as on Heroku);
      // scaled to 1, it runs beside web.
      if (SUCCEEDING.includes('procfile-web-worker')) {
        const name = project(who, 'procfile-web-worker');
        const client = who === 'a' ? a : b;
        expect((await client.status(name)).instances.map((x) => x.name)).toEqual(['web.1']);
        const scaled = await client.json('PUT', `/api/v1/projects/${name}/formation`, {
          formation: { worker: 1 },
        });
        expect(scaled.formation).toMatchObject({ web: 1, worker: 1 });
        let running: string[] = [];
        for (let i = 0; i < 150 && !running.includes('worker.1'); i++) {
          const status = await client.status(name);
          running = status.instances.filter((x) => x.state === 'running').map((x) => x.name);
          if (!running.includes('worker.1')) await sleep(200);
        }
        expect(running.sort()).toEqual(['web.1', 'worker.1']);
      }
      for (const fixture of Object.keys(FAILING).filter((f) => FIXTURE_APPS.includes(f))) {
        const answer = await viaRouter(port, `${project(who, fixture)}.localhost`);
        expect(answer.status, `${who} ${fixture}`).not.toBe(200);
        const list = await (who === 'a' ? a : b).deployments(project(who, fixture));
        expect(list.deployments[0]?.state).toBe('failed');
      }
    }
  }, 120_000);
});

describe('each Client tries every door into the other’s projects and gets nothing', () => {
  /** Every REST route of a project: [method, path after /projects/<name>, body]. */
  const ROUTES: Array<[string, string, unknown?]> = [
    ['GET', ''],
    ['GET', '/config'],
    ['PATCH', '/config', { set: { STOLEN: '1' } }],
    ['GET', '/deployments'],
    ['GET', '/deployments/1'],
    ['GET', '/deployments/1/events'],
    ['GET', '/logs'],
    ['GET', '/logs?follow=1'],
    ['GET', '/status'],
    ['GET', '/formation'],
    ['PUT', '/formation', { formation: { web: 3 } }],
    ['POST', '/restart', {}],
    ['POST', '/rollback', {}],
    ['GET', '/domains'],
    ['POST', '/domains', { hostname: 'stolen.example' }],
    ['DELETE', '/domains/stolen.example'],
    ['GET', '/settings'],
    ['PATCH', '/settings', { egress: false, builder: 'static', buildpack: 'custom-buildpack' }],
    ['DELETE', ''],
  ];

  /** Status and body of a request, the project's name replaced so two answers compare. */
  async function answer(client: Client, method: string, name: string, suffix: string, body?: unknown) {
    const res = await client.request(method, `/api/v1/projects/${name}${suffix}`, body);
    return {
      status: res.status,
      type: res.headers.get('content-type'),
      body: (await res.text()).replaceAll(name, '<name>'),
    };
  }

  for (const [who, other] of [
    ['a', 'b'],
    ['b', 'a'],
  ] as const) {
    it(`${who.toUpperCase()} through REST (logs SSE included): 404, identical to a missing project`, async () => {
      const client = who === 'a' ? a : b;
      const target = project(other, 'node-hello');
      for (const [method, suffix, body] of ROUTES) {
        const theirs = await answer(client, method, target, suffix, body);
        const missing = await answer(client, method, `${who}-no-such-project`, suffix, body);
        expect({ method, suffix, status: theirs.status }).toEqual({ method, suffix, status: 404 });
        expect({ method, suffix, ...theirs }).toEqual({ method, suffix, ...missing });
      }
      // Nothing changed on the other side.
      const owner = other === 'a' ? a : b;
      expect((await owner.json('GET', `/api/v1/projects/${target}/config`)).vars).not.toHaveProperty(
        'STOLEN',
      );
      expect((await owner.json('GET', `/api/v1/projects/${target}/domains`)).domains).toEqual([]);
      expect(await owner.json('GET', `/api/v1/projects/${target}/settings`)).toMatchObject({
        builder: 'auto',
        egress: true,
      });
      expect((await owner.deployments(target)).deployments).toHaveLength(1);
      expect((await viaRouter(port, `${target}.localhost`)).status).toBe(200);
    });

    it(`${who.toUpperCase()} through git over HTTP with its own token: clone, fetch and push → repository not found`, async () => {
      const token = who === 'a' ? a.token : bToken;
      const target = project(other, 'node-hello');
      const dir = await fixtureRepository('node-hello');
      const env = gitEnv(path.dirname(dir));
      const clone = await run(
        'git',
        ['clone', gitHttpUrl(daemon, target, token), path.join(dir, '..', 'c')],
        {
          env,
        },
      );
      const fetch = await run('git', ['fetch', gitHttpUrl(daemon, target, token), 'main'], { cwd: dir, env });
      const lsRemote = await run('git', ['ls-remote', gitHttpUrl(daemon, target, token)], { cwd: dir, env });
      const push = await run(
        'git',
        ['push', '-f', gitHttpUrl(daemon, target, token), 'HEAD:refs/heads/main'],
        {
          cwd: dir,
          env,
        },
      );
      const missing = await run('git', ['ls-remote', gitHttpUrl(daemon, `${who}-no-such`, token)], {
        cwd: dir,
        env,
      });
      for (const [what, r] of Object.entries({ clone, fetch, lsRemote, push })) {
        expect({ what, code: r.code }).toEqual({ what, code: 128 });
        expect(r.stderr, what).toContain(`repository "${target}" not found`);
      }
      expect(missing.stderr.replaceAll(`${who}-no-such`, target)).toBe(lsRemote.stderr);
      expect((await (other === 'a' ? a : b).deployments(target)).deployments).toHaveLength(1);
    });
  }

  it('in the browser, every dashboard page of the other’s project renders the missing-project notice, shows none of its data, and each /api/ answer about it is 404', async () => {
    const tabs = [
      '',
      '/deployments',
      '/deployments/1',
      '/logs',
      '/config',
      '/domains',
      '/scale',
      '/settings',
    ];
    // A in its own browser, logged in on the dashboard's login page with the password it chose.
    const aTab = await openTab(browser!);
    const aBrowser = new Client(apiUrl, a.email, 'browser');
    await aBrowser.authInBrowser(aTab, 'login');
    const tabOf = { a: aTab, b: bTab };

    /** Everything the page holds: its markup and the values of its form fields. */
    const harvest = (tab: BrowserTab) =>
      tab.page.evaluate(
        () =>
          document.documentElement.outerHTML +
          [...document.querySelectorAll('input, textarea')]
            .map((e) => (e as HTMLInputElement).value)
            .join('\n'),
      );

    /** Visible text and all the page holds, once `urlPath` has rendered its not-found notice. */
    async function render(tab: BrowserTab, urlPath: string) {
      await tab.page.goto(`${apiUrl}${urlPath}`);
      await tab.page
        .getByRole('alert')
        .filter({ hasText: 'Go back to the list' })
        .waitFor({ timeout: 10_000 })
        .catch(async () => {
          throw new Error(
            `no not-found notice on ${urlPath}: ${await tab.page.locator('body').textContent()}`,
          );
        });
      // Lets late requests show (up to 3 s: an open log stream never lets the network go idle).
      await tab.page.waitForLoadState('networkidle', { timeout: 3_000 }).catch(() => {});
      // biome-ignore lint/performance/useDomNodeTextContent: what the person sees is what is compared
      const text = await tab.page.locator('body').innerText();
      return { text, dom: await harvest(tab) };
    }

    for (const [who, other] of [
      ['a', 'b'],
      ['b', 'a'],
    ] as const) {
      const tab = tabOf[who];
      const owner = other === 'a' ? a : b;
      // Not node-hello: a config change there would be a deployment the later tests do not expect.
      const target = project(other, 'static-site');
      const missing = `${who}-no-such-project`;
      // The owner's data, made distinctive: a secret-looking config value and a domain.
      const secret = `sk_live_${other}${Date.now().toString(36)}Zq9`;
      const domain = `${target}.owner-only.example`;
      await owner.json('PATCH', `/api/v1/projects/${target}/config`, { set: { PAYMENT_KEY: secret } });
      await owner.json('POST', `/api/v1/projects/${target}/domains`, { hostname: domain }, 201);
      const info = await owner.json('GET', `/api/v1/projects/${target}`);
      const commits = (await owner.deployments(target)).deployments.map((d) => d.commit_sha);
      const data: string[] = [info.id, secret, domain, info.created_at, info.app_url, info.git.http_url];
      for (const sha of commits) data.push(sha, `<code>${sha.slice(0, 7)}</code>`);

      for (const suffix of tabs) {
        const seen = tab.responses.length;
        const theirs = await render(tab, `/projects/${target}${suffix}`);
        const fetched = tab.responses.slice(seen).filter((r) => r.path.startsWith('/api/'));
        const aboutTarget = fetched.filter((r) => r.path.includes(`/projects/${target}`));
        const blank = await render(tab, `/projects/${missing}${suffix}`);
        expect({ who, suffix, text: theirs.text.replaceAll(target, '<name>') }).toEqual({
          who,
          suffix,
          text: blank.text.replaceAll(missing, '<name>'),
        });
        expect(theirs.text).toContain(`project "${target}" not found`);
        const leaked = data.filter((value) => theirs.dom.includes(value));
        expect({ who, suffix, leaked }).toEqual({ who, suffix, leaked: [] });
        expect(aboutTarget.length, JSON.stringify(fetched)).toBeGreaterThan(0);
        expect({ who, suffix, answers: aboutTarget.filter((r) => r.status !== 404) }).toEqual({
          who,
          suffix,
          answers: [],
        });
      }
      // The harvest finds the data where it is shown: on the owner's own pages, in its own browser.
      const own = tabOf[other];
      await own.page.goto(`${apiUrl}/projects/${target}/config`);
      await own.page.getByLabel('Value of PAYMENT_KEY').waitFor();
      expect(await harvest(own)).toContain(secret);
      await own.page.goto(`${apiUrl}/projects/${target}/domains`);
      await own.page.getByRole('listitem').filter({ hasText: domain }).waitFor();
      expect(await harvest(own)).toContain(domain);
      await owner.settled(target);
    }
    expect({ a: aTab.pageErrors, b: bTab.pageErrors }).toEqual({ a: [], b: [] });
  }, 120_000);

  it('each through git over SSH with its own registered key: clone and push → repository not found', async () => {
    const sshDir = tempDir('pt-ssh-');
    const keys: Record<'a' | 'b', string> = { a: path.join(sshDir, 'a'), b: path.join(sshDir, 'b') };
    for (const [who, file] of Object.entries(keys)) {
      const gen = await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', who, '-f', file]);
      expect(gen.code).toBe(0);
    }
    expect((await cli(['keys:add', `${keys.a}.pub`, '--name', 'laptop'])).code).toBe(0);
    await b.json(
      'POST',
      '/api/v1/ssh-keys',
      { public_key: fs.readFileSync(`${keys.b}.pub`, 'utf8'), name: 'b' },
      201,
    );
    const ssh = (key: string) =>
      `ssh -i ${key} -o IdentitiesOnly=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR`;
    for (const [who, other] of [
      ['a', 'b'],
      ['b', 'a'],
    ] as const) {
      const mine = await (who === 'a' ? a : b).json('GET', `/api/v1/projects/${project(who, 'node-hello')}`);
      const sshUrl = (name: string) => mine.git.ssh_url.replace(project(who, 'node-hello'), name);
      const env = { ...gitEnv(sshDir), GIT_SSH_COMMAND: ssh(keys[who]) };
      // The key works on its own project…
      const own = await run('git', ['ls-remote', sshUrl(project(who, 'node-hello'))], { env });
      expect(own.stdout, own.stderr).toMatch(/refs\/heads\/main/);
      // …and finds nothing of the other's.
      const target = project(other, 'node-hello');
      const dir = await fixtureRepository('node-hello');
      const clone = await run('git', ['clone', sshUrl(target), path.join(sshDir, `${who}-clone`)], { env });
      const push = await run('git', ['push', '-f', sshUrl(target), 'HEAD:refs/heads/main'], {
        cwd: dir,
        env,
      });
      const missing = await run('git', ['ls-remote', sshUrl(`${who}-no-such`)], { env });
      for (const [what, r] of Object.entries({ clone, push, missing })) {
        expect({ what, code: r.code }).toEqual({ what, code: 128 });
        expect(r.stderr, what).toMatch(/paastech: repository "[^"]+" not found/);
      }
      expect(missing.stderr.replace(`${who}-no-such`, target)).toBe(
        clone.stderr.replace(/Cloning into.*\n/, ''),
      );
    }
  }, 60_000);
});

describe('config change, rollback, scale, domains, logs and delete', () => {
  for (const who of ['a', 'b'] as const) {
    const name = project(who, 'node-hello');
    const host = `${name}.localhost`;
    const client = () => (who === 'a' ? a : b);

    const domain = `www.${name}.example`;

    it(`${who.toUpperCase()}: adds a custom domain; a config change redeploys (v2) at both hosts; a rollback brings back v1's code and config (v3)`, async () => {
      await client().json('POST', `/api/v1/projects/${name}/domains`, { hostname: domain }, 201);
      const other = who === 'a' ? b : a;
      const taken = await other.request(
        'POST',
        `/api/v1/projects/${project(who === 'a' ? 'b' : 'a', 'node-dep')}/domains`,
        {
          hostname: domain,
        },
      );
      expect(taken.status).toBe(409); // unique across all projects
      // The domain is routed as soon as it is added (the API hands Pomegrenade the domains at once);
      // it is checked after the config change so both hosts show v2.
      const vars = await client().json('PATCH', `/api/v1/projects/${name}/config`, {
        set: { GREETING: 'bonjour' },
      });
      expect(vars.vars).toEqual({ GREETING: 'bonjour' });
      for (const h of [host, domain]) {
        expect((await waitForApp(port, h, (x) => x.body === 'bonjour from v2 (web.1)\n', 60_000)).body).toBe(
          'bonjour from v2 (web.1)\n',
        );
      }
      const rollback = await client().json('POST', `/api/v1/projects/${name}/rollback`, { number: 1 }, 201);
      expect(rollback).toMatchObject({ number: 3, reason: 'rollback' });
      for (const h of [host, domain]) {
        expect((await waitForApp(port, h, (x) => x.body === 'hello from v3 (web.1)\n', 60_000)).body).toBe(
          'hello from v3 (web.1)\n',
        );
      }
      const list = (await client().settled(name)).map((d) => [d.number, d.state, d.reason]);
      expect(list).toEqual([
        [3, 'active', 'rollback'],
        [2, 'superseded', 'config'],
        [1, 'superseded', 'push'],
      ]);
    }, 150_000);

    it(`${who.toUpperCase()}: scales web to 2; the router spreads visits over both`, async () => {
      const scaled = await client().json('PUT', `/api/v1/projects/${name}/formation`, {
        formation: { web: 2 },
      });
      expect(scaled.formation).toMatchObject({ web: 2 });
      let running: string[] = [];
      for (let i = 0; i < 150 && running.length < 2; i++) {
        await sleep(200);
        const status = await client().status(name);
        running = status.instances.filter((x) => x.state === 'running').map((x) => x.name);
      }
      expect(running.sort()).toEqual(['web.1', 'web.2']);
      const seen = new Set<string>();
      for (let i = 0; i < 100 && seen.size < 2; i++) {
        const body = (await viaRouter(port, host)).body;
        seen.add(body);
        if (seen.size < 2) await sleep(50);
      }
      expect([...seen].sort()).toEqual(['hello from v3 (web.1)\n', 'hello from v3 (web.2)\n']);
    }, 60_000);

    it(`${who.toUpperCase()}: removes the domain; after the next deployment (v4) it no longer routes`, async () => {
      expect((await client().request('DELETE', `/api/v1/projects/${name}/domains/${domain}`)).status).toBe(
        204,
      );
      expect((await client().json('GET', `/api/v1/projects/${name}/domains`)).domains).toEqual([]);
      await client().json('PATCH', `/api/v1/projects/${name}/config`, { set: { GREETING: 'hi' } });
      const deployments = await client().settled(name, 150_000);
      const logs = await client().json('GET', `/api/v1/projects/${name}/logs?lines=300`);
      const v4 = logs.lines
        .filter((l: { deployment: number; source: string }) => l.deployment === 4 || l.source === 'platform')
        .map((l: { source: string; text: string }) => `${l.source}: ${l.text}`)
        .join('\n');
      expect(deployments[0], `${JSON.stringify(deployments[0])}\n${v4}`).toMatchObject({
        number: 4,
        state: 'active',
      });
      const answer = await waitForApp(port, host, (x) => /^hi from v4 \(web\.\d\)\n$/.test(x.body), 60_000);
      expect(answer.body).toMatch(/^hi from v4 \(web\.\d\)\n$/);
      const gone = await waitForApp(port, domain, (x) => x.status === 404, 20_000);
      expect(gone.status).toBe(404);
      expect(gone.body).toContain('No application here');
    }, 200_000);

    it(`${who.toUpperCase()}: reads the logs (app, build, platform) and follows them as server-sent events`, async () => {
      const logs = await client().json('GET', `/api/v1/projects/${name}/logs?lines=500`);
      const sources = new Set(logs.lines.map((l: { source: string }) => l.source.replace(/\.\d+$/, '')));
      expect(sources).toContain('web');
      expect(logs.lines.some((l: { text: string }) => /^listening on \d+$/.test(l.text))).toBe(true);
      const res = await client().request(
        'GET',
        `/api/v1/projects/${name}/logs?follow=1&lines=5`,
        undefined,
        5_000,
      );
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
      const reader = res.body!.getReader();
      let stream = '';
      for (let i = 0; i < 20 && !/event: log\ndata: \{/.test(stream); i++) {
        stream += new TextDecoder().decode((await reader.read()).value);
      }
      expect(stream).toMatch(/^: stream open\n/);
      expect(stream).toMatch(/event: log\ndata: \{.*"source"/);
      await reader.cancel();
    });

    it(`${who.toUpperCase()}: deletes the project — the app stops answering (router 404), the repository is gone`, async () => {
      const info = await client().json('GET', `/api/v1/projects/${name}`);
      const repoDir = path.join(daemon.dataDir, 'repositories', `${info.id}.git`);
      expect(fs.existsSync(repoDir), repoDir).toBe(true);
      expect((await client().request('DELETE', `/api/v1/projects/${name}`)).status).toBe(204);
      const gone = await waitForApp(port, host, (x) => x.status === 404, 30_000);
      expect(gone.status).toBe(404);
      expect(gone.body).not.toMatch(/hello from/);
      expect((await client().request('GET', `/api/v1/projects/${name}`)).status).toBe(404);
      expect(fs.existsSync(repoDir)).toBe(false);
      const token = who === 'a' ? a.token : bToken;
      const ls = await run('git', ['ls-remote', gitHttpUrl(daemon, name, token)], { env: gitEnv(home) });
      expect(ls.code).toBe(128);
      expect(ls.stderr).toContain(`repository "${name}" not found`);
      // The other apps of this Client still answer.
      expect((await viaRouter(port, `${project(who, 'node-dep')}.localhost`)).status).toBe(200);
    }, 60_000);
  }
});
