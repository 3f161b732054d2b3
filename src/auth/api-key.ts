/**
 * Managed API keys (seed 002): `dk_live_` + 32 URL-safe base64 characters: 26 random ones and a
 * 6-character checksum (CRC32 of everything before it, as GitHub's tokens carry), so a mistyped
 * or invented key is refused without a store lookup and secret scanners can recognise real keys.
 * The store only ever sees `prefix` (readable, 16 characters) and `hash` (SHA-256).
 */
import { randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { sha256Hex } from './sha256.js';

export type KeyEnvironment = 'live' | 'test';

export interface GeneratedKey {
  /** The full key: shown once, then gone. */
  key: string;
  prefix: string;
  hash: string;
}

const RANDOM_LENGTH = 26;
const PREFIX_LENGTH = 16;
const KEY_PATTERN = /^dk_(live|test)_[A-Za-z0-9_-]{32}$/;

export function generateApiKey(environment: KeyEnvironment = 'live'): GeneratedKey {
  // 20 bytes → 27 base64url characters; 26 of them carry 156 bits of entropy.
  const random = randomBytes(20).toString('base64url').slice(0, RANDOM_LENGTH);
  const body = `dk_${environment}_${random}`;
  const key = `${body}${checksum(body)}`;
  return { key, prefix: keyPrefix(key), hash: hashApiKey(key) };
}

/** True when `key` has the managed format and its checksum matches. */
export function hasValidChecksum(key: string): boolean {
  if (!KEY_PATTERN.test(key)) return false;
  const body = key.slice(0, -6);
  return checksum(body) === key.slice(-6);
}

/** SHA-256, hex: keys carry 156 random bits, so a fast hash is enough (no salt, no stretching). */
export function hashApiKey(key: string): string {
  return sha256Hex(key);
}

export function keyPrefix(key: string): string {
  return key.slice(0, PREFIX_LENGTH);
}

/** CRC32 as 4 big-endian bytes in base64url: exactly 6 characters. */
function checksum(body: string): string {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(crc32(body) >>> 0);
  return bytes.toString('base64url');
}
