/** `ensureAdminAccount`: a password changed through ADMIN_PASSWORD is audited like any password change (issue 18). */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import { ensureAdminAccount } from '../../src/auth/admin-login.js';
import { SqliteAccountStore } from '../../src/store/sqlite-accounts.js';
import { SqliteAuditStore } from '../../src/store/sqlite-audit.js';
import { tempDir } from '../helpers/server.js';

const dir = tempDir('duckgate-admin-account-');
after(() => rmSync(dir, { recursive: true, force: true }));

test('a new ADMIN_PASSWORD is recorded as admin.password by config, with the change; the same one again is not', async () => {
  const file = path.join(dir, 'control.sqlite');
  const accounts = new SqliteAccountStore(file);
  const audit = new SqliteAuditStore(file);
  try {
    const passwordChanges = async () => (await audit.query({ limit: 10, kinds: ['admin.password'] })).map((e) => `${e.actor} ${e.target} ${JSON.stringify(e.details)}`);
    await ensureAdminAccount(accounts, 'admin', 'the-first-admin-password');
    const first = await accounts.getAccount('admin');
    assert.deepEqual(await passwordChanges(), ['config user:admin {"source":"ADMIN_PASSWORD"}']);

    await ensureAdminAccount(accounts, 'admin', 'the-first-admin-password');
    assert.equal((await accounts.getAccount('admin'))?.generation, first?.generation, 'unchanged password, no change');
    assert.equal((await passwordChanges()).length, 1);

    await ensureAdminAccount(accounts, 'admin', 'the-second-admin-password');
    assert.equal((await accounts.getAccount('admin'))?.generation, (first?.generation ?? 0) + 1);
    assert.equal((await passwordChanges()).length, 2);
  } finally {
    await accounts.close();
    await audit.close();
  }
});
