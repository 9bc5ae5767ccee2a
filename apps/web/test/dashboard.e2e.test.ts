// End to end in headless chromium against a real `paastechd all`: the journey a person takes in the
// dashboard, the device approval of a real `paastech login`, and hostile text that must stay text.
/// <reference lib="dom" />
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { REPO_ROOT, tempDir } from '@paastech/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Dashboard,
  missingPrerequisite,
  openDashboard,
  PASSWORD,
  screenshots,
  signUp,
} from './support/browser.js';

const CLI = path.join(REPO_ROOT, 'apps/cli/dist/main.js');

describe('dashboard in a real browser', () => {
  let d: Dashboard;

  beforeAll(async () => {
    const missing = missingPrerequisite();
    if (missing) throw new Error(`cannot run the browser tests: ${missing}`);
    d = await openDashboard();
  }, 90_000);
  afterAll(async () => {
    await d?.close();
  });

  it('signs up, creates a project, sets config vars, adds a domain, a token and a key, deletes the project', async () => {
    const { page, origin } = d;
    const email = 'ada@example.com';

    // A visitor is sent to log in; the first load is measured for the README.
    await page.goto(`${origin}/`);
    await page.getByRole('heading', { name: 'Log in', level: 1 }).waitFor();
    expect(new URL(page.url()).pathname).toBe('/login');
    const cold = await navigationTiming(page);
    await page.reload();
    await page.getByRole('heading', { name: 'Log in', level: 1 }).waitFor();
    const warm = await navigationTiming(page);
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Network.clearBrowserCache');
    await page.reload();
    await page.getByRole('heading', { name: 'Log in', level: 1 }).waitFor();
    const empty = await navigationTiming(page);
    console.log(
      `first navigation of a fresh browser: DOMContentLoaded ${cold.domContentLoaded} ms, load ${cold.load} ms; ` +
        `empty cache: DOMContentLoaded ${empty.domContentLoaded} ms, load ${empty.load} ms; ` +
        `warm cache: DOMContentLoaded ${warm.domContentLoaded} ms, load ${warm.load} ms; ` +
        `first page JavaScript transferred: ${empty.scriptBytes} bytes`,
    );
    expect(cold.load).toBeGreaterThan(0);
    expect(cold.scriptBytes).toBeLessThan(200 * 1024);
    await screenshots(page, 'login');

    // Wrong password on an unknown account: the API's message is shown.
    await page.getByLabel('E-mail').fill(email);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Log in' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toMatch(/\S/);

    // Sign up with a too-short password first: the rule is named next to the field.
    await page.getByRole('link', { name: 'Create an account' }).click();
    await page.getByLabel('E-mail').fill(email);
    await page.getByLabel('Password').fill('short');
    await page.getByRole('button', { name: 'Sign up' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('at least 10 characters');
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign up' }).click();
    await page.getByRole('heading', { name: 'Projects', level: 1 }).waitFor();
    await expect.poll(() => page.getByText('No projects yet').isVisible()).toBe(true);
    await screenshots(page, 'projects-empty');

    // Create a project: a bad name gets the API's rule, a good one the push commands.
    await page.getByRole('link', { name: 'Create project' }).first().click();
    await page.getByLabel('Project name').fill('My App');
    await page.getByRole('button', { name: 'Create project' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toMatch(/My App/);
    const name = 'shop';
    await page.getByLabel('Project name').fill(name);
    await page.getByRole('button', { name: 'Create project' }).click();
    await page.getByRole('heading', { name: `Project ${name} created` }).waitFor();
    const commands = await page.locator('pre').allTextContents();
    expect(commands[0]).toMatch(
      new RegExp(
        `^git remote add paastech http://127\\.0\\.0\\.1:\\d+/${name}\\.git\\ngit push paastech main$`,
      ),
    );
    expect(commands[1]).toMatch(
      new RegExp(`^git remote add paastech ssh://.+/${name}\\.git\\ngit push paastech main$`),
    );
    await page.getByRole('button', { name: 'Copy HTTPS commands' }).click();
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(commands[0]);
    await screenshots(page, 'project-created');

    // The list shows it with its URL.
    await page.getByRole('link', { name: 'Projects' }).click();
    await page.getByRole('link', { name, exact: true }).waitFor();
    await screenshots(page, 'projects');

    // Config vars: two added and saved as one change; values masked until revealed.
    await page.getByRole('link', { name, exact: true }).click();
    await page.getByRole('link', { name: 'Config vars' }).click();
    await page.getByText('No config vars yet').waitFor();
    await page.getByRole('button', { name: 'Add variable' }).click();
    await page.getByLabel('Name of new variable').fill('DATABASE_URL');
    await page.getByLabel('Value of DATABASE_URL').fill('postgres://db/shop');
    await page.getByRole('button', { name: 'Add variable' }).click();
    await page.getByLabel('Name of new variable').fill('port');
    await expect.poll(() => page.getByText('upper case letters').isVisible()).toBe(true);
    expect(await page.getByRole('button', { name: 'Save changes' }).isDisabled()).toBe(true);
    await page.getByLabel('Name of port').fill('LOG_LEVEL');
    await page.getByLabel('Value of LOG_LEVEL').fill('debug');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.getByText('Saved 2 changes as one update.').waitFor();
    expect(await page.getByLabel('Value of DATABASE_URL').getAttribute('type')).toBe('password');
    await page.getByRole('button', { name: 'Reveal DATABASE_URL' }).click();
    expect(await page.getByLabel('Value of DATABASE_URL').getAttribute('type')).toBe('text');
    const stored = await page.evaluate(
      async (n) => (await fetch(`/api/v1/projects/${n}/config`)).json(),
      name,
    );
    expect(stored).toEqual({ vars: { DATABASE_URL: 'postgres://db/shop', LOG_LEVEL: 'debug' } });
    await screenshots(page, 'config');

    // Remove one and change the other: still one save.
    await page.getByRole('button', { name: 'Remove LOG_LEVEL' }).click();
    await page.getByLabel('Value of DATABASE_URL').fill('postgres://db2/shop');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.getByText('Saved 2 changes as one update.').waitFor();
    const after = await page.evaluate(
      async (n) => (await fetch(`/api/v1/projects/${n}/config`)).json(),
      name,
    );
    expect(after).toEqual({ vars: { DATABASE_URL: 'postgres://db2/shop' } });

    // Domains.
    await page.getByRole('link', { name: 'Domains' }).click();
    await page.getByText('No custom domains yet').waitFor();
    await page.getByLabel('Hostname').fill('not a host');
    await page.getByRole('button', { name: 'Add domain' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toMatch(/not a host/);
    await page.getByLabel('Hostname').fill(`www.${name}.example.com`);
    await page.getByRole('button', { name: 'Add domain' }).click();
    await page
      .getByRole('listitem')
      .filter({ hasText: `www.${name}.example.com` })
      .waitFor();
    await screenshots(page, 'domains');

    // API token: shown once, copied, then revoked (and refused by the API from then on).
    await page.getByRole('link', { name: 'API tokens' }).click();
    await page.getByText('No API tokens yet').waitFor();
    await page.getByLabel('Token name').fill('deploy script');
    await page.getByRole('button', { name: 'Create token' }).click();
    const token = (await page.getByTestId('new-token').textContent()) ?? '';
    expect(token).toMatch(/^pt_[0-9A-Za-z]{32,}$/);
    await page.getByRole('button', { name: 'Copy token' }).click();
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(token);
    const account = await fetch(`${origin}/api/v1/account`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(account.status).toBe(200);
    await screenshots(page, 'tokens');
    await page.getByRole('button', { name: 'Done' }).click();
    expect(await page.getByTestId('new-token').count()).toBe(0);
    await page.getByRole('button', { name: 'Revoke token deploy script' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Revoke token' }).click();
    await page.getByText('No API tokens yet').waitFor();
    const revoked = await fetch(`${origin}/api/v1/account`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(revoked.status).toBe(401);

    // SSH key: a real ssh-keygen key, listed by its fingerprint, then removed.
    const key = await sshKeygen();
    await page.getByRole('link', { name: 'SSH keys' }).click();
    await page.getByText('No SSH keys yet').waitFor();
    await page.getByLabel('Public key').fill('-----BEGIN OPENSSH PRIVATE KEY-----');
    await page.getByRole('button', { name: 'Add key' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toMatch(/private key/i);
    await page.getByLabel('Public key').fill(key.publicKey);
    await page.getByRole('button', { name: 'Add key' }).click();
    await page.getByText(key.fingerprint).waitFor();
    await screenshots(page, 'ssh-keys');
    await page.getByRole('button', { name: 'Remove key e2e@test' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Remove key' }).click();
    await page.getByText('No SSH keys yet').waitFor();

    // Settings: a limit out of range shows the API's rule under its field; a good one is saved.
    await page.goto(`${origin}/projects/${name}/settings`);
    await page.getByLabel('Memory (MiB)').fill('8');
    await page.getByRole('button', { name: 'Save settings' }).click();
    await page.getByText('memory_mb must be a whole number from 16 to 1048576').first().waitFor();
    await page.getByLabel('Memory (MiB)').fill('256');
    // A host path as buildpack shows the API's rule under its field, and nothing is saved.
    await page.getByLabel('Buildpack').fill('/etc');
    await page.getByRole('button', { name: 'Save settings' }).click();
    await page
      .getByText(/paths on the server and scp-style git@ addresses are not accepted/)
      .first()
      .waitFor();
    const readSettings = () =>
      page.evaluate(async (n) => (await fetch(`/api/v1/projects/${n}/settings`)).json(), name);
    expect(await readSettings()).toMatchObject({ buildpack: null, limits: { memory_mb: null } });
    await page.getByLabel('Buildpack').fill('https://git.example.com/team/bp.git#v2');
    await page.getByLabel(/Allow outside-world access/).uncheck();
    await page.getByRole('button', { name: 'Save settings' }).click();
    await page.getByRole('status').getByText('Saved.').waitFor();
    expect(await readSettings()).toMatchObject({
      buildpack: 'https://git.example.com/team/bp.git#v2',
      egress: false,
      limits: { memory_mb: 256 },
    });
    // Shown after a reload; emptied, it goes back to auto-detect.
    await page.reload();
    expect(await page.getByLabel('Buildpack').inputValue()).toBe('https://git.example.com/team/bp.git#v2');
    await page.getByLabel('Buildpack').fill('');
    await page.getByRole('button', { name: 'Save settings' }).click();
    await page.getByRole('status').getByText('Saved.').waitFor();
    expect(await readSettings()).toMatchObject({ buildpack: null, egress: false });

    // Delete the project: only once its name is typed.
    await page.getByRole('button', { name: 'Delete project' }).click();
    const confirm = page.getByRole('dialog').getByRole('button', { name: `Delete ${name}` });
    expect(await confirm.isDisabled()).toBe(true);
    await page.getByLabel(`Type ${name} to confirm`).fill(name.toUpperCase());
    expect(await confirm.isDisabled()).toBe(true);
    await page.getByLabel(`Type ${name} to confirm`).fill(name);
    await confirm.click();
    await page.getByText('No projects yet').waitFor();
    const gone = await page.evaluate(async (n) => (await fetch(`/api/v1/projects/${n}`)).status, name);
    expect(gone).toBe(404);

    // A missing project: the API's message and what to do, not a blank page.
    await page.goto(`${origin}/projects/no-such-project`);
    const missing = page.getByRole('alert');
    await expect.poll(() => missing.textContent()).toContain('no-such-project');
    expect(await missing.textContent()).toContain('Go back to the list');

    // The session ends behind the page's back: the next call's 401 sends the person to log in,
    // and back to where they were afterwards.
    await page.goto(`${origin}/account/tokens`);
    await page.getByText('No API tokens yet').waitFor();
    await page.evaluate(() => fetch('/api/v1/auth/logout', { method: 'POST' }));
    await page.getByLabel('Token name').fill('late');
    await page.getByRole('button', { name: 'Create token' }).click();
    await page.getByRole('heading', { name: 'Log in', level: 1 }).waitFor();
    expect(new URL(page.url()).searchParams.get('next')).toBe('/account/tokens');
    await page.getByLabel('E-mail').fill(email);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { name: 'API tokens', level: 1 }).waitFor();

    // Log out, then back in.
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByRole('heading', { name: 'Log in', level: 1 }).waitFor();
    expect(await page.evaluate(async () => (await fetch('/api/v1/account')).status)).toBe(401);
    await page.getByLabel('E-mail').fill(email);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { name: 'Projects', level: 1 }).waitFor();

    expect(d.pageErrors).toEqual([]);
  }, 120_000);

  it('works with the keyboard alone: skip link, labelled fields, Enter submits, focus lands on the heading', async () => {
    const { page, origin } = d;
    await page.goto(`${origin}/signup`);
    await page.evaluate(() => fetch('/api/v1/auth/logout', { method: 'POST' }));
    await page.goto(`${origin}/signup`);
    await page.getByRole('heading', { name: 'Create your account', level: 1 }).waitFor();
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Skip to content');
    const focused: string[] = [];
    for (let i = 0; i < 8 && !focused.includes('Password'); i++) {
      await page.keyboard.press('Tab');
      focused.push(
        await page.evaluate(
          () => (document.activeElement as HTMLInputElement).labels?.[0]?.textContent ?? '',
        ),
      );
      if (focused.at(-1) === 'E-mail') await page.keyboard.type('kay@example.com');
      if (focused.at(-1) === 'Password') await page.keyboard.type(PASSWORD);
    }
    expect(focused.filter(Boolean)).toEqual(['E-mail', 'Password']);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Projects', level: 1 }).waitFor();
    await expect.poll(() => page.evaluate(() => document.activeElement?.tagName)).toBe('H1');
    expect(d.pageErrors).toEqual([]);
  }, 60_000);

  it('renders hostile text as text: markup in a token name never runs', async () => {
    const { page, origin } = d;
    await signUp(page, origin, 'mallory@example.com');
    await page.goto(`${origin}/account/tokens`);
    const names = ['<img src=x onerror="window.__pwned=1">', '<script>window.__pwned=2</script>'];
    for (const hostile of names) {
      await page.getByLabel('Token name').fill(hostile);
      await page.getByRole('button', { name: 'Create token' }).click();
      await page.getByRole('cell', { name: hostile, exact: true }).waitFor();
    }
    expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
    expect(await page.locator('img').count()).toBe(0);
    expect(await page.locator('main script').count()).toBe(0);
    expect(d.pageErrors).toEqual([]);
  }, 60_000);

  it('approves a real `paastech login` on /device', async () => {
    const { page, origin } = d;
    if (!fs.existsSync(CLI)) throw new Error('apps/cli is not built (npm run build)');
    await signUp(page, origin, 'grace@example.com');
    const home = tempDir('pt-cli-');
    const cli = spawn(process.execPath, [CLI, 'login', '--api', origin], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, XDG_CONFIG_HOME: home, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    cli.stdout.on('data', (b: Buffer) => {
      output += b.toString();
    });
    cli.stderr.on('data', (b: Buffer) => {
      output += b.toString();
    });
    const exited = new Promise<number | null>((resolve) => cli.once('exit', resolve));
    try {
      await expect.poll(() => /\/device\?user_code=\S+/.exec(output)?.[0], { timeout: 15_000 }).toBeTruthy();
      const url = /(http[^\s)]+\/device\?user_code=[^\s)]+)/.exec(output)![1]!;
      const code = new URL(url).searchParams.get('user_code')!;
      await page.goto(url);
      await page.getByRole('heading', { name: 'Sign in the CLI' }).waitFor();
      await page
        .getByTestId('user-code')
        .waitFor({ timeout: 5000 })
        .catch(async () => {
          throw new Error(`no code on the page: ${await page.locator('main').textContent()}`);
        });
      expect(await page.getByTestId('user-code').textContent()).toBe(code);
      await screenshots(page, 'device');
      await page.getByRole('button', { name: 'Approve' }).click();
      await page.getByText('CLI signed in').waitFor();
      expect(await exited).toBe(0);
      expect(output).toContain('logged in as grace@example.com');
    } finally {
      cli.kill();
    }
    expect(d.pageErrors).toEqual([]);
  }, 60_000);

  it('denies a `paastech login` on /device: the CLI says so and fails', async () => {
    const { page, origin } = d;
    if (!fs.existsSync(CLI)) throw new Error('apps/cli is not built (npm run build)');
    await signUp(page, origin, 'eve@example.com');
    const home = tempDir('pt-cli-');
    const cli = spawn(process.execPath, [CLI, 'login', '--api', origin], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, XDG_CONFIG_HOME: home, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    cli.stdout.on('data', (b: Buffer) => {
      output += b.toString();
    });
    cli.stderr.on('data', (b: Buffer) => {
      output += b.toString();
    });
    const exited = new Promise<number | null>((resolve) => cli.once('exit', resolve));
    try {
      await expect.poll(() => /user_code=([A-Z0-9-]+)/.exec(output)?.[1], { timeout: 15_000 }).toBeTruthy();
      const code = /user_code=([A-Z0-9-]+)/.exec(output)![1]!;
      // Typed by hand, lower case and without the dash.
      await page.goto(`${origin}/device`);
      await page.getByLabel('Code').fill(code.replace('-', '').toLowerCase());
      await page.getByRole('button', { name: 'Continue' }).click();
      expect(await page.getByTestId('user-code').textContent()).toBe(code);
      await page.getByRole('button', { name: 'Deny' }).click();
      await page.getByText('Sign-in denied.').waitFor();
      expect(await exited).toBe(1);
      expect(output).toContain('denied');
    } finally {
      cli.kill();
    }
    expect(d.pageErrors).toEqual([]);
  }, 60_000);
});

/** Navigation timing of the current page, and the bytes of JavaScript it transferred (compressed). */
async function navigationTiming(page: Dashboard['page']) {
  return page.evaluate(() => {
    const nav = performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming;
    const scripts = (performance.getEntriesByType('resource') as PerformanceResourceTiming[]).filter(
      (r) => r.initiatorType === 'script' || r.name.endsWith('.js'),
    );
    return {
      domContentLoaded: Math.round(nav.domContentLoadedEventEnd),
      load: Math.round(nav.loadEventEnd),
      scriptBytes: scripts.reduce((sum, r) => sum + r.transferSize, 0),
    };
  });
}

/** Generates an ed25519 key with the real ssh-keygen; returns its .pub line and fingerprint. */
async function sshKeygen(): Promise<{ publicKey: string; fingerprint: string }> {
  const dir = tempDir('pt-key-');
  const file = path.join(dir, 'id_ed25519');
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'e2e@test', '-f', file]);
  const fingerprint = (await run('ssh-keygen', ['-l', '-f', `${file}.pub`])).split(' ')[1]!;
  return { publicKey: fs.readFileSync(`${file}.pub`, 'utf8').trim(), fingerprint };
}

/** Runs a command (argument array) and resolves with its stdout. */
function run(command: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString();
    });
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`${command} exited with ${code}`)),
    );
  });
}
