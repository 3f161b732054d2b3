/**
 * The dashboard's key flow in a real browser against two replicas on one PostgreSQL store
 * (STORE_URL), with the CLI (`duckgate keys`, STORE_URL) on the same store: the admin signs in on
 * replica A; what the dashboard does to keys holds on replica B at once, and a key made by the CLI
 * shows in the dashboard. Skipped with the reason when Chromium or PostgreSQL is missing.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { after, before, describe, test, type TestContext } from 'node:test';
import type { Browser, Locator, Page } from 'playwright-core';
import { createTestSchema, postgresUnavailable, type TestSchema } from '../helpers/postgres.js';
import { runCli } from '../helpers/process.js';
import { startTestServer, tempDir, type TestServer } from '../helpers/server.js';
import { assertDashboardBuilt, browserUnavailable, launchChromium, screenshot, waitForText, watchPageErrors } from './browser.js';

const USERNAME = 'admin';
const PASSWORD = 'dashboard-postgres-test-password-1';
const KEY_LABEL = 'PG notes reader';
const KEY_PATTERN = /^dk_live_[A-Za-z0-9_-]{32}$/;

describe('dashboard in a browser on the PostgreSQL store, two replicas', () => {
  const skipReason = browserUnavailable();
  let pgSkip: string | false = false;
  let schema: TestSchema | undefined;
  let a: TestServer;
  let b: TestServer;
  let browser: Browser | undefined;
  let page: Page;
  let problems: string[] = [];
  let cliEnv: Record<string, string>;
  let issuedKey = '';
  let regeneratedKey = '';

  before(async () => {
    if (skipReason) return;
    pgSkip = await postgresUnavailable();
    if (pgSkip) return;
    assertDashboardBuilt();
    schema = await createTestSchema('dashboard');
    const shared = { STORE_URL: schema.url, ADMIN_USERNAME: USERNAME, ADMIN_PASSWORD: PASSWORD, JWT_SECRET: randomBytes(32).toString('base64url') };
    a = await startTestServer(shared);
    b = await startTestServer(shared);
    cliEnv = { STORE_URL: schema.url, DATA_DIR: tempDir('duckgate-dashboard-cli-') };
    browser = await launchChromium();
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    page = await context.newPage();
    page.setDefaultTimeout(15_000);
    problems = watchPageErrors(page);
  });

  after(async () => {
    await browser?.close();
    await a?.stop();
    await b?.stop();
    if (cliEnv) rmSync(cliEnv.DATA_DIR!, { recursive: true, force: true });
    await schema?.drop();
  });

  function step(name: string, body: () => Promise<void>) {
    test(name, async (t: TestContext) => {
      if (skipReason) return t.skip(skipReason);
      if (pgSkip) return t.skip(pgSkip);
      await body();
    });
  }

  /** What `key` may do according to replica B (null: refused). */
  async function permissionsOnB(key: string): Promise<unknown> {
    const response = await fetch(`${b.url}/api/auth/permissions`, { headers: { authorization: `Bearer ${key}` } });
    if (response.status === 401) return null;
    assert.equal(response.status, 200);
    return ((await response.json()) as { collection_permissions: unknown }).collection_permissions;
  }

  /** Polls replica B until `key` has `expected` there (a change crosses replicas through the store's channel). */
  async function onB(key: string, expected: unknown): Promise<void> {
    const deadline = Date.now() + 2000;
    let seen = await permissionsOnB(key);
    while (JSON.stringify(seen) !== JSON.stringify(expected) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      seen = await permissionsOnB(key);
    }
    assert.deepEqual(seen, expected);
  }

  const keyRow = (label: string): Locator => page.getByTestId('keys-table').getByRole('row').filter({ hasText: label });

  step('a key made by the CLI on the store shows in the dashboard after sign-in on replica A', async () => {
    const created = await runCli(['keys', 'create', '--label', 'Made by the CLI', '--permissions', '{"menu":["read"]}', '--json'], cliEnv);
    assert.equal(created.code, 0, created.stderr);
    const { key } = JSON.parse(created.stdout) as { key: string };
    await page.goto(`${a.url}/`);
    await page.getByLabel('Username').fill(USERNAME);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.locator('form').filter({ has: page.getByLabel('Password') }).getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'API keys' }).waitFor();
    await keyRow('Made by the CLI').waitFor();
    await waitForText(keyRow('Made by the CLI'), 'menu: read');
    assert.deepEqual(await permissionsOnB(key), { menu: ['read'] });
    await screenshot(page, 'postgres-keys-cli');
  });

  step('a key generated in the dashboard is shown once and works on replica B at once', async () => {
    await page.getByRole('button', { name: 'Generate key' }).click();
    const dialog = page.getByTestId('generate-dialog');
    await dialog.waitFor();
    await dialog.getByLabel('Label', { exact: true }).fill(KEY_LABEL);
    const row = dialog.getByTestId('perm-row-0');
    await row.getByLabel('Collection name').fill('notes');
    await row.getByLabel('Read', { exact: true }).check();
    const created = page.waitForResponse((response) => response.url().endsWith('/api/auth/register'));
    await dialog.getByRole('button', { name: 'Generate key' }).click();
    assert.equal((await created).status(), 201);
    const reveal = page.getByTestId('key-reveal');
    await reveal.waitFor();
    issuedKey = ((await reveal.getByTestId('new-key').textContent()) ?? '').trim();
    assert.match(issuedKey, KEY_PATTERN);
    await reveal.getByRole('button', { name: 'Done' }).click();
    await reveal.waitFor({ state: 'detached' });
    await waitForText(keyRow(KEY_LABEL), 'notes: read');
    assert.ok(!(await page.content()).includes(issuedKey), 'the full key is gone from the page after Done');
    assert.deepEqual(await permissionsOnB(issuedKey), { notes: ['read'] });
    const listed = await runCli(['keys', 'list', '--json'], cliEnv);
    assert.ok((JSON.parse(listed.stdout) as { label: string }[]).some((k) => k.label === KEY_LABEL), 'the CLI lists it');
  });

  step('permissions edited in the dashboard hold on replica B', async () => {
    await keyRow(KEY_LABEL).getByRole('button', { name: 'Edit permissions' }).click();
    const dialog = page.getByTestId('permissions-dialog');
    await dialog.waitFor();
    await dialog.getByTestId('perm-row-0').getByLabel('Write', { exact: true }).check();
    const saved = page.waitForResponse((response) => response.url().endsWith('/api/auth/permissions') && response.request().method() === 'POST');
    await dialog.getByRole('button', { name: 'Save permissions' }).click();
    assert.equal((await saved).status(), 200);
    // The collection has no records on this replica's data engine yet: saved, with a warning to dismiss.
    await waitForText(dialog.getByTestId('permission-warnings'), "Collection 'notes' does not exist yet");
    await dialog.getByRole('button', { name: 'Done' }).click();
    await dialog.waitFor({ state: 'detached' });
    await waitForText(keyRow(KEY_LABEL), 'notes: read, write');
    await onB(issuedKey, { notes: ['read', 'write'] });
  });

  step('regenerated in the dashboard, the old key dies on replica B and the new one works there', async () => {
    await keyRow(KEY_LABEL).getByRole('button', { name: 'Regenerate' }).click();
    const confirm = page.getByTestId('confirm-dialog');
    await confirm.getByRole('button', { name: 'Regenerate key' }).click();
    const reveal = page.getByTestId('key-reveal');
    await reveal.waitFor();
    regeneratedKey = ((await reveal.getByTestId('new-key').textContent()) ?? '').trim();
    assert.match(regeneratedKey, KEY_PATTERN);
    await reveal.getByRole('button', { name: 'Done' }).click();
    await reveal.waitFor({ state: 'detached' });
    await onB(issuedKey, null);
    assert.deepEqual(await permissionsOnB(regeneratedKey), { notes: ['read', 'write'] });
  });

  step('revoked in the dashboard, the key dies on replica B', async () => {
    await keyRow(KEY_LABEL).getByRole('button', { name: 'Revoke' }).click();
    const confirm = page.getByTestId('confirm-dialog');
    await confirm.getByRole('button', { name: 'Revoke key' }).click();
    await confirm.waitFor({ state: 'detached' });
    await waitForText(page.getByTestId('keys-notice'), `Key "${KEY_LABEL}" revoked.`);
    await onB(regeneratedKey, null);
    await screenshot(page, 'postgres-keys-revoked');
  });

  step('the pages loaded without script errors or CSP violations', async () => {
    assert.deepEqual(problems, []);
  });
});
