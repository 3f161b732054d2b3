/**
 * Seals source passwords (issue 15) at rest: AES-256-GCM under a key derived with HKDF-SHA256 from
 * a random secret kept in DATA_DIR (`source-secret`, 0600), generated at first use like the JWT
 * secret. The control store (which may be a shared PostgreSQL) only ever holds ciphertext; whoever
 * reads it without DATA_DIR's secret learns nothing. Deleting the secret file makes every stored
 * password unreadable (each source must then be set again).
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { chmodSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const FILE = 'source-secret';
const SECRET_BYTES = 32;
const IV_BYTES = 12;
const VERSION = 'v1';
/** HKDF's `info`: the key is for this one purpose, whatever else the secret might one day feed. */
const INFO = 'duckgate source password v1';

export class SourceSecret {
  private constructor(private readonly key: Buffer) {}

  /** Reads DATA_DIR's secret, creating it (0600) when missing. */
  static load(dataDir: string): SourceSecret {
    return new SourceSecret(Buffer.from(hkdfSync('sha256', readOrCreateSecret(dataDir), Buffer.alloc(0), INFO, 32)));
  }

  seal(plaintext: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return [VERSION, iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), body.toString('base64url')].join('.');
  }

  /** Throws when the text was not sealed under this secret (or was altered). */
  open(sealed: string): string {
    const [version, iv, tag, body] = sealed.split('.');
    if (version !== VERSION || iv === undefined || tag === undefined || body === undefined) throw new Error('Sealed source password has an unknown format');
    const decipher = createDecipheriv('aes-256-gcm', this.key, Buffer.from(iv, 'base64url'));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString('utf8');
  }
}

function readOrCreateSecret(dataDir: string): Buffer {
  const file = path.join(dataDir, FILE);
  try {
    const secret = Buffer.from(readFileSync(file, 'utf8').trim(), 'base64url');
    if (secret.length < SECRET_BYTES) throw new Error(`${file} holds fewer than ${SECRET_BYTES} bytes; stored source passwords cannot be read without the original`);
    if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600);
    return secret;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const secret = randomBytes(SECRET_BYTES);
  try {
    // `wx`: a CLI command may have created it meanwhile; use that one, never overwrite it.
    writeFileSync(file, `${secret.toString('base64url')}\n`, { mode: 0o600, flag: 'wx' });
    chmodSync(file, 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return readOrCreateSecret(dataDir);
    throw error;
  }
  return secret;
}
