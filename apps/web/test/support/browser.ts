// Headless Debian chromium driven by playwright-core, against a real `paastechd all`: the harness of
// the dashboard's end-to-end tests. Never downloads a browser: it uses /usr/bin/chromium.
import fs from 'node:fs';
import path from 'node:path';
import { REPO_ROOT, type RunningDaemon, startPaastechd, tempDir } from '@paastech/testing';
import { type BrowserContext, chromium, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
export const WEB_DIST = path.join(REPO_ROOT, 'apps/web/dist');
export const SCREENSHOTS = path.join(REPO_ROOT, 'docs/screenshots');

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface Dashboard {
  daemon: RunningDaemon;
  /** The dashboard's origin, e.g. http://127.0.0.1:40123 */
  origin: string;
  context: BrowserContext;
  page: Page;
  /** Messages of uncaught page errors and console errors, to assert none happened. */
  pageErrors: string[];
  close(): Promise<void>;
}

/** Why the end-to-end suite cannot run here, or null when it can. */
export function missingPrerequisite(): string | null {
  if (!fs.existsSync(CHROMIUM)) return `${CHROMIUM} is missing (apt-get install -y chromium)`;
  if (!fs.existsSync(path.join(WEB_DIST, 'index.html'))) return 'apps/web/dist is missing (npm run build)';
  if (!fs.existsSync(path.join(REPO_ROOT, 'apps/paastechd/dist/main.js'))) return 'paastechd is not built';
  return null;
}

/** Starts paastechd and a fresh chromium profile with one page. */
export async function openDashboard(env: Record<string, string> = {}): Promise<Dashboard> {
  const daemon = await startPaastechd({ env });
  const origin = daemon.endpoints.get('dashboard and API')!.replace(/\/$/, '');
  const profile = tempDir('pt-chrome-');
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1280, height: 800 },
    colorScheme: 'light',
  });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin });
  const page = context.pages()[0] ?? (await context.newPage());
  const pageErrors: string[] = [];
  page.on('pageerror', (error) => pageErrors.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error' && !/status of 4\d\d/.test(message.text()))
      pageErrors.push(message.text());
  });
  return {
    daemon,
    origin,
    context,
    page,
    pageErrors,
    async close() {
      await context.close().catch(() => {});
      await daemon.stop();
      fs.rmSync(profile, { recursive: true, force: true });
    },
  };
}

const VARIANTS = [
  { suffix: 'desktop-light', width: 1280, height: 800, colorScheme: 'light' },
  { suffix: 'desktop-dark', width: 1280, height: 800, colorScheme: 'dark' },
  { suffix: 'phone-light', width: 390, height: 844, colorScheme: 'light' },
  { suffix: 'phone-dark', width: 390, height: 844, colorScheme: 'dark' },
] as const;

/** Saves docs/screenshots/<name>-{desktop,phone}-{light,dark}.png, then restores desktop light. */
export async function screenshots(page: Page, name: string): Promise<void> {
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  for (const v of VARIANTS) {
    await page.setViewportSize({ width: v.width, height: v.height });
    await page.emulateMedia({ colorScheme: v.colorScheme, reducedMotion: 'reduce' });
    await page.screenshot({
      path: path.join(SCREENSHOTS, `${name}-${v.suffix}.png`),
      animations: 'disabled',
    });
  }
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.emulateMedia({ colorScheme: 'light', reducedMotion: 'no-preference' });
}

export const PASSWORD = 'correct horse battery staple 42';

/** Signs up through the form and waits for the projects page. */
export async function signUp(page: Page, origin: string, email: string): Promise<void> {
  await page.goto(`${origin}/signup`);
  await page
    .getByLabel('E-mail')
    .waitFor({ timeout: 15_000 })
    .catch(async () => {
      throw new Error(`no sign-up form at ${page.url()}: ${await page.locator('body').textContent()}`);
    });
  await page.getByLabel('E-mail').fill(email);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign up' }).click();
  await page.getByRole('heading', { name: 'Projects', level: 1 }).waitFor();
}
