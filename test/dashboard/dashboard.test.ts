/**
 * The web dashboard in a real browser (system Chromium through playwright-core) against a real
 * server: sign-in, keys (generate, shown once, edit permissions, regenerate, revoke), collections,
 * query, status, session end and sign-out. The steps run in order and share one signed-in page,
 * as an admin would use it; each leaves a screenshot under `test-results/`.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test, type TestContext } from 'node:test';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { ADMIN_KEY, startTestServer, type TestServer } from '../helpers/server.js';
import { assertDashboardBuilt, assertFitsPhone, browserUnavailable, launchChromium, PHONE, screenshot, waitForText, watchPageErrors } from './browser.js';

const USERNAME = 'admin';
const PASSWORD = 'dashboard-browser-test-password-2024';
const SESSION_KEY = 'duckgate.session';
const KEY_LABEL = 'Notes reader';
const KEY_PATTERN = /^dk_live_[A-Za-z0-9_-]{32}$/;
const SEEDED_NOTES = 30;

describe('dashboard in a browser', () => {
  const skipReason = browserUnavailable();
  let server: TestServer;
  let browser: Browser | undefined;
  let context: BrowserContext;
  let page: Page;
  let problems: string[] = [];
  /** The key generated in the dashboard, then its regenerated successor. */
  let issuedKey = '';
  let regeneratedKey = '';
  /** Keys made through the API for paging; revoked once the pages using them are done. */
  const bulkKeys: string[] = [];

  before(async () => {
    if (skipReason) return;
    assertDashboardBuilt();
    server = await startTestServer({
      ADMIN_USERNAME: USERNAME, ADMIN_PASSWORD: PASSWORD,
      // A result budget below the query page's big statement, so that the page shows the server's
      // truncation signal where the server has one; a short deadline for the statement it cancels.
      MAX_RESULT_ROWS: '1000', QUERY_TIMEOUT_MS: '5000',
    });
    // Records to browse: more than one page of 25.
    const seeded = await api('POST', '/api/batch/insert/notes', ADMIN_KEY, {
      // Lists are ordered by id: these ids keep the notes in title order.
      inserts: Array.from({ length: SEEDED_NOTES }, (_, i) => ({ data: { id: `note-${String(i + 1).padStart(2, '0')}`, title: `Note ${String(i + 1).padStart(2, '0')}`, rank: i + 1 } })),
    });
    assert.equal(seeded.status, 200, `seeding notes: ${JSON.stringify(seeded.body)}`);
    browser = await launchChromium();
    context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    page = await context.newPage();
    page.setDefaultTimeout(15_000);
    problems = watchPageErrors(page);
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  /** Skips with the reason when there is no browser; the steps below run in order. */
  function step(name: string, body: (t: TestContext) => Promise<void>) {
    test(name, async (t) => {
      if (skipReason) return t.skip(skipReason);
      await body(t);
    });
  }

  async function api(method: string, path: string, credential: string, body?: unknown): Promise<{ status: number; body: unknown }> {
    const response = await fetch(`${server.url}${path}`, {
      method,
      headers: { Authorization: `Bearer ${credential}`, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : undefined };
  }

  const signInForm = () => page.locator('form').filter({ has: page.getByLabel('Password') });
  const keyRow = (label: string): Locator => page.getByTestId('keys-table').getByRole('row').filter({ hasText: label });
  const storedSession = () => page.evaluate((name) => sessionStorage.getItem(name), SESSION_KEY);

  async function signIn(password: string): Promise<void> {
    await page.getByLabel('Username').fill(USERNAME);
    await page.getByLabel('Password').fill(password);
    await signInForm().getByRole('button', { name: 'Sign in' }).click();
  }

  async function assertKeyNowhere(key: string, where: string): Promise<void> {
    assert.ok(!(await page.content()).includes(key), `the full key must not be in the page ${where}`);
    const storage = await page.evaluate(() => JSON.stringify({ ...sessionStorage }) + JSON.stringify({ ...localStorage }));
    assert.ok(!storage.includes(key), `the full key must not be in web storage ${where}`);
    assert.ok(!page.url().includes(key), `the full key must not be in the URL ${where}`);
  }

  step('an unauthenticated visit lands on sign-in, and a wrong password is refused', async () => {
    await page.goto(`${server.url}/`);
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    assert.match(page.url(), /#\/signin$/);
    await screenshot(page, 'signin');

    await signIn('not-the-password-at-all');
    await waitForText(page.getByRole('alert'), 'Invalid username or password');
    assert.equal(await storedSession(), null);
    await screenshot(page, 'signin-error');
  });

  step('empty fields are caught before anything is sent', async () => {
    let sent = 0;
    const count = () => sent++;
    page.on('request', count);
    await page.getByLabel('Username').fill('');
    await page.getByLabel('Password').fill('');
    await signInForm().getByRole('button', { name: 'Sign in' }).click();
    await waitForText(page.getByRole('alert'), 'Enter your username.');
    page.off('request', count);
    assert.equal(sent, 0);
  });

  step('signing in through the form opens the keys page', async () => {
    await signIn(PASSWORD);
    await page.getByRole('heading', { name: 'API keys' }).waitFor();
    assert.match(page.url(), /#\/keys$/);
    await waitForText(page.getByRole('navigation', { name: 'Main' }), 'Keys');
    assert.equal(await page.getByTestId('signed-in-user').textContent(), USERNAME);
    await page.getByTestId('keys-empty').waitFor();
    // The environment's keys are listed by setting name, read-only, never by value.
    await waitForText(page.getByTestId('environment-keys'), 'ADMIN_API_KEY');
    await waitForText(page.getByTestId('environment-keys'), 'VALID_API_KEYS #1');
    assert.ok(!(await page.content()).includes(ADMIN_KEY), 'no environment key value in the page');
    assert.ok(!(await page.content()).includes(ADMIN_KEY.slice(0, 10)), 'not even its start');
    const session = JSON.parse((await storedSession()) ?? 'null') as { token: string; username: string; expiresAt: string };
    assert.equal(session.username, USERNAME);
    assert.ok(session.token.split('.').length === 3, 'the session holds a JWT');
    assert.ok(Date.parse(session.expiresAt) > Date.now());
    assert.equal(await page.evaluate(() => localStorage.length), 0, 'nothing goes to localStorage');
  });

  step('dialogs work from the keyboard: Enter opens, focus starts inside, Escape closes', async () => {
    const open = page.getByRole('button', { name: 'Generate key' });
    await open.focus();
    await page.keyboard.press('Enter');
    const dialog = page.getByTestId('generate-dialog');
    await dialog.waitFor();
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'gen-label');
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
    assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Generate key', 'focus returns to the button');
  });

  step('generating a key shows the full key exactly once', async () => {
    await page.getByRole('button', { name: 'Generate key' }).click();
    const dialog = page.getByTestId('generate-dialog');
    await dialog.waitFor();

    // The form refuses to send without a label.
    await dialog.getByRole('button', { name: 'Generate key' }).click();
    await waitForText(dialog.getByRole('alert'), 'Enter a label');

    await dialog.getByLabel('Label', { exact: true }).fill(KEY_LABEL);
    await dialog.getByLabel('Description').fill('Reads the notes collection');
    const row = dialog.getByTestId('perm-row-0');
    await row.getByLabel('Collection name').fill('notes');
    await row.getByLabel('Read', { exact: true }).check();
    await screenshot(page, 'generate-key');
    const created = page.waitForResponse((response) => response.url().endsWith('/api/auth/register'));
    await dialog.getByRole('button', { name: 'Generate key' }).click();
    assert.equal((await created).status(), 201);

    const reveal = page.getByTestId('key-reveal');
    await reveal.waitFor();
    issuedKey = ((await reveal.getByTestId('new-key').textContent()) ?? '').trim();
    assert.match(issuedKey, KEY_PATTERN);
    await waitForText(reveal, 'Store this key now: it will not be shown again.');
    assert.ok((await page.content()).includes(issuedKey), 'the key is on the page while the reveal is open');
    await reveal.getByRole('button', { name: 'Copy' }).click();
    await waitForText(reveal.getByRole('status'), /Copied|selected/);
    await screenshot(page, 'key-shown-once');

    // Escape does not discard the key: the dialog asks first, and "Keep it open" keeps it.
    await page.keyboard.press('Escape');
    const ask = reveal.getByTestId('reveal-confirm-close');
    await waitForText(ask, 'Close without the key?');
    assert.ok(await reveal.getByTestId('new-key').isVisible(), 'the key is still shown while asking');
    await screenshot(page, 'key-reveal-asks');
    await ask.getByRole('button', { name: 'Keep it open' }).click();
    await ask.waitFor({ state: 'detached' });
    // A second Escape in a row (which Chromium may turn into a forced close) still only asks.
    await page.keyboard.press('Escape');
    await page.keyboard.press('Escape');
    await ask.waitFor();
    assert.ok(await reveal.getByTestId('new-key').isVisible());
    await ask.getByRole('button', { name: 'Keep it open' }).click();
    // A click on the backdrop (outside the dialog box) asks too.
    await page.mouse.click(5, 5);
    await ask.waitFor();
    await ask.getByRole('button', { name: 'Keep it open' }).click();
    await ask.waitFor({ state: 'detached' });

    await reveal.getByRole('button', { name: 'Done' }).click();
    await reveal.waitFor({ state: 'detached' });
    await keyRow(KEY_LABEL).waitFor();
    await waitForText(keyRow(KEY_LABEL), issuedKey.slice(0, 16));
    await waitForText(keyRow(KEY_LABEL), 'notes: read');
    await assertKeyNowhere(issuedKey, 'after Done');

    await page.reload();
    await keyRow(KEY_LABEL).waitFor();
    await assertKeyNowhere(issuedKey, 'after a reload');
    await screenshot(page, 'keys');
  });

  step('the generated key can read notes but not write them', async () => {
    assert.equal((await api('GET', '/api/find/notes', issuedKey)).status, 200);
    const refused = await api('POST', '/api/insert/notes', issuedKey, { title: 'From the key' });
    assert.equal(refused.status, 403);
    assert.equal((refused.body as { code: string }).code, 'forbidden');
  });

  step('editing permissions in the dashboard grants write', async () => {
    await keyRow(KEY_LABEL).getByRole('button', { name: 'Edit permissions' }).click();
    const dialog = page.getByTestId('permissions-dialog');
    await dialog.waitFor();
    const row = dialog.getByTestId('perm-row-0');
    assert.equal(await row.getByLabel('Collection name').inputValue(), 'notes');
    assert.equal(await row.getByLabel('Read', { exact: true }).isChecked(), true);
    assert.equal(await row.getByLabel('Write', { exact: true }).isChecked(), false);
    await row.getByLabel('Write', { exact: true }).check();
    await screenshot(page, 'edit-permissions');
    const saved = page.waitForResponse((response) => response.url().endsWith('/api/auth/permissions') && response.request().method() === 'POST');
    await dialog.getByRole('button', { name: 'Save permissions' }).click();
    assert.equal((await saved).status(), 200);
    await dialog.waitFor({ state: 'detached' });
    await waitForText(page.getByTestId('keys-notice'), `Permissions updated for "${KEY_LABEL}"`);
    await waitForText(keyRow(KEY_LABEL), 'notes: read, write');

    const inserted = await api('POST', '/api/insert/notes', issuedKey, { id: 'note-99', title: 'From the key', rank: 99 });
    // The 403 turns into a success (201 Created for an insert).
    assert.ok(inserted.status === 200 || inserted.status === 201, `insert answered ${inserted.status}: ${JSON.stringify(inserted.body)}`);
  });

  step('permission contradictions are caught before sending; names that do not exist yet are saved with warnings', async () => {
    await keyRow(KEY_LABEL).getByRole('button', { name: 'Edit permissions' }).click();
    const dialog = page.getByTestId('permissions-dialog');
    await dialog.waitFor();
    await dialog.getByRole('button', { name: 'Add collection' }).click();
    const row = dialog.getByTestId('perm-row-1');
    await row.getByLabel('Collection name').fill('notse');
    await row.getByLabel('Exclude fields').fill('body');
    let sent = 0;
    const count = (r: { url(): string }) => { if (r.url().endsWith('/api/auth/permissions')) sent++; };
    page.on('request', count);
    await dialog.getByRole('button', { name: 'Save permissions' }).click();
    await waitForText(dialog.getByTestId('permissions-error'), 'field rules only shape what Read or Write allows');
    page.off('request', count);
    assert.equal(sent, 0, 'refused in the page, nothing sent');

    await row.getByLabel('Read', { exact: true }).check();
    const saved = page.waitForResponse((response) => response.url().endsWith('/api/auth/permissions') && response.request().method() === 'POST');
    await dialog.getByRole('button', { name: 'Save permissions' }).click();
    assert.equal((await saved).status(), 200);
    const warnings = dialog.getByTestId('permission-warnings');
    await waitForText(warnings, "Collection 'notse' does not exist yet in database 'default'");
    await screenshot(page, 'permission-warnings');
    await dialog.getByRole('button', { name: 'Done' }).click();
    await dialog.waitFor({ state: 'detached' });
    await waitForText(keyRow(KEY_LABEL), 'notse: read');
  });

  step('editing a key changes its label, description, limits and admin flag, effective on the next request', async () => {
    await keyRow(KEY_LABEL).getByRole('button', { name: `Edit ${KEY_LABEL}`, exact: true }).click();
    const dialog = page.getByTestId('edit-key-dialog');
    await dialog.waitFor();
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'edit-label');
    assert.equal(await dialog.getByLabel('Label', { exact: true }).inputValue(), KEY_LABEL);
    assert.equal(await dialog.getByLabel('Description').inputValue(), 'Reads the notes collection');

    // Refused in the page: a past expiry, a bad IP.
    await dialog.getByLabel('Expires').fill('2001-01-01T10:00');
    await dialog.getByRole('button', { name: 'Save changes' }).click();
    await waitForText(dialog.getByTestId('edit-key-error'), 'The expiry must be in the future.');
    const expires = new Date(Date.now() + 3 * 86_400_000);
    expires.setSeconds(0, 0);
    const local = `${expires.getFullYear()}-${String(expires.getMonth() + 1).padStart(2, '0')}-${String(expires.getDate()).padStart(2, '0')}T${String(expires.getHours()).padStart(2, '0')}:${String(expires.getMinutes()).padStart(2, '0')}`;
    await dialog.getByLabel('Expires').fill(local);
    await dialog.getByLabel('Description').fill('Reads and writes notes');
    await dialog.getByLabel('Rate limit (requests per hour)').fill('5000');
    await dialog.getByLabel('Allowed IPs').fill('192.0.2.1');
    await screenshot(page, 'edit-key');
    const saved = page.waitForResponse((response) => response.url().includes('/api/auth/keys/') && response.request().method() === 'PATCH');
    await dialog.getByRole('button', { name: 'Save changes' }).click();
    const answer = await saved;
    assert.equal(answer.status(), 200);
    assert.deepEqual(Object.keys(JSON.parse(answer.request().postData() ?? '{}')).sort(), ['allowed_ips', 'description', 'expires_at', 'rate_limit'], 'only what changed is sent');
    await dialog.waitFor({ state: 'detached' });
    await waitForText(page.getByTestId('keys-notice'), `Key "${KEY_LABEL}" updated.`);
    await waitForText(keyRow(KEY_LABEL), 'Reads and writes notes');
    await waitForText(keyRow(KEY_LABEL), '5,000 requests/hour');
    // Dates carry their time of day.
    await waitForText(keyRow(KEY_LABEL), /\d{1,2}:\d{2}/);
    // Only 192.0.2.1 may use it now: this test's address is refused.
    assert.equal((await api('GET', '/api/find/notes', issuedKey)).status, 403);

    // Clearing the IPs and making it an admin key.
    await keyRow(KEY_LABEL).getByRole('button', { name: `Edit ${KEY_LABEL}`, exact: true }).click();
    await dialog.waitFor();
    assert.equal(await dialog.getByLabel('Allowed IPs').inputValue(), '192.0.2.1');
    await dialog.getByLabel('Allowed IPs').fill('');
    await dialog.getByLabel('Admin key').check();
    await dialog.getByRole('button', { name: 'Save changes' }).click();
    await dialog.waitFor({ state: 'detached' });
    await waitForText(keyRow(KEY_LABEL), 'Admin');
    assert.equal((await api('GET', '/api/find/notes', issuedKey)).status, 200);
    assert.equal((await api('GET', '/api/auth/keys', issuedKey)).status, 200, 'an admin key reaches the key routes');
    await keyRow(KEY_LABEL).getByRole('button', { name: `Edit ${KEY_LABEL}`, exact: true }).click();
    await dialog.waitFor();
    await dialog.getByLabel('Admin key').uncheck();
    await dialog.getByRole('button', { name: 'Save changes' }).click();
    await dialog.waitFor({ state: 'detached' });
    assert.equal((await api('GET', '/api/auth/keys', issuedKey)).status, 403);
  });

  step('Disable answers 401 from the next request; Enable brings the key back', async () => {
    await keyRow(KEY_LABEL).getByRole('button', { name: `Disable ${KEY_LABEL}` }).click();
    await waitForText(page.getByTestId('keys-notice'), `Key "${KEY_LABEL}" disabled`);
    await keyRow(KEY_LABEL).getByTestId('key-disabled').waitFor();
    const refused = await api('GET', '/api/find/notes', issuedKey);
    assert.equal(refused.status, 401);
    await screenshot(page, 'key-disabled');
    await page.reload();
    await keyRow(KEY_LABEL).getByTestId('key-disabled').waitFor();
    await keyRow(KEY_LABEL).getByRole('button', { name: `Enable ${KEY_LABEL}` }).click();
    await waitForText(page.getByTestId('keys-notice'), `Key "${KEY_LABEL}" enabled.`);
    await keyRow(KEY_LABEL).getByTestId('key-disabled').waitFor({ state: 'detached' });
    assert.equal((await api('GET', '/api/find/notes', issuedKey)).status, 200);
  });

  step('regenerating with a grace period keeps the old key working that long, and shows the new one once', async () => {
    await keyRow(KEY_LABEL).getByRole('button', { name: 'Regenerate' }).click();
    const confirm = page.getByTestId('confirm-dialog');
    await waitForText(confirm, 'Regenerate key?');
    // Cancel is where the focus starts: Enter on a stray keypress changes nothing.
    assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Cancel');
    await confirm.getByLabel('The current key').selectOption({ label: 'Works 5 more minutes' });
    const regenerated = page.waitForResponse((response) => response.url().endsWith('/regenerate'));
    await confirm.getByRole('button', { name: 'Regenerate key' }).click();
    assert.deepEqual(JSON.parse((await regenerated).request().postData() ?? '{}'), { grace_seconds: 300 });

    const reveal = page.getByTestId('key-reveal');
    await reveal.waitFor();
    regeneratedKey = ((await reveal.getByTestId('new-key').textContent()) ?? '').trim();
    assert.match(regeneratedKey, KEY_PATTERN);
    assert.notEqual(regeneratedKey, issuedKey);
    await waitForText(reveal.getByTestId('grace-until'), 'The previous key keeps working until');
    await reveal.getByRole('button', { name: 'Done' }).click();
    await reveal.waitFor({ state: 'detached' });
    await waitForText(keyRow(KEY_LABEL), regeneratedKey.slice(0, 16));
    await assertKeyNowhere(regeneratedKey, 'after Done');

    // Within its grace period the old key still works, as does the new one.
    assert.equal((await api('GET', '/api/find/notes', issuedKey)).status, 200);
    assert.equal((await api('GET', '/api/find/notes', regeneratedKey)).status, 200);
  });

  step('revoking in the dashboard kills the key', async () => {
    await keyRow(KEY_LABEL).getByRole('button', { name: 'Revoke' }).click();
    const confirm = page.getByTestId('confirm-dialog');
    await waitForText(confirm, 'Revoke key?');
    await confirm.getByRole('button', { name: 'Revoke key' }).click();
    await confirm.waitFor({ state: 'detached' });
    await waitForText(page.getByTestId('keys-notice'), `Key "${KEY_LABEL}" revoked.`);
    await page.getByTestId('keys-empty').waitFor();
    assert.equal((await api('GET', '/api/find/notes', regeneratedKey)).status, 401);
    assert.equal((await api('GET', '/api/find/notes', issuedKey)).status, 401, 'revoking ends the grace period too');
  });

  step('a generated key shows the server\'s warnings about its permissions next to the key', async () => {
    await page.getByRole('button', { name: 'Generate key' }).click();
    const dialog = page.getByTestId('generate-dialog');
    await dialog.waitFor();
    await dialog.getByLabel('Label', { exact: true }).fill('Categories syncer');
    const row = dialog.getByTestId('perm-row-0');
    await row.getByLabel('Collection name').fill('categories');
    await row.getByLabel('Write', { exact: true }).check();
    await dialog.getByRole('button', { name: 'Generate key' }).click();
    const reveal = page.getByTestId('key-reveal');
    await reveal.waitFor();
    await waitForText(reveal.getByTestId('permission-warnings'), "Collection 'categories' does not exist yet in database 'default'");
    const key = ((await reveal.getByTestId('new-key').textContent()) ?? '').trim();
    await reveal.getByRole('button', { name: 'Done' }).click();
    await reveal.waitFor({ state: 'detached' });
    // Granted before it exists, as a first sync needs: the write creates it.
    assert.equal((await api('POST', '/api/insert/categories', key, { name: 'Drinks' })).status, 201);
    await keyRow('Categories syncer').getByRole('button', { name: 'Revoke' }).click();
    await page.getByTestId('confirm-dialog').getByRole('button', { name: 'Revoke key' }).click();
    await page.getByTestId('keys-empty').waitFor();
  });

  step('keys are searched and paged on the server (25 a page)', async () => {
    for (let i = 1; i <= 30; i++) {
      const made = await api('POST', '/api/auth/register', ADMIN_KEY, { label: `Bulk key ${String(i).padStart(2, '0')}`, collection_permissions: { notes: { read: true, exclude_fields: ['rank'] } } });
      assert.equal(made.status, 201);
      bulkKeys.push((made.body as { key_id: string }).key_id);
    }
    await page.reload();
    await waitForText(page.getByTestId('keys-pager-info'), 'Keys 1–25 of 30');
    assert.equal(await page.getByTestId('keys-table').locator('tbody tr').count(), 25);
    // Field rules are spelt out, not just "(field rules)".
    await waitForText(keyRow('Bulk key 01'), 'notes: read (exclude: rank)');
    await screenshot(page, 'keys-paged');
    await page.getByRole('navigation', { name: 'Key pages' }).getByRole('button', { name: 'Next' }).click();
    await waitForText(page.getByTestId('keys-pager-info'), 'Keys 26–30 of 30');
    assert.equal(await page.getByTestId('keys-table').locator('tbody tr').count(), 5);
    assert.match(page.url(), /offset=25/);

    const searched = page.waitForResponse((response) => response.url().includes('/api/auth/keys?') && response.url().includes('search='));
    await page.getByLabel('Search keys').fill('bulk key 07');
    await page.getByRole('search').getByRole('button', { name: 'Search' }).click();
    assert.equal((await searched).headers()['x-total-count'], '1');
    await waitForText(page.getByTestId('keys-pager-info'), 'Keys 1–1 of 1');
    await keyRow('Bulk key 07').waitFor();
    await page.getByLabel('Search keys').fill('no such key');
    await page.getByRole('search').getByRole('button', { name: 'Search' }).click();
    await waitForText(page.getByTestId('keys-empty'), 'No keys match');
    await page.getByRole('search').getByRole('button', { name: 'Clear' }).click();
    await waitForText(page.getByTestId('keys-pager-info'), 'Keys 1–25 of 30');
  });

  step('at phone width (390 px) nothing is wider than the screen, dialogs fit, and row buttons are tappable', async () => {
    const phone = await browser!.newContext({ viewport: PHONE, hasTouch: true, isMobile: true });
    const small = await phone.newPage();
    small.setDefaultTimeout(15_000);
    const phoneProblems = watchPageErrors(small);
    try {
      await small.goto(`${server.url}/`);
      await small.getByLabel('Username').fill(USERNAME);
      await small.getByLabel('Password').fill(PASSWORD);
      await assertFitsPhone(small, 'sign-in');
      await screenshot(small, 'phone-signin');
      await small.locator('form').getByRole('button', { name: 'Sign in' }).click();
      await small.getByTestId('keys-table').waitFor();
      await assertFitsPhone(small, 'keys');
      await screenshot(small, 'phone-keys', false);

      const firstCard = small.getByTestId('keys-table').locator('tbody tr').first();
      for (const button of await firstCard.getByRole('button').all()) {
        const box = (await button.boundingBox())!;
        assert.ok(box.height >= 44, `"${await button.textContent()}" is ${box.height} px tall`);
        assert.ok(box.x >= 0 && box.x + box.width <= PHONE.width, `"${await button.textContent()}" is on screen`);
      }
      await firstCard.getByRole('button', { name: /^Edit Bulk key/ }).tap();
      await small.getByTestId('edit-key-dialog').waitFor();
      await assertFitsPhone(small, 'edit dialog');
      await screenshot(small, 'phone-edit-key', false);
      await small.getByTestId('edit-key-dialog').getByRole('button', { name: 'Cancel' }).tap();
      await firstCard.getByRole('button', { name: /^Regenerate/ }).tap();
      await small.getByTestId('confirm-dialog').waitFor();
      await assertFitsPhone(small, 'regenerate dialog');
      await small.getByTestId('confirm-dialog').getByRole('button', { name: 'Cancel' }).tap();

      await small.getByRole('button', { name: 'Generate key' }).tap();
      const dialog = small.getByTestId('generate-dialog');
      await dialog.waitFor();
      await assertFitsPhone(small, 'generate dialog');
      await screenshot(small, 'phone-generate-key', false);
      await dialog.getByLabel('Label', { exact: true }).fill('Phone key');
      await dialog.getByRole('button', { name: 'Generate key' }).tap();
      const reveal = small.getByTestId('key-reveal');
      await reveal.waitFor();
      await assertFitsPhone(small, 'key shown once');
      await screenshot(small, 'phone-key-shown-once', false);
      const phoneKeyPrefix = (((await reveal.getByTestId('new-key').textContent()) ?? '').trim()).slice(0, 16);
      await reveal.getByRole('button', { name: 'Done' }).tap();
      await reveal.waitFor({ state: 'detached' });
      const phoneKey = ((await api('GET', `/api/auth/keys?search=${phoneKeyPrefix}`, ADMIN_KEY)).body as { key_id: string }[])[0]!;
      bulkKeys.push(phoneKey.key_id);

      for (const [hash, name, ready] of [
        ['#/databases', 'databases', 'databases-table'],
        ['#/collections?db=default&collection=notes', 'collections', 'records-table'],
        ['#/query', 'query', null],
        ['#/audit', 'audit', 'audit-table'],
        ['#/status', 'status', 'status-cards'],
      ] as const) {
        await small.goto(`${server.url}/${hash}`);
        if (ready) await small.getByTestId(ready).waitFor();
        else await small.getByLabel('SQL').waitFor();
        await assertFitsPhone(small, name);
        await screenshot(small, `phone-${name}`);
      }
      assert.deepEqual(phoneProblems, []);
    } finally {
      await phone.close();
    }
    // Revoked through the API: 31 more events for the audit page's second page.
    for (const id of bulkKeys.splice(0)) assert.equal((await api('DELETE', `/api/auth/keys/${id}`, ADMIN_KEY)).status, 200);
  });

  step('the audit page lists events newest first, filters by kind and pages with Older/Newer', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Audit' }).click();
    await page.getByRole('heading', { name: 'Audit trail' }).waitFor();
    const table = page.getByTestId('audit-table');
    await table.waitFor();
    const trail = (await api('GET', '/api/audit?limit=50', ADMIN_KEY)).body as { next_before: number | null };
    assert.notEqual(trail.next_before, null, 'more than one page of events exists');
    assert.equal(await table.locator('tbody tr').count(), 50, 'a full first page');
    const firstId = Number(await table.locator('tbody tr').first().getAttribute('data-id'));
    const ids = await table.locator('tbody tr').evaluateAll((rows) => rows.map((row) => Number(row.getAttribute('data-id'))));
    assert.deepEqual(ids, [...ids].sort((a, b) => b - a), 'newest first');
    // Times to the second.
    await waitForText(table.locator('tbody tr').first(), /\d{1,2}:\d{2}:\d{2}/);
    await screenshot(page, 'audit');

    await page.getByRole('navigation', { name: 'Audit pages' }).getByRole('button', { name: 'Older' }).click();
    await page.waitForURL(/before=\d+/);
    await table.locator(`tbody tr[data-id="${firstId}"]`).waitFor({ state: 'detached' });
    const olderFirst = Number(await table.locator('tbody tr').first().getAttribute('data-id'));
    assert.ok(olderFirst < Math.min(...ids), 'the older page starts below the first page');
    await page.getByRole('navigation', { name: 'Audit pages' }).getByRole('button', { name: 'Newer' }).click();
    await table.locator(`tbody tr[data-id="${firstId}"]`).waitFor();

    await page.getByLabel('Kind').selectOption('key.updated');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.waitForURL(/kind=key\.updated/);
    // The unfiltered rows stay until the filtered answer replaces them: wait for the replacement.
    await page.waitForFunction(() => {
      const rows = [...document.querySelectorAll('[data-testid="audit-table"] tbody tr')];
      return rows.length > 0 && rows.every((row) => row.getAttribute('data-kind') === 'key.updated');
    });
    const kinds = await table.locator('tbody tr').evaluateAll((rows) => rows.map((row) => row.getAttribute('data-kind')));
    assert.ok(kinds.length >= 4 && kinds.every((kind) => kind === 'key.updated'), kinds.join(','));
    await waitForText(table, '"disabled":true');
    await screenshot(page, 'audit-filtered');
    await page.getByLabel('Actor').fill('nobody-at-all');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.getByTestId('audit-empty').waitFor();
    // A time range: nothing before 2001, the key.updated events again from 2001 on.
    await page.getByRole('button', { name: 'Clear', exact: true }).click();
    await table.locator('tbody tr').first().waitFor();
    await page.getByLabel('Until').fill('2001-01-01T00:00');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.waitForURL(/until=2001/);
    await page.getByTestId('audit-empty').waitFor();
    await page.getByLabel('Until').fill('');
    await page.getByLabel('From').fill('2001-01-01T00:00');
    await page.getByLabel('Kind').selectOption('key.updated');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.waitForURL(/since=2001/);
    await table.locator('tbody tr[data-kind="key.updated"]').first().waitFor();
  });

  step('the databases page creates and drops a database, refusing a bad name before sending', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Databases' }).click();
    await page.getByRole('heading', { name: 'Databases' }).waitFor();
    const table = page.getByTestId('databases-table');
    await table.locator('tr[data-database="default"]').waitFor();
    let sent = 0;
    const count = (r: { url(): string; method(): string }) => { if (r.url().endsWith('/api/databases') && r.method() === 'POST') sent++; };
    page.on('request', count);
    await page.getByLabel('New database').fill('Bad Name');
    await page.getByRole('button', { name: 'Create database' }).click();
    await waitForText(page.getByTestId('create-database-error'), 'starts with a lower-case letter');
    page.off('request', count);
    assert.equal(sent, 0);
    await page.getByLabel('New database').fill('reports');
    await page.getByRole('button', { name: 'Create database' }).click();
    await waitForText(page.getByTestId('databases-notice'), 'Database "reports" created.');
    await table.locator('tr[data-database="reports"]').waitFor();
    assert.ok(((await api('GET', '/api/databases', ADMIN_KEY)).body as { databases: string[] }).databases.includes('reports'));
    await screenshot(page, 'databases');

    await table.getByRole('button', { name: 'Drop reports' }).click();
    const dialog = page.getByTestId('drop-database-dialog');
    await dialog.waitFor();
    assert.equal(await dialog.getByRole('button', { name: 'Drop database' }).isDisabled(), true, 'not before the name is typed');
    await dialog.getByLabel('Type reports to confirm').fill('reports');
    await dialog.getByRole('button', { name: 'Drop database' }).click();
    await dialog.waitFor({ state: 'detached' });
    await waitForText(page.getByTestId('databases-notice'), 'Database "reports" dropped.');
    await table.locator('tr[data-database="reports"]').waitFor({ state: 'detached' });
    assert.ok(!((await api('GET', '/api/databases', ADMIN_KEY)).body as { databases: string[] }).databases.includes('reports'));
  });

  step('the collections page lists collections and pages through records', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Collections' }).click();
    await page.getByRole('heading', { name: 'Collections' }).waitFor();
    const total = SEEDED_NOTES + 1; // plus the record the key wrote
    const notes = page.getByTestId('collections-table').getByRole('row').filter({ hasText: 'notes' });
    await waitForText(notes, String(total));

    await notes.getByRole('link', { name: 'notes' }).click();
    const browserPanel = page.getByTestId('record-browser');
    await waitForText(browserPanel.getByTestId('pager-info'), `Records 1–25 of ${total}`);
    const table = browserPanel.getByTestId('records-table');
    for (const column of ['id', 'title', 'rank']) await table.getByRole('columnheader', { name: column, exact: true }).waitFor();
    await waitForText(table, 'Note 01');
    assert.equal(await table.locator('tbody tr').count(), 25);
    assert.equal(await browserPanel.getByRole('button', { name: 'Previous' }).isDisabled(), true);
    await screenshot(page, 'collections');

    await browserPanel.getByRole('button', { name: 'Next' }).click();
    await waitForText(browserPanel.getByTestId('pager-info'), `Records 26–${total} of ${total}`);
    await waitForText(table, 'From the key');
    assert.equal(await table.locator('tbody tr').count(), total - 25);
    assert.equal(await browserPanel.getByRole('button', { name: 'Next' }).isDisabled(), true);
    await browserPanel.getByRole('button', { name: 'Previous' }).click();
    await waitForText(browserPanel.getByTestId('pager-info'), 'Records 1–25');
  });

  step('the record browser sorts by a column, filters in the find language, shows the schema and exports CSV', async () => {
    const browserPanel = page.getByTestId('record-browser');
    const table = browserPanel.getByTestId('records-table');
    const firstCell = async (column: string) => {
      const headers = await table.locator('thead th').allTextContents();
      const index = headers.findIndex((text) => text.replace(/[▲▼]/g, '').trim() === column);
      return ((await table.locator('tbody tr').first().locator('td').nth(index).textContent()) ?? '').trim();
    };
    // Sort: rank ascending, then descending (the record the key wrote has rank 99).
    await table.getByRole('button', { name: 'rank', exact: true }).click();
    await page.waitForURL(/sort=rank/);
    await waitForText(table.locator('tbody tr').first(), 'Note 01');
    assert.equal(await table.getByRole('columnheader', { name: 'rank', exact: true }).getAttribute('aria-sort'), 'ascending');
    await table.getByRole('button', { name: 'rank', exact: true }).click();
    await page.waitForURL(/dir=desc/);
    await waitForText(table.locator('tbody tr').first(), 'From the key');
    assert.equal(await firstCell('rank'), '99');
    assert.equal(await table.getByRole('columnheader', { name: 'rank', exact: true }).getAttribute('aria-sort'), 'descending');

    // Filter: rank > 28 (sorted descending): 99, 30, 29.
    const filter = browserPanel.getByTestId('record-filter');
    await filter.getByLabel('Field').selectOption('rank');
    await filter.getByLabel('Operator').selectOption('Gt');
    await filter.getByLabel('Value').fill('28');
    const found = page.waitForResponse((response) => response.url().includes('/api/find/notes') && response.request().method() === 'POST');
    await filter.getByRole('button', { name: 'Filter', exact: true }).click();
    const body = JSON.parse((await found).request().postData() ?? '{}') as Record<string, unknown>;
    assert.deepEqual(body.filter, { type: 'Condition', content: { field: 'rank', operator: 'Gt', value: 28 } });
    assert.deepEqual(body.sort, [{ field: 'rank', ascending: false }]);
    await waitForText(browserPanel.getByTestId('pager-info'), 'Records 1–3');
    assert.equal(await table.locator('tbody tr').count(), 3);
    assert.deepEqual(await table.locator('tbody tr').evaluateAll((rows) => rows.map((row) => row.textContent ?? '').map((text) => /Note \d{2}|From the key/.exec(text)?.[0])), ['From the key', 'Note 30', 'Note 29']);
    await screenshot(page, 'collections-filtered');

    // The JSON form takes the whole find language: Or of two conditions.
    await filter.getByRole('button', { name: 'Edit as JSON' }).click();
    await filter.getByLabel('Filter (find language, JSON)').fill(JSON.stringify({ type: 'Logical', content: { operator: 'Or', expressions: [
      { type: 'Condition', content: { field: 'title', operator: 'Eq', value: 'Note 05' } },
      { type: 'Condition', content: { field: 'rank', operator: 'In', value: [7, 9] } },
    ] } }));
    await filter.getByRole('button', { name: 'Filter', exact: true }).click();
    await waitForText(browserPanel.getByTestId('pager-info'), 'Records 1–3');
    await waitForText(table, 'Note 05');
    await filter.getByLabel('Filter (find language, JSON)').fill('{not json');
    await filter.getByRole('button', { name: 'Filter', exact: true }).click();
    await waitForText(browserPanel.getByTestId('filter-error'), 'Enter a filter in the find language');
    // A filter the server refuses shows its error text.
    await filter.getByLabel('Filter (find language, JSON)').fill(JSON.stringify({ type: 'Condition', content: { field: 'no_such_field', operator: 'Eq', value: 1 } }));
    await filter.getByRole('button', { name: 'Filter', exact: true }).click();
    await browserPanel.getByTestId('records-error').waitFor();
    assert.ok(((await browserPanel.getByTestId('records-error').textContent()) ?? '').length > 0);

    // Back to rank > 28 for the export.
    await filter.getByLabel('Filter (find language, JSON)').fill(JSON.stringify({ type: 'Condition', content: { field: 'rank', operator: 'Gt', value: 28 } }));
    await filter.getByRole('button', { name: 'Filter', exact: true }).click();
    await waitForText(browserPanel.getByTestId('pager-info'), 'Records 1–3');

    await browserPanel.getByRole('button', { name: 'Schema' }).click();
    const schema = browserPanel.getByTestId('schema-table');
    await schema.getByRole('cell', { name: 'rank', exact: true }).waitFor();
    await schema.getByRole('cell', { name: 'title', exact: true }).waitFor();
    await waitForText(schema, /BIGINT|INTEGER|DOUBLE/);
    await screenshot(page, 'collections-schema');

    const downloaded = page.waitForEvent('download');
    await browserPanel.getByRole('button', { name: 'Export CSV' }).click();
    const file = await downloaded;
    assert.equal(file.suggestedFilename(), 'default-notes.csv');
    const csv = readFileSync((await file.path())!, 'utf8');
    const lines = csv.trimEnd().split('\r\n');
    assert.equal(lines.length, 4, `a header and the 3 matching records:\n${csv}`);
    const header = lines[0]!.split(',');
    assert.ok(header.includes('id') && header.includes('title') && header.includes('rank'), lines[0]);
    assert.ok(lines[1]!.includes('From the key') && lines[1]!.includes('99'), 'in the sort order shown');
    await waitForText(browserPanel.getByTestId('export-note'), 'Exported 3 records.');

    await filter.getByRole('button', { name: 'Clear filter' }).click();
    await waitForText(browserPanel.getByTestId('pager-info'), 'Records 1–25 of 31');
  });

  step('an empty collection says so', async () => {
    const created = await api('POST', '/api/query', ADMIN_KEY, { sql: 'CREATE TABLE empty_things (id VARCHAR PRIMARY KEY, name VARCHAR)' });
    assert.equal(created.status, 200, JSON.stringify(created.body));
    await page.goto(`${server.url}/#/collections?db=default&collection=empty_things`);
    await waitForText(page.getByTestId('records-empty'), 'No records');
  });

  step('the query page runs SQL with Ctrl+Enter and shows SQL errors', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Query' }).click();
    await page.getByRole('heading', { name: 'Query' }).waitFor();
    const editor = page.getByLabel('SQL');

    await editor.fill('SELEKT nonsense');
    await page.getByRole('button', { name: 'Run' }).click();
    await page.getByTestId('query-error').waitFor();
    assert.ok(((await page.getByTestId('query-error').textContent()) ?? '').length > 0);

    await editor.fill('SELECT 42 AS answer');
    const ran = page.waitForResponse((response) => response.url().includes('/api/query'));
    await editor.press('Control+Enter');
    assert.equal((await ran).status(), 200);
    const results = page.getByTestId('query-results');
    await results.getByRole('columnheader', { name: 'answer' }).waitFor();
    await waitForText(results.getByRole('cell'), '42');
    await waitForText(page.getByTestId('query-summary'), /^1 row · [\d.,]+ ms$/);
    assert.equal(await page.getByTestId('query-error').count(), 0);
    await screenshot(page, 'query');
  });

  step('the query page renders the first 500 rows with a notice, and the server\'s truncation signal', async () => {
    const editor = page.getByLabel('SQL');
    await editor.fill('SELECT range AS n, \'row \' || range AS label FROM range(1200)');
    const ran = page.waitForResponse((response) => response.url().includes('/api/query'));
    await page.getByRole('button', { name: 'Run' }).click();
    const response = await ran;
    assert.equal(response.status(), 200);
    const body = (await response.json()) as { result: unknown[]; truncated?: boolean };
    const truncatedByServer = body.truncated === true || response.headers()['duckgate-truncated'] !== undefined;

    const notice = page.getByTestId('query-render-notice');
    await waitForText(notice, /^Showing the first 500 of [\d.,\s]+ rows\.$/);
    const noticeText = (await notice.textContent()) ?? '';
    assert.equal(noticeText.replace(/^Showing the first 500 of /, '').replace(/\D/g, ''), String(body.result.length), 'of every row the answer holds');
    const table = page.getByTestId('query-results');
    assert.equal(await table.locator('tbody tr').count(), 500, 'only the first 500 become table rows');
    await waitForText(table, 'row 499');
    assert.equal(await table.getByRole('cell', { name: 'row 500', exact: true }).count(), 0);
    // Present whenever the server says it cut the answer short (the result budget, MAX_RESULT_ROWS here).
    assert.equal(await page.getByTestId('query-truncated').count(), truncatedByServer ? 1 : 0);
    if (truncatedByServer) await waitForText(page.getByTestId('query-truncated'), 'MAX_RESULT_ROWS');
    await screenshot(page, 'query-many-rows');
  });

  step('Cancel abandons a running statement and the page is ready for the next one', async () => {
    const editor = page.getByLabel('SQL');
    // Runs until QUERY_TIMEOUT_MS ends it on the server: far longer than this step.
    await editor.fill('SELECT sum(range) AS s FROM range(100000000000)');
    const failed = page.waitForEvent('requestfailed', (request) => request.url().includes('/api/query'));
    await page.getByRole('button', { name: 'Run' }).click();
    const cancel = page.getByTestId('query-cancel');
    await cancel.waitFor();
    assert.equal(await page.getByRole('button', { name: 'Running…' }).isDisabled(), true);
    await screenshot(page, 'query-running');
    await cancel.click();

    const aborted = await failed;
    assert.match(aborted.failure()?.errorText ?? '', /ABORTED/, 'the fetch itself was aborted');
    await waitForText(page.getByTestId('query-status'), 'Query cancelled.');
    assert.equal(await cancel.count(), 0);
    assert.equal(await page.getByRole('button', { name: 'Run' }).isEnabled(), true);
    assert.equal(await page.getByTestId('query-results').count(), 0);
    assert.equal(await page.getByTestId('query-error').count(), 0);

    await editor.fill('SELECT 7 AS seven');
    await page.getByRole('button', { name: 'Run' }).click();
    await waitForText(page.getByTestId('query-results').getByRole('cell'), '7');
  });

  step('the query page keeps its text across pages and a history of statements (never a key or the session)', async () => {
    const editor = page.getByLabel('SQL');
    await editor.fill('SELECT 1 AS kept_text');
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Status' }).click();
    await page.getByRole('heading', { name: 'Status' }).waitFor();
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Query' }).click();
    assert.equal(await page.getByLabel('SQL').inputValue(), 'SELECT 1 AS kept_text');

    const history = page.getByTestId('query-history');
    await history.locator('summary').click();
    await history.getByRole('button', { name: 'SELECT 42 AS answer' }).waitFor();
    await history.getByRole('button', { name: 'SELECT 7 AS seven' }).click();
    assert.equal(await page.getByLabel('SQL').inputValue(), 'SELECT 7 AS seven');
    // A statement holding a key is run but not kept.
    await page.getByLabel('SQL').fill(`SELECT 'dk_live_${'A'.repeat(32)}' AS secret`);
    await page.getByRole('button', { name: 'Run' }).click();
    await page.getByTestId('query-results').waitFor();
    const stored = await page.evaluate(() => JSON.stringify({ ...localStorage }));
    assert.ok(stored.includes('SELECT 42 AS answer'), 'the history is in localStorage');
    assert.ok(!stored.includes('dk_live_'), 'no key in the history');
    const token = (JSON.parse((await storedSession()) ?? '{}') as { token?: string }).token ?? '';
    assert.ok(token && !stored.includes(token), 'no session token in localStorage');
    await page.reload();
    await page.getByTestId('query-history').waitFor();
    await screenshot(page, 'query-history');
  });

  step('the status page shows health, version, uptime, counters and databases', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Status' }).click();
    await page.getByRole('heading', { name: 'Status' }).waitFor();
    await waitForText(page.getByTestId('status-health'), 'Healthy');
    const status = (await api('GET', '/status', ADMIN_KEY)).body as { version: string; counters?: Record<string, number> };
    await waitForText(page.getByTestId('status-version'), status.version);
    await waitForText(page.getByTestId('status-uptime'), /\d+ (s|min|h|days?)/);
    await waitForText(page.getByTestId('status-databases'), 'default');
    if (status.counters) await waitForText(page.getByTestId('counter-requests'), /\d/);
    await screenshot(page, 'status');
  });

  step('the status page says when the server is unreachable, and recovers when it answers again', async () => {
    // A context of its own: its failed fetches are the point, not errors of the main page.
    const other = await browser!.newContext({ viewport: { width: 1280, height: 800 } });
    const view = await other.newPage();
    view.setDefaultTimeout(15_000);
    try {
      const session = (await storedSession())!;
      // The signed-in session, in place before the dashboard's script reads it.
      await other.addInitScript(([name, value]) => sessionStorage.setItem(name!, value!), [SESSION_KEY, session]);
      await view.goto(`${server.url}/#/status`);
      await waitForText(view.getByTestId('status-health'), 'Healthy');
      await other.setOffline(true);
      await view.getByRole('button', { name: 'Refresh' }).click();
      await waitForText(view.getByTestId('status-unreachable'), 'The server is unreachable');
      await waitForText(view.getByTestId('status-health'), 'Unreachable');
      assert.equal(await view.getByText('Healthy', { exact: true }).count(), 0, 'no stale green');
      await screenshot(view, 'status-unreachable');
      await other.setOffline(false);
      await view.getByRole('button', { name: 'Refresh' }).click();
      await waitForText(view.getByTestId('status-health'), 'Healthy');
      assert.equal(await view.getByTestId('status-unreachable').count(), 0);
    } finally {
      await other.close();
    }
  });

  step('dark mode follows the system setting', async () => {
    const background = () => page.evaluate(() => getComputedStyle(document.documentElement).backgroundColor);
    await page.emulateMedia({ colorScheme: 'light' });
    const light = await background();
    await page.emulateMedia({ colorScheme: 'dark' });
    const dark = await background();
    assert.notEqual(dark, light);
    assert.equal(dark, 'rgb(15, 20, 32)');
    await screenshot(page, 'status-dark');
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Keys' }).click();
    await page.getByRole('heading', { name: 'API keys' }).waitFor();
    await screenshot(page, 'keys-dark');
    await page.emulateMedia({ colorScheme: 'light' });
    assert.equal(await background(), light);
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Status' }).click();
    await page.getByRole('heading', { name: 'Status' }).waitFor();
  });

  step('a tampered session token sends the user back to sign-in with a message', async () => {
    const original = (await storedSession()) ?? '';
    const session = JSON.parse(original) as { token: string };
    const [header, payload, signature = ''] = session.token.split('.');
    const middle = Math.floor(signature.length / 2);
    const flipped = signature[middle] === 'A' ? 'B' : 'A';
    const tampered = { ...session, token: `${header}.${payload}.${signature.slice(0, middle)}${flipped}${signature.slice(middle + 1)}` };
    await page.evaluate(([name, value]) => sessionStorage.setItem(name!, value!), [SESSION_KEY, JSON.stringify(tampered)]);

    await page.reload();
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await waitForText(page.getByTestId('signin-notice'), 'Your session has ended. Please sign in again.');
    assert.equal(await storedSession(), null, 'the tampered session is cleared');

    // Signing in again returns to the page the session ended on.
    await signIn(PASSWORD);
    await page.getByRole('heading', { name: 'Status' }).waitFor();
  });

  step('signing out ends the session on the server and shows sign-in', async () => {
    const token = (JSON.parse((await storedSession()) ?? '{}') as { token?: string }).token ?? '';
    assert.ok(token);
    assert.equal((await api('GET', '/api/auth/keys', token)).status, 200);

    const loggedOut = page.waitForResponse((response) => response.url().endsWith('/api/logout'));
    await page.getByRole('button', { name: 'Sign out' }).click();
    assert.equal((await loggedOut).status(), 200);
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await waitForText(page.getByTestId('signin-notice'), 'You have signed out.');
    assert.equal(await storedSession(), null);

    const refused = await api('GET', '/api/auth/keys', token);
    assert.equal(refused.status, 401);
    assert.equal((refused.body as { code: string }).code, 'invalid_token');

    // The pages need a session again.
    await page.goto(`${server.url}/#/keys`);
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  });

  step('repeated wrong passwords are throttled with a countdown message', async () => {
    // Three free failures per username and address, then each attempt must wait: the fourth
    // quick one is refused with 429 and Retry-After.
    let throttled = false;
    for (let attempt = 1; attempt <= 6 && !throttled; attempt++) {
      const answered = page.waitForResponse((response) => response.url().endsWith('/api/login'));
      await signIn(`wrong-password-attempt-${attempt}`);
      const response = await answered;
      throttled = response.status() === 429;
      if (!throttled) assert.equal(response.status(), 401);
      await page.getByRole('button', { name: 'Sign in' }).and(page.locator(':enabled')).waitFor();
    }
    assert.ok(throttled, 'the login throttle answered 429');
    await waitForText(page.getByRole('alert'), /^Too many attempts\. Try again in \d+ seconds?\.$/);
    await screenshot(page, 'signin-throttled');
  });

  step('the pages loaded without script errors or CSP violations', async () => {
    assert.deepEqual(problems, []);
  });
});
