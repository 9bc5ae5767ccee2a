// Shared helpers of the full-stack suites: Clients talking to a real paastechd (as the CLI does with a
// bearer token, or as the browser does with a session cookie and an Origin, the cookie taken from a
// real headless chromium that signed up or logged in through the dashboard), git repositories made
// from the fixture apps, and requests to the apps through the router.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { REPO_ROOT, type RunningDaemon, tempDir } from '@paastech/testing';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';

export const FIXTURES = path.join(REPO_ROOT, 'e2e/fixtures/apps');
export const CLI = path.join(REPO_ROOT, 'apps/cli/dist/main.js');
export const PASSWORD = 'correct horse battery staple 42';

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion (killed after `timeoutMs`), never throwing on a non-zero exit. */
export function run(
  command: string,
  args: string[],
  options: { cwd?: string; env?: Record<string, string>; input?: string; timeoutMs?: number } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => {
      stdout += b.toString();
    });
    child.stderr.on('data', (b: Buffer) => {
      stderr += b.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 180_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.on('error', () => {});
    child.stdin.end(options.input ?? '');
  });
}

/** The environment git runs with in these suites: no system or user config, never a prompt. */
export function gitEnv(home: string): Record<string, string> {
  return {
    HOME: home,
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_TERMINAL_PROMPT: '0',
    GIT_AUTHOR_NAME: 'E2E',
    GIT_AUTHOR_EMAIL: 'e2e@example.com',
    GIT_COMMITTER_NAME: 'E2E',
    GIT_COMMITTER_EMAIL: 'e2e@example.com',
  };
}

