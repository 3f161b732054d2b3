/**
 * CORS from a real browser (issue 12 item 4): a page served from a second origin calls duckgate
 * with a key in `x-api-key`, which makes Chromium send a preflight `OPTIONS` first (without the
 * key). With that origin in CORS_ORIGINS the preflight is answered before authentication and the
 * call goes through, and the page can read the exposed `RateLimit-*` and `Duckgate-Truncated`
 * headers; from an origin not in the list the browser refuses the answer.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { ADMIN_KEY, startTestServer, type TestServer } from '../helpers/server.js';
import { browserUnavailable, launchChromium } from './browser.js';

describe('CORS preflight from a real browser origin', () => {
  const skipReason = browserUnavailable();
  let api: TestServer;
  let site: Server;
  let sitePort = 0;
  let browser: Browser | undefined;

  before(async () => {
    if (skipReason) return;
    // The second origin: a plain page, nothing else.
    site = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<!doctype html><title>other origin</title><p>other origin</p>');
    });
    await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', resolve));
    sitePort = (site.address() as AddressInfo).port;
    api = await startTestServer({ CORS_ORIGINS: `http://127.0.0.1:${sitePort}`, API_RATE_LIMIT: '1000', MAX_RESULT_ROWS: '2' });
    for (const n of [1, 2, 3]) await api.request({ method: 'POST', url: '/api/insert/cors_notes', payload: { n } });
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    if (skipReason) return;
    await api.stop();
    await new Promise<void>((resolve) => site.close(() => resolve()));
  });

  /** Opens a page on `origin` and runs a cross-origin fetch to duckgate from it. */
  const fetchFrom = async (origin: string) => {
    const page = await browser!.newPage();
    try {
      await page.goto(`${origin}/`);
      return await page.evaluate(async ({ url, key }) => {
        try {
          const res = await fetch(url, { method: 'POST', headers: { 'x-api-key': key, 'content-type': 'application/json' }, body: JSON.stringify({ limit: 10 }) });
          return {
            ok: true, status: res.status, rows: (await res.json()) as unknown[],
            limit: res.headers.get('RateLimit-Limit'), remaining: res.headers.get('RateLimit-Remaining'), truncated: res.headers.get('Duckgate-Truncated'),
          };
        } catch (error) {
          return { ok: false, error: String(error) };
        }
      }, { url: `${api.url}/api/find/cors_notes`, key: ADMIN_KEY });
    } finally {
      await page.close();
    }
  };

  test('an allowed origin: preflight, then the keyed call, with the exposed headers readable', { skip: skipReason }, async () => {
    const result = await fetchFrom(`http://127.0.0.1:${sitePort}`);
    assert.equal(result.ok, true, JSON.stringify(result));
    assert.equal(result.status, 200);
    assert.equal(result.rows?.length, 2);
    assert.equal(result.limit, '1000');
    assert.ok(Number(result.remaining) < 1000);
    assert.equal(result.truncated, 'rows');
  });

  test('an origin not in CORS_ORIGINS: the browser refuses the answer', { skip: skipReason }, async () => {
    // Same page server, other host name: another origin, not listed.
    const result = await fetchFrom(`http://localhost:${sitePort}`);
    assert.equal(result.ok, false, JSON.stringify(result));
    assert.match(String(result.error), /Failed to fetch/);
  });
});
