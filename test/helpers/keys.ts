/** Creating managed keys through the real API, for tests. */
import assert from 'node:assert/strict';
import type { TestServer } from './server.js';

export interface CreatedKey {
  key: string;
  key_id: string;
  prefix: string;
}

export async function createKey(server: TestServer, body: Record<string, unknown>, fromIp?: string): Promise<CreatedKey> {
  const res = await server.request({
    method: 'POST', url: '/api/auth/register', payload: { label: 'test key', ...body }, ...(fromIp ? { remoteAddress: fromIp } : {}),
  });
  assert.equal(res.statusCode, 201, res.body);
  return res.json() as CreatedKey;
}

export function as(server: TestServer, key: string) {
  return (method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, payload?: unknown) =>
    server.request({ method, url, key, ...(payload === undefined ? {} : { payload: payload as object }) });
}
