/**
 * The HS256 secret: `JWT_SECRET` when set, otherwise one generated at first start and kept in
 * DATA_DIR with mode 0600, so tokens survive restarts without an operator choosing a secret.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const FILE = 'jwt-secret';
const MIN_BYTES = 32;

export function loadJwtSecret(configured: string | undefined, dataDir: string): Uint8Array {
  if (configured !== undefined) return new TextEncoder().encode(configured);
  const file = path.join(dataDir, FILE);
  try {
    const secret = readFileSync(file, 'utf8').trim();
    if (Buffer.byteLength(secret) < MIN_BYTES) throw new Error(`${file} holds fewer than ${MIN_BYTES} bytes; delete it to generate a new secret`);
    if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600);
    return new TextEncoder().encode(secret);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const secret = randomBytes(48).toString('base64url');
  try {
    // `wx`: if another process (a CLI command) created it meanwhile, use its secret, never overwrite it.
    writeFileSync(file, `${secret}\n`, { mode: 0o600, flag: 'wx' });
    chmodSync(file, 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return loadJwtSecret(undefined, dataDir);
    throw error;
  }
  return new TextEncoder().encode(secret);
}
