/**
 * Proof of freshness with the record cache on (issue 17 item 3): concurrent writers and readers on
 * a few hot ids over a real listening server, over HTTP and /ws. One writer per id moves it through
 * every write path (PUT update, SQL UPDATE over HTTP and over /ws, batch update, sync, deletes by
 * route, SQL and batch, inserts by route and batch), each write setting `v` to the id's next version
 * and recorded with its start and acknowledgement times. Readers record each point read (HTTP, cached)
 * and each /ws SQL read with its start and end. The check: no read that began after a write was
 * acknowledged returns an older state (an older version, or the record's absence from before it).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIN_KEY, CLIENT_KEY, startTestServer } from '../helpers/server.js';
import { DucklingWire } from '../helpers/duckling.js';

interface Write { id: string; version: number; exists: boolean; path: string; start: number; end: number }
interface Read { id: string; version: number | null; via: string; start: number; end: number }

const IDS = ['h0', 'h1', 'h2', 'h3'];
/** At least this long, and until every write path was taken (a loaded machine writes slowly), at most MAX_RUN_MS. */
const RUN_MS = 4000;
const MAX_RUN_MS = 60_000;

test('freshness: no read that began after a write was acknowledged returns an older state, on every write path', async (t) => {
  const server = await startTestServer();
  t.after(() => server.stop());
  const base = server.url;
  const call = async (method: string, path: string, body: unknown, key = ADMIN_KEY): Promise<{ status: number; json: unknown }> => {
    const response = await fetch(`${base}${path}`, {
      method,
      headers: { 'x-api-key': key, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: response.status, json: await response.json() };
  };
  const ok = async (method: string, path: string, body: unknown): Promise<void> => {
    const { status, json } = await call(method, path, body);
    if (status >= 300) throw new Error(`${method} ${path} answered ${status}: ${JSON.stringify(json)}`);
  };

  for (const id of IDS) await ok('POST', '/api/insert/hot', { id, v: 0, externalId: id });
  const writes: Write[] = IDS.map((id) => ({ id, version: 0, exists: true, path: 'seed', start: 0, end: 0 }));
  const reads: Read[] = [];
  const adminWs = (await DucklingWire.connect(base, ADMIN_KEY)).wire;
  const readerWs = (await DucklingWire.connect(base, CLIENT_KEY)).wire;
  t.after(() => {
    adminWs.close();
    readerWs.close();
  });
  const wsOk = async (sql: string, params: unknown[]): Promise<void> => {
    const answer = await adminWs.query(sql, params);
    if (!answer.success) throw new Error(`/ws ${sql}: ${answer.error}`);
  };

  const updates: [string, (id: string, v: number) => Promise<void>][] = [
    ['PUT update', (id, v) => ok('PUT', `/api/update/hot/${id}`, { v })],
    ['SQL UPDATE', (id, v) => ok('POST', '/api/query', { sql: 'UPDATE hot SET v = $1 WHERE id = $2', params: [v, id] })],
    ['/ws SQL UPDATE', (id, v) => wsOk('UPDATE hot SET v = $1 WHERE id = $2', [v, id])],
    ['batch update', (id, v) => ok('PUT', '/api/batch/update/hot', { updates: [{ id, data: { v } }] })],
    ['sync', (id, v) => ok('POST', '/v1/sync', { hot: [{ externalId: id, v }] })],
  ];
  const deletes: [string, (id: string) => Promise<void>][] = [
    ['DELETE', (id) => ok('DELETE', `/api/delete/hot/${id}`, undefined)],
    ['SQL DELETE', (id) => ok('POST', '/api/query', { sql: 'DELETE FROM hot WHERE id = $1', params: [id] })],
    ['batch delete', (id) => ok('DELETE', '/api/batch/delete/hot', { deletes: [{ id }] })],
  ];
  const inserts: [string, (id: string, v: number) => Promise<void>][] = [
    ['insert', (id, v) => ok('POST', '/api/insert/hot', { id, v, externalId: id })],
    ['batch insert', (id, v) => ok('POST', '/api/batch/insert/hot', { inserts: [{ data: { id, v, externalId: id } }] })],
  ];

  const started = performance.now();
  const allPaths = [...updates, ...deletes, ...inserts].map(([name]) => name);
  const taken = new Set<string>();
  let writersDone = false;
  const writing = (): boolean => {
    const elapsed = performance.now() - started;
    return elapsed < MAX_RUN_MS && (elapsed < RUN_MS || taken.size < allPaths.length);
  };
  let turn = 0;
  const writer = async (id: string): Promise<void> => {
    let version = 0;
    let exists = true;
    while (writing()) {
      version++;
      turn++;
      const start = performance.now();
      let path: string;
      if (exists && turn % 7 === 0) {
        const [name, run] = deletes[turn % deletes.length]!;
        path = name;
        await run(id);
        exists = false;
      } else if (!exists) {
        const [name, run] = inserts[turn % inserts.length]!;
        path = name;
        await run(id, version);
        exists = true;
      } else {
        const [name, run] = updates[turn % updates.length]!;
        path = name;
        await run(id, version);
      }
      writes.push({ id, version, exists, path, start, end: performance.now() });
      taken.add(path);
      // Another client reads right after the acknowledgement, twice (the second is usually a hit).
      await readOnce(id, 'HTTP after write');
      await readOnce(id, 'HTTP after write');
    }
  };
  const readOnce = async (id: string, via: string): Promise<void> => {
    const start = performance.now();
    const { status, json } = await call('GET', `/api/find/hot/${id}`, undefined, CLIENT_KEY);
    const end = performance.now();
    if (status !== 200 && status !== 404) throw new Error(`read ${id} answered ${status}`);
    reads.push({ id, version: status === 404 ? null : (json as { v: number }).v, via, start, end });
  };
  const httpReader = async (): Promise<void> => {
    let n = 0;
    while (!writersDone) await readOnce(IDS[n++ % IDS.length]!, 'HTTP');
  };
  const wsReader = async (): Promise<void> => {
    let n = 0;
    while (!writersDone) {
      const id = IDS[n++ % IDS.length]!;
      const start = performance.now();
      const answer = await readerWs.query('SELECT v FROM hot WHERE id = $1', [id]);
      const end = performance.now();
      if (!answer.success) throw new Error(`/ws read ${id}: ${answer.error}`);
      reads.push({ id, version: answer.result!.length === 0 ? null : (answer.result![0] as { v: number }).v, via: '/ws', start, end });
    }
  };
  const writers = Promise.all(IDS.map(writer)).finally(() => {
    writersDone = true;
  });
  await Promise.all([writers, ...Array.from({ length: 6 }, httpReader), wsReader(), wsReader()]);

  // The check.
  const stale: string[] = [];
  for (const read of reads) {
    const ofId = writes.filter((w) => w.id === read.id);
    const acknowledged = ofId.filter((w) => w.end < read.start);
    const floor = Math.max(...acknowledged.map((w) => w.version));
    const possible = ofId.filter((w) => w.version >= floor && w.start < read.end);
    const matches = possible.some((w) => (read.version === null ? !w.exists : w.exists && w.version === read.version));
    if (!matches) {
      const last = ofId.find((w) => w.version === floor)!;
      stale.push(`${read.via} read of ${read.id} began ${(read.start - last.end).toFixed(2)} ms after ${last.path} v${floor} was acknowledged, got ${read.version === null ? 'absent' : `v${read.version}`}`);
    }
  }
  assert.deepEqual(stale.slice(0, 10), [], `${stale.length} stale reads of ${reads.length}`);

  // The run meant something: every path was taken, reads overlapped writes, and the cache answered.
  const paths = new Set(writes.map((w) => w.path));
  for (const [name] of [...updates, ...deletes, ...inserts]) assert.ok(paths.has(name), `write path ${name} was taken`);
  assert.ok(reads.filter((r) => r.via.startsWith('HTTP')).length > 50, `HTTP reads: ${reads.length}`);
  assert.ok(reads.filter((r) => r.via === '/ws').length > 10);
  assert.ok(reads.some((r) => r.version !== null && r.version > 0), 'reads saw writes');
  const metrics = await (await fetch(`${base}/metrics`, { headers: { 'x-api-key': ADMIN_KEY } })).text();
  const hits = Number(/^record_cache_hits_total (\d+)/m.exec(metrics)?.[1] ?? 0);
  assert.ok(hits > 10, `record cache hits: ${hits}`);
  t.diagnostic(`${writes.length} writes, ${reads.length} reads, ${hits} cache hits, 0 stale`);
});
