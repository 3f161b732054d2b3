/**
 * Issue 11, defect 7: route access is decided from the method, route, path and query, before a
 * byte of the body is read. Only routes whose target is in the body (`POST /v1/sync`) and the
 * routes that take their credential from the body wait for it.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { createKey } from '../helpers/keys.js';

describe('a denied request is refused before its body is read', () => {
  let server: TestServer;
  let readOnly: string;
  before(async () => {
    server = await startTestServer({ BODY_LIMIT: '20mb' });
    await server.request({ method: 'POST', url: '/api/insert/users', payload: { id: 'ada', name: 'Ada' } });
    await server.request({ method: 'POST', url: '/api/databases', payload: { name: 'venue2' } });
    readOnly = (await createKey(server, { collection_permissions: { users: ['read'] } })).key;
  });
  after(async () => server.stop());

  const post = (url: string, key: string, body: string) =>
    server.request({ method: 'POST', url, key, headers: { 'content-type': 'application/json' }, payload: body });

  test('a read-only key posting malformed JSON to insert gets 403, not 400 invalid_json', async () => {
    const res = await post('/api/insert/users', readOnly, '{"name": ');
    assert.equal(res.statusCode, 403, res.body);
    assert.deepEqual(res.json(), { error: 'No write permission for collection users', code: 'forbidden' });
  });

  test('a non-admin posting to /api/databases gets 403 whatever the body', async () => {
    for (const body of ['{"name": ', '{"name": "x", "extra": true}', '{}']) {
      const res = await post('/api/databases', readOnly, body);
      assert.equal(res.statusCode, 403, `${body}: ${res.body}`);
      assert.equal(res.json().error, 'Admin access required');
    }
  });

  test('a database the key cannot see is 404 before the body', async () => {
    const res = await post('/api/insert/menu?db=venue2', readOnly, '{"name": ');
    assert.equal(res.statusCode, 404, res.body);
    const sync = await post('/v1/sync?db=venue2', readOnly, '{"menu": ');
    assert.equal(sync.statusCode, 404, sync.body);
  });

  test('a request the key may make still gets its body parsed and checked', async () => {
    const { key } = await createKey(server, { collection_permissions: { users: ['read', 'write'] } });
    const res = await post('/api/insert/users', key, '{"name": ');
    assert.equal(res.statusCode, 400);
    assert.equal(res.json().code, 'invalid_json');
    // Sync names its collections in the body, so it must read the body first.
    assert.equal((await post('/v1/sync', readOnly, '{"users": [{"externalId": "x"}]}')).statusCode, 403);
    assert.equal((await post('/v1/sync', readOnly, '{"users": ')).json().code, 'invalid_json');
  });

  test('on a real socket, a 403 arrives while a 10 MB body is still unsent', async () => {
    const url = new URL(server.url);
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(url.port), url.hostname);
      let received = '';
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`no answer before the body was complete; got: ${JSON.stringify(received)}`));
      }, 3000);
      socket.on('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
      socket.on('data', (chunk) => {
        received += chunk.toString('latin1');
        if (received.includes('\r\n\r\n') && received.includes('}')) {
          clearTimeout(timer);
          socket.destroy();
          resolve(received);
        }
      });
      socket.write([
        'POST /api/insert/users HTTP/1.1',
        `Host: ${url.host}`,
        `x-api-key: ${readOnly}`,
        'Content-Type: application/json',
        `Content-Length: ${10 * 1024 * 1024}`,
        '',
        '{"name": "',
      ].join('\r\n'));
      // The rest of the body never comes: only an answer decided without it can arrive.
    });
    assert.match(answer, /^HTTP\/1\.1 403 /);
    assert.match(answer, /No write permission for collection users/);
  });
});
