import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startTestServer, tempDir, type TestServer } from '../helpers/server.js';
import { createKey } from '../helpers/keys.js';
import { CachedEngine } from '../../src/data/record-cache.js';

const promtool = spawnSync('promtool', ['--version']).status === 0;

describe('operations', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(async () => server.stop());

  test('/health is healthy while every database answers', async () => {
    const res = await server.request({ method: 'GET', url: '/health' });
    assert.equal(res.statusCode, 200);
    assert.equal(res.json().status, 'healthy');
    assert.deepEqual(res.json().databases, { default: 'ok' });
    assert.ok(!Number.isNaN(Date.parse(res.json().timestamp)));
  });

  test('/status gives uptime, memory, version and databases', async () => {
    const body = (await server.request({ method: 'GET', url: '/status' })).json();
    assert.equal(typeof body.uptime, 'number');
    assert.equal(typeof body.memory.rss, 'number');
    assert.match(body.version, /^\d+\.\d+\.\d+/);
    assert.deepEqual(body.databases, ['default']);
  });

  test('/health and /status list only the databases the caller can see; admins all (issue 11, defect 3)', async () => {
    for (const name of ['tenant_a', 'tenant_b']) {
      assert.equal((await server.request({ method: 'POST', url: '/api/databases', payload: { name } })).statusCode, 201);
    }
    const { key } = await createKey(server, { collection_permissions: { 'tenant_a.*': ['read'] } });
    const health = await server.request({ method: 'GET', url: '/health', key });
    assert.equal(health.statusCode, 200);
    assert.deepEqual(health.json().databases, { tenant_a: 'ok' });
    assert.deepEqual((await server.request({ method: 'GET', url: '/status', key })).json().databases, ['tenant_a']);
    assert.deepEqual((await server.request({ method: 'GET', url: '/api/databases', key })).json().databases, ['tenant_a'], 'the same list as /api/databases');
    assert.deepEqual(Object.keys((await server.request({ method: 'GET', url: '/health' })).json().databases), ['default', 'tenant_a', 'tenant_b']);
    assert.deepEqual((await server.request({ method: 'GET', url: '/status' })).json().databases, ['default', 'tenant_a', 'tenant_b']);
    for (const name of ['tenant_a', 'tenant_b']) await server.request({ method: 'DELETE', url: `/api/databases/${name}` });
  });

  test('/metrics counts requests by route pattern and status', async () => {
    await server.request({ method: 'GET', url: '/api/collections' });
    const res = await server.request({ method: 'GET', url: '/metrics' });
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /^text\/plain/);
    assert.match(res.body, /http_request_duration_seconds_count\{method="GET",route="\/api\/collections",status_code="200"\} \d+/);
    const json = (await server.request({ method: 'GET', url: '/metrics?format=json' })).json();
    assert.ok(json.some((m: { name: string }) => m.name === 'http_request_duration_seconds'));
  });

  test('/metrics passes promtool check metrics', { skip: promtool ? false : 'promtool not installed (Debian package prometheus; .ci/run installs it)' }, async () => {
    await server.request({ method: 'GET', url: '/health', key: null });
    const text = (await server.request({ method: 'GET', url: '/metrics' })).body;
    const file = path.join(tempDir(), 'metrics.txt');
    writeFileSync(file, text);
    const check = spawnSync('sh', ['-c', `promtool check metrics < ${file}`], { encoding: 'utf8' });
    assert.equal(check.status, 0, `${check.stdout}${check.stderr}`);
  });
});

test("/health's status covers the databases the caller can see, not another tenant's", async () => {
  const server = await startTestServer();
  try {
    for (const name of ['tenant_a', 'tenant_b']) await server.request({ method: 'POST', url: '/api/databases', payload: { name } });
    const { key } = await createKey(server, { collection_permissions: { 'tenant_a.*': ['read'] } });
    // A database that cannot answer, as after a fatal DuckDB error.
    // The DuckDB database itself, under the record cache's decorator.
    const engine = server.engine instanceof CachedEngine ? server.engine.inner : server.engine;
    await (engine.database('tenant_b') as unknown as { close(): Promise<void> }).close();
    const admin = await server.request({ method: 'GET', url: '/health' });
    assert.equal(admin.statusCode, 503);
    assert.equal(admin.json().databases.tenant_b, 'error');
    const tenant = await server.request({ method: 'GET', url: '/health', key });
    assert.equal(tenant.statusCode, 200, tenant.body);
    assert.deepEqual(tenant.json(), { status: 'healthy', timestamp: tenant.json().timestamp, databases: { tenant_a: 'ok' } });
  } finally {
    await server.stop();
  }
});

test('/health answers 503 unhealthy when the engine cannot answer', async () => {
  const server = await startTestServer();
  try {
    // A closed engine is what an operator would see after a fatal DuckDB error.
    await server.engine.close();
    const res = await server.request({ method: 'GET', url: '/health' });
    assert.equal(res.statusCode, 503, res.body);
    assert.equal(res.json().status, 'unhealthy');
    assert.equal(res.json().databases.default, 'error');
  } finally {
    await server.stop();
  }
});
