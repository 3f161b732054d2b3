/**
 * A separate process for the last-admin race: opens the control store, waits for a shared start
 * time (so every process acts at the same moment), revokes one admin key through `KeyService` as
 * the CLI would, and prints the outcome as one JSON line.
 * Usage: node --import tsx revoke-admin.ts <control.sqlite> <key_id> <start time, ms since epoch>
 */
import { KeyService } from '../../../src/auth/key-service.js';
import { isApiError } from '../../../src/errors.js';
import { SqliteKeyStore } from '../../../src/store/sqlite.js';

const [file, keyId, startAt] = process.argv.slice(2);
const store = new SqliteKeyStore(file!);
const service = new KeyService(store, { environmentAdminKeys: 0 });
while (Date.now() < Number(startAt)) await new Promise((resolve) => setTimeout(resolve, 1));
let outcome: string;
try {
  await service.revoke(keyId!, 'race');
  outcome = 'revoked';
} catch (error) {
  if (!isApiError(error)) throw error;
  outcome = `${error.status} ${error.code}`;
}
await store.close();
process.stdout.write(`${JSON.stringify({ keyId, outcome })}\n`);
