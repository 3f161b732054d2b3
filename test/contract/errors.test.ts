/**
 * The closed error catalogue (issue 12 item 5): every code the server can answer is in
 * `src/contract/errors.ts` with its status, the README's table is generated from it, and nothing in
 * `src/` writes a code (or a status for it) that the catalogue does not have.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { ERROR_CATALOGUE, isErrorCode, renderErrorsTable } from '../../src/contract/errors.js';
import { README, withErrorsTable } from '../../scripts/docs-errors.js';
import { REPO_ROOT } from '../dashboard/browser.js';

/** Server code: everything in src/ but the client library and the dashboard (which answer no HTTP errors). */
function serverFiles(dir = path.join(REPO_ROOT, 'src')): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) return name === 'client' || name === 'dashboard' ? [] : serverFiles(full);
    return full.endsWith('.ts') ? [full] : [];
  });
}

/** `code: 'x'` strings that are not error codes: the auth-attempt metric's success label. */
const NOT_ERRORS = new Set(['auth-events.ts:ok', 'metrics.ts:ok']);

describe('the error catalogue', () => {
  const files = serverFiles().map((file) => ({ name: path.relative(REPO_ROOT, file), text: readFileSync(file, 'utf8') }));

  test('every error construction in src/ uses a catalogue code with its status', () => {
    const seen = new Set<string>();
    const problems: string[] = [];
    for (const { name, text } of files) {
      // new ApiError(400, 'code' …), the Node parser's [431, 'code', …] answers, badRequest('code' …)
      for (const match of text.matchAll(/(?:ApiError\(|\[)\s*(\d{3}),\s*'([a-z_]+)'/g)) {
        const [, status, code] = match as unknown as [string, string, string];
        seen.add(code);
        if (!isErrorCode(code)) problems.push(`${name}: ${code} is not in the catalogue`);
        else if (ERROR_CATALOGUE[code].status !== Number(status)) problems.push(`${name}: ${code} with ${status}, catalogue says ${ERROR_CATALOGUE[code].status}`);
      }
      for (const match of text.matchAll(/badRequest\(\s*'([a-z_]+)'/g)) {
        const code = match[1]!;
        seen.add(code);
        if (!isErrorCode(code)) problems.push(`${name}: ${code} is not in the catalogue`);
        else if (ERROR_CATALOGUE[code].status !== 400) problems.push(`${name}: badRequest('${code}') but the catalogue says ${ERROR_CATALOGUE[code].status}`);
      }
      for (const match of text.matchAll(/code: '([a-z_]+)'/g)) {
        const code = match[1]!;
        if (NOT_ERRORS.has(`${path.basename(name)}:${code}`)) continue;
        seen.add(code);
        if (!isErrorCode(code)) problems.push(`${name}: code '${code}' is not in the catalogue`);
      }
    }
    assert.deepEqual(problems, []);
    // The scan sees real constructions (a broken pattern would pass vacuously).
    for (const code of ['missing_api_key', 'invalid_json', 'invalid_msgpack', 'headers_too_large', 'unsupported_option', 'not_found']) assert.ok(seen.has(code), code);
  });

  test('every catalogue code is one some code path can produce', () => {
    const all = files.map((f) => f.text).join('\n');
    const unused = Object.keys(ERROR_CATALOGUE).filter((code) => code !== 'validation_failed' && !all.includes(`'${code}'`));
    assert.deepEqual(unused, []);
  });

  test('the README Errors table is the generated one (npm run docs:errors)', () => {
    const readme = readFileSync(README, 'utf8');
    assert.equal(withErrorsTable(readme), readme, 'README.md is out of date: run `npm run docs:errors`');
    assert.ok(readme.includes(renderErrorsTable()));
    for (const code of Object.keys(ERROR_CATALOGUE)) assert.ok(readme.includes(`| \`${code}\` |`), code);
  });
});
