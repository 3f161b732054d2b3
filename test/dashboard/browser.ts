/**
 * Real-browser helpers for the dashboard tests: the system Chromium through playwright-core,
 * full-page screenshots under `test-results/`, and the checks that the dashboard is built.
 */
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Locator, type Page } from 'playwright-core';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const CHROMIUM_PATH = '/usr/bin/chromium';
export const DASHBOARD_INDEX = path.join(REPO_ROOT, 'dist/dashboard/index.html');
export const RESULTS_DIR = path.join(REPO_ROOT, 'test-results');

/** Why the browser tests cannot run here, or undefined when they can. */
export function browserUnavailable(): string | undefined {
  return existsSync(CHROMIUM_PATH) ? undefined : `${CHROMIUM_PATH} is missing: install Chromium to run the dashboard browser tests`;
}

/** Fails with a clear instruction when the dashboard has not been built. */
export function assertDashboardBuilt(): void {
  if (!existsSync(DASHBOARD_INDEX)) {
    throw new Error(`${path.relative(REPO_ROOT, DASHBOARD_INDEX)} does not exist: run \`npm run build:dashboard\` before the dashboard browser tests`);
  }
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
  });
}

/** A screenshot at `test-results/dashboard-<name>.png`: the full page, or what the viewport shows. */
export async function screenshot(page: Page, name: string, fullPage = true): Promise<string> {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const file = path.join(RESULTS_DIR, `dashboard-${name}.png`);
  await page.screenshot({ path: file, fullPage });
  return file;
}

/** Waits until `locator` (its first match) contains `text`; playwright-core has no `expect`. */
export async function waitForText(locator: Locator, text: string | RegExp): Promise<void> {
  await locator.filter({ hasText: text }).first().waitFor({ state: 'visible' });
}

/** Collects what would show a broken page: uncaught errors and console errors (CSP violations among them). */
export function watchPageErrors(page: Page): string[] {
  const problems: string[] = [];
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() !== 'error') return;
    const text = message.text();
    // The browser logs every non-2xx fetch; those are the tests' own expected refusals.
    if (/Failed to load resource: the server responded with a status of (400|401|403|404|429)/.test(text)) return;
    problems.push(`console error: ${text}`);
  });
  return problems;
}

/** A phone's viewport: the width of the smallest current iPhones. */
export const PHONE = { width: 390, height: 844 } as const;

/**
 * Fails when the page is wider than the viewport (something forces sideways scrolling) or an open
 * dialog reaches outside it. Answers what was measured, for the message of a later check.
 */
export async function assertFitsPhone(page: Page, where: string): Promise<void> {
  const measured = await page.evaluate(() => {
    const dialogs = [...document.querySelectorAll('dialog[open]')].map((dialog) => {
      const box = dialog.getBoundingClientRect();
      return { left: box.left, right: box.right, top: box.top, bottom: box.bottom };
    });
    return { scrollWidth: document.scrollingElement!.scrollWidth, innerWidth: window.innerWidth, innerHeight: window.innerHeight, dialogs };
  });
  if (measured.scrollWidth > measured.innerWidth) {
    throw new Error(`${where}: the page is ${measured.scrollWidth} px wide in a ${measured.innerWidth} px viewport`);
  }
  for (const box of measured.dialogs) {
    if (box.left < 0 || box.right > measured.innerWidth || box.top < 0 || box.bottom > measured.innerHeight) {
      throw new Error(`${where}: a dialog reaches outside the ${measured.innerWidth}×${measured.innerHeight} viewport: ${JSON.stringify(box)}`);
    }
  }
}
