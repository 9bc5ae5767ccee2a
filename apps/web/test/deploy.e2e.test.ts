// End to end in headless chromium: push an app with real git, watch its deployment go live on the
// page without reloading, read its logs (whose hostile lines must stay text), change a config var
// (a new deployment), roll back, scale, and delete — against a real `paastechd all`.
/// <reference lib="dom" />
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { tempDir } from '@paastech/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Dashboard,
  missingPrerequisite,
  openDashboard,
  screenshots,
  signUp,
} from './support/browser.js';

const HOSTILE = ['<script>window.__pwned=1</script>', '<img src=x onerror="window.__pwned=2">'];

/** A Node app without dependencies that greets with $GREETING and prints hostile markup to its log. */
function writeApp(dir: string): void {
  fs.writeFileSync(
    path.join(dir, 'package.json'),
    JSON.stringify({
      name: 'hello',
      version: '1.0.0',
      private: true,
      scripts: { build: 'node build.js', start: 'node server.js' },
    }),
  );
  // A build slow enough (6 s, printing as it goes) for the page to watch it move.
  fs.writeFileSync(
    path.join(dir, 'build.js'),
    `let i = 0;
const timer = setInterval(() => {
  console.log('compiling step ' + ++i + ' of 6');
  if (i === 6) clearInterval(timer);
}, 1000);
`,
  );
  fs.writeFileSync(
    path.join(dir, 'server.js'),
    `const http = require('node:http');
const hostile = ${JSON.stringify(HOSTILE)};
const server = http.createServer((req, res) => {
  for (const line of hostile) console.log(line);
  console.log('request ' + req.url);
  res.end((process.env.GREETING || 'hello') + ' from ' + process.env.PAASTECH_DEPLOYMENT + '\\n');
});
server.listen(Number(process.env.PORT), () => console.log('listening on ' + process.env.PORT));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
`,
  );
}

/** Runs git with an argument array in `cwd`; resolves with its output, rejects on failure. */
function git(cwd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('git', args, {
      cwd,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: cwd, GIT_TERMINAL_PROMPT: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString();
    });
    child.stderr.on('data', (b: Buffer) => {
      out += b.toString();
    });
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`git ${args[0]} exited ${code}\n${out}`)),
    );
  });
}

