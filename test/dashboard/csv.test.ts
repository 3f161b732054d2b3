/** The record browser's CSV: RFC 4180 quoting, JSON for nested values, and no formula injection. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { csvCell, toCsv } from '../../src/dashboard/csv.js';

test('fields with commas, quotes or line breaks are quoted, quotes doubled; lines end in CRLF', () => {
  const csv = toCsv(['id', 'text'], [
    { id: 'a', text: 'plain' },
    { id: 'b', text: 'one, two' },
    { id: 'c', text: 'say "hi"' },
    { id: 'd', text: 'line\nbreak' },
  ]);
  assert.equal(csv, 'id,text\r\na,plain\r\nb,"one, two"\r\nc,"say ""hi"""\r\nd,"line\nbreak"\r\n');
});

test('null and missing are empty, numbers and booleans as written, objects and arrays as JSON', () => {
  const csv = toCsv(['n', 'b', 'nil', 'missing', 'obj', 'list'], [{ n: -5, b: false, nil: null, obj: { a: 1 }, list: [1, 'x'] }]);
  assert.equal(csv, 'n,b,nil,missing,obj,list\r\n-5,false,,,"{""a"":1}","[1,""x""]"\r\n');
});

test('text that a spreadsheet would run as a formula gets a leading apostrophe; numbers do not', () => {
  for (const text of ['=1+2', '+SUM(A1)', '-2+3', '@cmd', '\tx', '\rx']) {
    assert.ok(csvCell(text).replace(/^"/, '').startsWith(`'${text[0]}`), `${JSON.stringify(text)} → ${csvCell(text)}`);
  }
  assert.equal(csvCell('=HYPERLINK("http://x")'), `"'=HYPERLINK(""http://x"")"`);
  assert.equal(csvCell(-42), '-42');
  assert.equal(csvCell('plain = fine'), 'plain = fine');
});