/** Copies a fixture app into a fresh git repository with one commit on main; returns its directory. */
export async function fixtureRepository(fixture: string, dir = path.join(tempDir('pt-fx-'), fixture)) {
  fs.cpSync(path.join(FIXTURES, fixture), dir, { recursive: true });
  const env = gitEnv(path.dirname(dir));
  for (const args of [
    ['init', '-q', '-b', 'main'],
    ['add', '-A'],
    ['commit', '-qm', `${fixture}`],
  ]) {
    const r = await run('git', args, { cwd: dir, env });
    if (r.code !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr}`);
  }
  return dir;
}

/** Adds a commit changing `file` in `dir` (so a push has something new). */
export async function commitChange(dir: string, file: string, text: string): Promise<string> {
  fs.writeFileSync(path.join(dir, file), text);
  const env = gitEnv(path.dirname(dir));
  await run('git', ['add', '-A'], { cwd: dir, env });
  await run('git', ['commit', '-qm', `change ${file}`], { cwd: dir, env });
  return (await run('git', ['rev-parse', 'HEAD'], { cwd: dir, env })).stdout.trim();
}

/** `http://x:<token>@host/<project>.git` for git over HTTP with a token as the password. */
export function gitHttpUrl(daemon: RunningDaemon, project: string, token: string): string {
  const u = new URL(daemon.endpoints.get('git over HTTP')!);
  return `http://paastech:${encodeURIComponent(token)}@${u.host}/${project}.git`;
}

/** Pushes HEAD of `dir` to main of `project` over HTTP with `token`. */
export function pushHttp(
  daemon: RunningDaemon,
  dir: string,
  project: string,
  token: string,
  timeoutMs = 240_000,
  force = false,
): Promise<RunResult> {
  return run('git', ['push', gitHttpUrl(daemon, project, token), `${force ? '+' : ''}HEAD:refs/heads/main`], {
    cwd: dir,
    env: gitEnv(path.dirname(dir)),
    timeoutMs,
  });
}

export interface HttpAnswer {
  status: number;
  body: string;
  headers: http.IncomingHttpHeaders;
}

/** The apps port printed by paastechd. */
export function appsPort(daemon: RunningDaemon): number {
  return Number(new URL(daemon.endpoints.get('apps')!.replace('<project>', 'x')).port);
}

/** GET `urlPath` through the router with `Host: host` (a visitor of `<project>.localhost`). */
export function viaRouter(
  port: number,
  host: string,
  urlPath = '/',
  timeoutMs = 10_000,
): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = http.get(
      { host: '127.0.0.1', port, path: urlPath, headers: { host }, timeout: timeoutMs },
      (res) => {
        let body = '';
        res.on('data', (b: Buffer) => {
          body += b.toString();
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
        res.on('error', reject);
      },
    );
    req.once('timeout', () => req.destroy(new Error('timed out')));
    req.once('error', reject);
  });
}

/** Polls the router until `accept` holds for the answer (or `timeoutMs` passes); returns the last answer. */
export async function waitForApp(
  port: number,
  host: string,
  accept: (a: HttpAnswer) => boolean,
  timeoutMs = 30_000,
): Promise<HttpAnswer> {
  const deadline = Date.now() + timeoutMs;
  let last: HttpAnswer = { status: 0, body: '', headers: {} };
  while (Date.now() < deadline) {
    last = await viaRouter(port, host).catch((e: Error) => ({ status: 0, body: e.message, headers: {} }));
    if (accept(last)) return last;
    await sleep(200);
  }
  return last;
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A Client of the API: as the CLI does (bearer token) or as the browser does (cookie + Origin). */
export class Client {
  cookie = '';
  token = '';
  constructor(
    public apiUrl: string,
    readonly email: string,
    readonly mode: 'token' | 'browser',
  ) {}

  async request(method: string, urlPath: string, body?: unknown, timeoutMs = 20_000): Promise<Response> {
    const headers: Record<string, string> = {};
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (this.mode === 'browser') {
      headers.origin = new URL(this.apiUrl).origin;
      if (this.cookie) headers.cookie = this.cookie;
    } else if (this.token) headers.authorization = `Bearer ${this.token}`;
    return fetch(`${this.apiUrl}${urlPath}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
  }

  /** Parsed JSON of a request that must answer `status`. */
  // biome-ignore lint/suspicious/noExplicitAny: answers are read field by field in the tests
  async json<T = any>(method: string, urlPath: string, body?: unknown, status = 200): Promise<T> {
    const res = await this.request(method, urlPath, body);
    const text = await res.text();
    if (res.status !== status)
      throw new Error(`${method} ${urlPath} → ${res.status} (expected ${status}): ${text}`);
    return (text ? JSON.parse(text) : undefined) as T;
  }

  /**
   * Signs up (or logs in) through the dashboard's own form in `tab`, waits for the signed-in projects
   * page, then keeps the browser's session cookie so requests of this Client are the browser's.
   */
  async authInBrowser(tab: BrowserTab, mode: 'signup' | 'login'): Promise<void> {
    const { page } = tab;
    await page.goto(`${this.apiUrl}/${mode}`);
    await page.getByLabel('E-mail').fill(this.email);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: mode === 'signup' ? 'Sign up' : 'Log in' }).click();
    await page
      .getByRole('heading', { name: 'Projects', level: 1 })
      .waitFor({ timeout: 15_000 })
      .catch(async () => {
        throw new Error(`${mode} in the browser: ${await page.locator('main').textContent()}`);
      });
    this.cookie = (await tab.context.cookies(this.apiUrl)).map((c) => `${c.name}=${c.value}`).join('; ');
  }

  /** A new API token of this Client (what the dashboard's token page does). */
  async createToken(name: string): Promise<string> {
    return (await this.json<{ token: string }>('POST', '/api/v1/tokens', { name }, 201)).token;
  }

  createProject(name: string) {
    return this.json<{ name: string; app_url: string; git: { http_url: string; ssh_url: string | null } }>(
      'POST',
      '/api/v1/projects',
      { name },
      201,
    );
  }

  status(project: string) {
    return this.json<{
      active_deployment: number | null;
      pending_deployment: number | null;
      instances: Array<{
        name: string;
        state: string;
        restarts: number;
        deployment: number;
        last_exit_code: number;
      }>;
    }>('GET', `/api/v1/projects/${project}/status`);
  }

  deployments(project: string) {
    return this.json<{
      deployments: Array<{
        number: number;
        state: string;
        reason: string;
        commit_sha: string;
        failure_reason: string | null;
      }>;
    }>('GET', `/api/v1/projects/${project}/deployments`);
  }

  /** Waits until no deployment of `project` is pending; returns the deployments. */
  async settled(project: string, timeoutMs = 120_000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const list = await this.deployments(project);
      const busy = list.deployments.some(
        (d) => !['active', 'failed', 'superseded', 'cancelled'].includes(d.state),
      );
      if (!busy || Date.now() > deadline) return list.deployments;
      await sleep(300);
    }
  }
}

/** Runs `tasks` with at most `limit` under way at once; rejects with the first failure once all end. */
export async function pool(tasks: Array<() => Promise<void>>, limit: number): Promise<void> {
  const errors: unknown[] = [];
  let next = 0;
  const worker = async () => {
    while (next < tasks.length) {
      const task = tasks[next++]!;
      await task().catch((e: unknown) => errors.push(e));
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker));
  if (errors.length > 0) throw errors[0];
}

/** A git push under way: its stderr so far, and its end. */
export interface RunningPush {
  stderr(): string;
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<void>;
  done: Promise<RunResult>;
}

/** Starts pushing HEAD of `dir` to main of `project` over HTTP without waiting for the end. */
export function startPush(
  daemon: RunningDaemon,
  dir: string,
  project: string,
  token: string,
  force = false,
): RunningPush {
  const refspec = `${force ? '+' : ''}HEAD:refs/heads/main`;
  const child = spawn('git', ['push', '--progress', gitHttpUrl(daemon, project, token), refspec], {
    cwd: dir,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...gitEnv(path.dirname(dir)) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b: Buffer) => {
    stdout += b.toString();
  });
  child.stderr.on('data', (b: Buffer) => {
    stderr += b.toString();
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 240_000);
  const done = new Promise<RunResult>((resolve) =>
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    }),
  );
  const waitFor = async (pattern: RegExp, timeoutMs = 60_000) => {
    const deadline = Date.now() + timeoutMs;
    while (!pattern.test(stderr)) {
      if (Date.now() > deadline || child.exitCode !== null)
        throw new Error(`no ${pattern} in the push's output:\n${stderr}`);
      await sleep(20);
    }
  };
  return { stderr: () => stderr, waitFor, done };
}

/** Signs a Client up through the API and gives it an API token (as a script would). */
export async function tokenClient(apiUrl: string, email: string): Promise<Client> {
  const client = new Client(apiUrl, email, 'token');
  const signup = await fetch(`${apiUrl}/api/v1/auth/signup`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: new URL(apiUrl).origin },
    body: JSON.stringify({ email, password: PASSWORD }),
  });
  if (signup.status !== 201) throw new Error(`signup → ${signup.status}: ${await signup.text()}`);
  const login = await fetch(`${apiUrl}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password: PASSWORD, token_name: 'e2e' }),
  });
  if (login.status !== 200) throw new Error(`login → ${login.status}: ${await login.text()}`);
  client.token = ((await login.json()) as { token: string }).token;
  return client;
}

/** Debian's chromium: never a downloaded browser (as apps/web/test/support/browser.ts). */
export const CHROMIUM = '/usr/bin/chromium';

/** Starts headless chromium, kept from reaching anything but the pages it is sent to. */
export function launchChromium(): Promise<Browser> {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing (apt-get install -y chromium)`);
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run'].concat(
      ['background-networking', 'component-update', 'sync'].map((f) => `--disable-${f}`),
    ),
  });
}

/** One Client's browser: its own context (cookies), one page, what the page fetched and its errors. */
export interface BrowserTab {
  context: BrowserContext;
  page: Page;
  /** Every answer the page received, in order: method, path with query, status. */
  responses: Array<{ method: string; path: string; status: number }>;
  /** Uncaught page errors and console errors other than a 4xx answer's. */
  pageErrors: string[];
}

/** Opens a fresh context (no cookies) with one page in `browser`. */
export async function openTab(browser: Browser): Promise<BrowserTab> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  const tab: BrowserTab = { context, page, responses: [], pageErrors: [] };
  page.on('response', (res) => {
    const url = new URL(res.url());
    tab.responses.push({
      method: res.request().method(),
      path: url.pathname + url.search,
      status: res.status(),
    });
  });
  page.on('pageerror', (error) => tab.pageErrors.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error' && !/status of 4\d\d/.test(message.text()))
      tab.pageErrors.push(message.text());
  });
  return tab;
}
