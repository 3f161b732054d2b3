/**
 * A separate process for the last-admin race: opens the control store, waits for a shared start
 * time (so every process acts at the same moment), revokes one admin key through `KeyService` as
 * the CLI would, and prints the outcome as one JSON line.
 * Usage: node --import tsx revoke-admin.ts <store config as JSON> <key_id> <start time, ms since epoch>
 */
import { KeyService } from '../../../src/auth/key-service.js';
import { isApiError } from '../../../src/errors.js';
import { openControlStore } from '../../../src/store/index.js';

const [config, keyId, startAt] = process.argv.slice(2);
const store = await openControlStore(JSON.parse(config!) as { dataDir: string; storeUrl?: string });
const service = new KeyService(store.keys, { environmentAdminKeys: 0 });
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
