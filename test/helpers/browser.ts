import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';

/** Shared setup of the dashboard's browser tests: the built dashboard and Debian's Chromium. */

export const ROOT = join(new URL('.', import.meta.url).pathname, '../..');
const DASHBOARD = join(ROOT, 'apps/dashboard');

/** Without the background-networking flags Chromium keeps dialling Google's hosts, which this network refuses. */
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

/** Builds apps/dashboard/dist when it is missing or older than its sources. */
export function ensureDashboardBuilt(): void {
  const index = join(DASHBOARD, 'dist/index.html');
  const sources = Math.max(newestMtime(join(DASHBOARD, 'src')), statSync(join(DASHBOARD, 'index.html')).mtimeMs);
  if (existsSync(index) && statSync(index).mtimeMs >= sources) return;
  execFileSync(process.execPath, [join(ROOT, 'node_modules/vite/bin/vite.js'), 'build', DASHBOARD, '--logLevel', 'warn'], {
    cwd: ROOT,
    stdio: 'inherit',
  });
}

/** Headless Chromium (CHROMIUM_PATH, else Debian's /usr/bin/chromium). */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: CHROMIUM_ARGS });
}

/**
 * Collects the page's script errors and console errors into `errors` (a CSP violation or a script error shows
 * there: the dashboard runs under `script-src 'self'`). HTTP error statuses (a refused password, a 400 the test
 * provokes) log "Failed to load resource" and are expected.
 */
export function collectPageErrors(page: Page, errors: string[]): void {
  page.on('console', (msg) => {
    if (msg.type() === 'error' && !msg.text().startsWith('Failed to load resource')) errors.push(msg.text());
  });
  page.on('pageerror', (error) => errors.push(error.message));
}

/** Fills the login form with the password and waits for the dashboard. */
export async function logInWithPassword(page: Page, password: string): Promise<void> {
  await page.getByLabel('Mot de passe').fill(password);
  await page.getByRole('button', { name: 'Se connecter' }).click();
  await page.waitForURL(/\/dashboard/);
}