/** GET / of the app through the router (Host header routing). */
function getApp(routerPort: number, host: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: routerPort, path: '/', headers: { host } }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => {
        body += c.toString();
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('deploying from the dashboard', () => {
  let d: Dashboard;

  beforeAll(async () => {
    const missing = missingPrerequisite();
    if (missing) throw new Error(`cannot run the browser tests: ${missing}`);
    // Router reports every second, so the overview's request counts move within the test.
    d = await openDashboard({ PAASTECH_ROUTER_REPORT_INTERVAL_MS: '1000' });
  }, 90_000);
  afterAll(async () => {
    await d?.close();
  });

  it('push → live deployment on the page → logs as text → config var → rollback → scale → delete', async () => {
    const { page, origin } = d;
    const name = 'hello';
    const routerPort = Number(new URL(d.daemon.endpoints.get('apps')!.replace('<project>.', '')).port);
    const appHost = `${name}.localhost:${routerPort}`;
    await signUp(page, origin, 'lin@example.com');

    // Project and token from the UI; the push uses the token as git's password.
    await page.goto(`${origin}/projects/new`);
    await page.getByLabel('Project name').fill(name);
    await page.getByRole('button', { name: 'Create project' }).click();
    const commands = await page.locator('pre').first().textContent();
    const cloneUrl = /git remote add paastech (\S+)/.exec(commands ?? '')![1]!;
    await page.goto(`${origin}/account/tokens`);
    await page.getByLabel('Token name').fill('push');
    await page.getByRole('button', { name: 'Create token' }).click();
    const token = (await page.getByTestId('new-token').textContent())!;

    // Before any request the overview says so.
    await page.goto(`${origin}/projects/${name}`);
    await page.getByText('No traffic yet').waitFor();

    // Watch the deployments tab, then push: v1 appears and goes live without a reload.
    await page.goto(`${origin}/projects/${name}/deployments`);
    await page.getByText('No deployments yet').waitFor();
    // Record every state the page shows, and mark the document to prove it is never reloaded.
    await page.evaluate(() => {
      const w = window as unknown as { __seen: string[]; __samePage: boolean };
      w.__seen = [];
      w.__samePage = true;
      new MutationObserver(() => {
        const badge = document.querySelector('h2 .badge')?.textContent;
        if (badge && w.__seen.at(-1) !== badge) w.__seen.push(badge);
      }).observe(document.body, { subtree: true, childList: true, characterData: true });
    });
    const repo = tempDir('pt-app-');
    writeApp(repo);
    await git(repo, ['init', '-q', '-b', 'main']);
    await git(repo, ['add', '-A']);
    await git(repo, [
      '-c',
      'user.name=Lin',
      '-c',
      'user.email=lin@example.com',
      'commit',
      '-q',
      '-m',
      'first',
    ]);
    const pushUrl = cloneUrl.replace('://', `://paastech:${token}@`);
    const push = git(repo, ['push', pushUrl, 'main']);
    await page.getByRole('link', { name: 'v1', exact: true }).click({ timeout: 30_000 });
    await page.getByRole('heading', { name: /^v1/ }).waitFor();
    await expect
      .poll(() => page.getByRole('log').textContent(), { timeout: 60_000 })
      .toContain('compiling step 1');
    expect(await page.locator('h2 .badge').textContent()).toMatch(/^(queued|building)$/);
    await page.locator('h2 .badge', { hasText: 'active' }).waitFor({ timeout: 150_000 });
    const output = await page.getByRole('log').textContent();
    expect(output).toContain('-----> Running npm run build');
    expect(output).toContain('compiling step 6 of 6');
    const seen = await page.evaluate(() => (window as unknown as { __seen: string[] }).__seen);
    expect(seen.at(-1)).toBe('active');
    expect(seen).toContain('building');
    expect(await page.evaluate(() => (window as unknown as { __samePage?: boolean }).__samePage)).toBe(true);
    const pushed = await push;
    expect(pushed).toMatch(/remote:/);
    await screenshots(page, 'deployment');
    expect((await getApp(routerPort, appHost)).body).toBe('hello from v1\n');

    // Logs: the app's hostile lines are shown literally and never run.
    await page.getByRole('link', { name: 'Logs' }).click();
    await page.getByText('Live ·').waitFor();
    await getApp(routerPort, appHost);
    const log = page.getByRole('log');
    await expect.poll(() => log.textContent(), { timeout: 20_000 }).toContain(HOSTILE[0]);
    expect(await log.textContent()).toContain(HOSTILE[1]);
    expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
    expect(await log.locator('img, script').count()).toBe(0);
    await page.getByLabel('Search').fill('request /');
    await expect.poll(() => log.locator('.log-line').count()).toBeGreaterThan(0);
    expect(await log.textContent()).not.toContain('<script>');
    await page.getByLabel('Search').fill('');
    await page.getByLabel('Source').selectOption('web');
    await expect
      .poll(async () =>
        (await log.locator('.log-source').allTextContents()).every((s) => s.startsWith('web')),
      )
      .toBe(true);
    await page.getByRole('button', { name: 'Pause' }).click();
    const frozen = await log.locator('.log-line').count();
    await getApp(routerPort, appHost);
    await expect
      .poll(() => page.getByRole('button', { name: /^Resume \(\d+ new\)$/ }).count(), { timeout: 20_000 })
      .toBe(1);
    expect(await log.locator('.log-line').count()).toBe(frozen);
    await page.getByRole('button', { name: /^Resume/ }).click();
    await expect.poll(() => log.locator('.log-line').count()).toBeGreaterThan(frozen);
    await screenshots(page, 'logs');

    // A config var makes one new deployment (v2) that greets differently.
    await page.getByRole('link', { name: 'Config vars' }).click();
    await page.getByRole('button', { name: 'Add variable' }).click();
    await page.getByLabel('Name of new variable').fill('GREETING');
    await page.getByLabel('Value of GREETING').fill('bonjour');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.getByText('Saved 1 change as one update.').waitFor();
    await page.getByRole('link', { name: 'Deployments' }).click();
    await page.getByRole('row', { name: /v2 active/ }).waitFor({ timeout: 120_000 });
    // The router applies the route a few milliseconds after Pomegrenade publishes it.
    await expect
      .poll(async () => (await getApp(routerPort, appHost)).body, { timeout: 5000 })
      .toBe('bonjour from v2\n');

    // Roll back to v1 (code and config): v3 goes live greeting "hello" again.
    await page.getByRole('button', { name: 'Roll back to v1' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Roll back to v1' }).click();
    await page.getByRole('heading', { name: /^v3/ }).waitFor();
    await page.locator('h2 .badge', { hasText: 'active' }).waitFor({ timeout: 120_000 });
    // The router applies the route a few milliseconds after Pomegrenade publishes it.
    await expect
      .poll(async () => (await getApp(routerPort, appHost)).body, { timeout: 5000 })
      .toBe('hello from v3\n');

    // Overview and scale show the running instance.
    await page.getByRole('link', { name: 'Overview' }).click();
    await page.getByText('v3 is active.').waitFor();
    await page.getByRole('cell', { name: 'web.1' }).waitFor();
    // The app answered 5 requests through the router above (v1 once, logs twice, v2, v3).
    const counts = page.getByLabel('Request counts');
    const total = counts.locator('dt:text-is("Requests") + dd');
    await expect
      .poll(async () => Number(((await total.textContent()) ?? '').replace(/,/g, '')), { timeout: 20_000 })
      .toBeGreaterThanOrEqual(5);
    // Each of them answered 200: at least 5 in the 2xx line, and the classes add up to the total.
    const countOf = async (label: string) => {
      const text = (await counts.locator(`dt:text-is("${label}") + dd`).textContent()) ?? '';
      return Number(text.split(' ')[0]?.replace(/,/g, ''));
    };
    await expect
      .poll(
        async () => {
          const [all, ...classes] = await Promise.all(['Requests', '2xx', '3xx', '4xx', '5xx'].map(countOf));
          return {
            twoxxAtLeast5: (classes[0] ?? 0) >= 5,
            sumIsTotal: classes.reduce((a, b) => a + b, 0) === all,
          };
        },
        { timeout: 20_000 },
      )
      .toEqual({ twoxxAtLeast5: true, sumIsTotal: true });
    expect(await counts.locator('dt').allTextContents()).toEqual(
      expect.arrayContaining(['2xx', '3xx', '4xx', '5xx', '5xx from the router']),
    );
    expect(await counts.locator('dt:text-is("2xx") + dd').textContent()).toMatch(/^[\d,]+ \(\d+%\)$/);
    expect(await counts.locator('dt:text-matches("^Last [0-9]+ s$") + dd').textContent()).toMatch(
      /^\d+ requests?( \(.+\))?$/,
    );
    // Latency of the last window, next to its count: "–" for a window without requests, so keep
    // requests coming (the router reports every second) until the overview shows p50/p95/p99.
    const latency = counts.locator('dt:text-matches("^Latency, last [0-9]+ s$") + dd');
    const estimate = '[≤>] [0-9.]+ m?s';
    let sending = true;
    const load = (async () => {
      while (sending) {
        await getApp(routerPort, appHost);
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    try {
      await expect
        .poll(async () => (await latency.textContent()) ?? '', { timeout: 20_000 })
        .toMatch(new RegExp(`^p50 ${estimate} · p95 ${estimate} · p99 ${estimate}$`));
    } finally {
      sending = false;
      await load;
    }
    await screenshots(page, 'overview');
    await page.getByRole('link', { name: 'Scale' }).click();
    await page.getByLabel('web instances').fill('2');
    await page.getByRole('button', { name: 'Scale', exact: true }).click();
    await page.getByText('Scaled.').waitFor();
    await page.getByRole('cell', { name: 'web.2' }).waitFor({ timeout: 60_000 });
    expect(await page.getByLabel('web instances').inputValue()).toBe('2');
    await screenshots(page, 'scale');
    await page.getByRole('button', { name: 'Restart all instances' }).click();
    await page.getByText('Restart under way.').waitFor();
    await expect.poll(async () => (await getApp(routerPort, appHost)).status, { timeout: 30_000 }).toBe(200);

    // The projects list shows the last deployment.
    await page.getByRole('link', { name: 'Projects' }).click();
    await page.getByRole('row', { name: /hello.*active.*v3/ }).waitFor();

    // Delete.
    await page.goto(`${origin}/projects/${name}/settings`);
    await page.getByRole('button', { name: 'Delete project' }).click();
    await page.getByLabel(`Type ${name} to confirm`).fill(name);
    await page
      .getByRole('dialog')
      .getByRole('button', { name: `Delete ${name}` })
      .click();
    await page.getByText('No projects yet').waitFor();

    expect(d.pageErrors).toEqual([]);
  }, 400_000);
});
