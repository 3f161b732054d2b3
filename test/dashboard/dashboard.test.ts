/**
 * The web dashboard in a real browser (system Chromium through playwright-core) against a real
 * server: sign-in, keys (generate, shown once, edit permissions, regenerate, revoke), collections,
 * query, status, session end and sign-out. The steps run in order and share one signed-in page,
 * as an admin would use it; each leaves a screenshot under `test-results/`.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test, type TestContext } from 'node:test';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { ADMIN_KEY, startTestServer, type TestServer } from '../helpers/server.js';
import { assertDashboardBuilt, browserUnavailable, launchChromium, screenshot, waitForText, watchPageErrors } from './browser.js';

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

  step('regenerating in the dashboard kills the old key and shows the new one once', async () => {
    await keyRow(KEY_LABEL).getByRole('button', { name: 'Regenerate' }).click();
    const confirm = page.getByTestId('confirm-dialog');
    await waitForText(confirm, 'Regenerate key?');
    // Cancel is where the focus starts: Enter on a stray keypress changes nothing.
    assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Cancel');
    await confirm.getByRole('button', { name: 'Regenerate key' }).click();

    const reveal = page.getByTestId('key-reveal');
    await reveal.waitFor();
    regeneratedKey = ((await reveal.getByTestId('new-key').textContent()) ?? '').trim();
    assert.match(regeneratedKey, KEY_PATTERN);
    assert.notEqual(regeneratedKey, issuedKey);
    await reveal.getByRole('button', { name: 'Done' }).click();
    await reveal.waitFor({ state: 'detached' });
    await waitForText(keyRow(KEY_LABEL), regeneratedKey.slice(0, 16));
    await assertKeyNowhere(regeneratedKey, 'after Done');

    assert.equal((await api('GET', '/api/find/notes', issuedKey)).status, 401);
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
