/**
 * The dashboard's database page in a real browser against a real server: source and sync status
 * (no source here: the page says so and the rest works), schedules (save, delete, stop/start the
 * runner), backups (take one, restore it into a new name; a restore over a live database without
 * "replace" is refused with the server's message, and with it the data is replaced).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test, type TestContext } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { ADMIN_KEY, startTestServer, type TestServer } from '../helpers/server.js';
import { assertDashboardBuilt, browserUnavailable, launchChromium, screenshot, waitForText, watchPageErrors } from './browser.js';

const PASSWORD = 'dashboard-database-test-password-2024';

describe('dashboard database page in a browser', () => {
  const skipReason = browserUnavailable();
  let server: TestServer;
  let browser: Browser | undefined;
  let page: Page;
  let problems: string[] = [];

  async function api(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
    const response = await fetch(`${server.url}${path}`, {
      method,
      headers: { Authorization: `Bearer ${ADMIN_KEY}`, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : undefined };
  }
  const count = async (db: string) => (await api('POST', `/api/query?db=${db}`, { sql: 'SELECT count(*)::INTEGER AS n FROM orders' })).body.result[0].n as number;

  before(async () => {
    if (skipReason) return;
    assertDashboardBuilt();
    server = await startTestServer({ ADMIN_USERNAME: 'admin', ADMIN_PASSWORD: PASSWORD });
    assert.equal((await api('POST', '/api/databases', { name: 'shop' })).status, 201);
    assert.equal((await api('POST', '/api/query?db=shop', { sql: 'CREATE TABLE orders (id INTEGER PRIMARY KEY, total DECIMAL(10,2))' })).status, 200);
    assert.equal((await api('POST', '/api/query?db=shop', { sql: 'INSERT INTO orders SELECT i, i * 2.5 FROM range(250) r(i)' })).status, 200);
    browser = await launchChromium();
    page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
    page.setDefaultTimeout(15_000);
    problems = watchPageErrors(page);
    await page.goto(`${server.url}/#/database?db=shop`);
    await page.getByLabel('Username').fill('admin');
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { level: 1, name: 'Database shop' }).waitFor();
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  function step(name: string, body: (t: TestContext) => Promise<void>) {
    test(name, async (t) => {
      if (skipReason) return t.skip(skipReason);
      await body(t);
      // The refusals these steps provoke on purpose (409 restore over a live database).
      assert.deepEqual(problems.filter((p) => !/status of 409 \(Conflict\)/.test(p)), []);
    });
  }

  step('shows the source and sync state: no source here, said plainly', async () => {
    await waitForText(page.getByTestId('sync-source'), 'No source');
    await waitForText(page.getByTestId('sync-last'), 'Never');
    await waitForText(page.getByTestId('sync-progress'), 'Idle');
    assert.equal(await page.getByRole('button', { name: 'Validate' }).count(), 0, 'nothing to validate without a source');
    await waitForText(page.getByTestId('backups-empty'), 'No backups of this database yet');
    await waitForText(page.getByTestId('schedules-empty'), 'No schedules');
  });

  step('schedules: save a daily backup keeping 3, stop and start automation, delete it', async () => {
    const form = page.getByTestId('schedule-form');
    await form.getByLabel('Job').selectOption('backup');
    await form.getByLabel('Every (minutes)').fill('1440');
    await form.getByLabel('Backups kept').fill('3');
    await form.getByRole('button', { name: 'Save schedule' }).click();
    await waitForText(page.getByTestId('schedules-table'), 'every 1 d');
    await waitForText(page.getByTestId('schedules-table'), 'keep 3');
    const stored = (await api('GET', '/automation/schedules')).body.schedules;
    assert.deepEqual(stored.map((s: { database: string; kind: string; intervalSeconds: number; options: unknown }) => [s.database, s.kind, s.intervalSeconds, s.options]), [['shop', 'backup', 86_400, { keep: 3 }]]);

    await waitForText(page.getByTestId('automation-state'), 'Automation on');
    await page.getByRole('button', { name: 'Stop automation' }).click();
    await waitForText(page.getByTestId('automation-state'), 'Automation stopped');
    assert.equal((await api('GET', '/automation/status')).body.enabled, false);
    await page.getByRole('button', { name: 'Start automation' }).click();
    await waitForText(page.getByTestId('automation-state'), 'Automation on');

    // Beyond the server's bound: its message, shown as is.
    await form.getByLabel('Backups kept').fill('200000');
    await form.getByRole('button', { name: 'Save schedule' }).click();
    await waitForText(page.getByRole('alert'), /keep/);
    await form.getByLabel('Backups kept').fill('3');
    await screenshot(page, 'database-schedules');

    await page.getByRole('button', { name: 'Delete backup schedule' }).click();
    await waitForText(page.getByTestId('schedules-empty'), 'No schedules');
    assert.deepEqual((await api('GET', '/automation/schedules')).body.schedules, []);
  });

  step('backups: take one, restore it into a new name, verified', async () => {
    await page.getByRole('button', { name: 'Back up now' }).click();
    await waitForText(page.getByTestId('backup-notice'), /Backup shop-\d{8}T\d{6}Z-[0-9a-f]{6} taken/);
    await waitForText(page.getByTestId('backups-table'), 'orders (250)');
    await page.getByRole('button', { name: /^Restore shop-/ }).click();
    const form = page.getByTestId('restore-form');
    assert.equal(await form.getByLabel('Into database').inputValue(), 'shop_restored');
    await form.getByRole('button', { name: 'Restore' }).click();
    await waitForText(page.getByTestId('backup-notice'), "Restored into 'shop_restored': 1 tables verified by row counts and checksums.");
    assert.equal(await count('shop_restored'), 250);
    await screenshot(page, 'database-backups');
  });

  step('a restore over a live database needs "replace"; with it, the data is the backup again', async () => {
    assert.equal((await api('POST', '/api/query?db=shop', { sql: 'DELETE FROM orders WHERE id >= 100' })).status, 200);
    await page.getByRole('button', { name: /^Restore shop-/ }).click();
    const form = page.getByTestId('restore-form');
    await form.getByLabel('Into database').fill('shop');
    await form.getByRole('button', { name: 'Restore' }).click();
    await waitForText(page.getByTestId('restore-error'), /exists; restore into a new name, or pass replace: true/);
    assert.equal(await count('shop'), 100, 'nothing changed');
    await form.getByLabel(/Replace it if it exists/).check();
    await form.getByRole('button', { name: 'Restore' }).click();
    await waitForText(page.getByTestId('backup-notice'), "Restored into 'shop' (replaced)");
    assert.equal(await count('shop'), 250);
  });
});
