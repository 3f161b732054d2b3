/**
 * Admin passwords: argon2id through `@node-rs/argon2` at OWASP's floor (m = 19 MiB, t = 2, p = 1),
 * so a stolen store costs an attacker ≈ 30 ms of one core and 19 MiB per guess. Only the PHC
 * string is ever kept. Hashing runs on libuv's pool, off the event loop.
 */
import { randomBytes } from 'node:crypto';
import { Algorithm, hash, verify } from '@node-rs/argon2';

export { MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH, passwordProblem } from './password-policy.js';

export const PASSWORD_HASH_OPTIONS = { algorithm: Algorithm.Argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

export function hashPassword(password: string): Promise<string> {
  return hash(password, PASSWORD_HASH_OPTIONS);
}

/** True when `password` matches `passwordHash`; false (never a throw) for a malformed hash. */
export async function verifyPassword(passwordHash: string, password: string): Promise<boolean> {
  try {
    return await verify(passwordHash, password);
  } catch {
    return false;
  }
}

/** 24 URL-safe characters: 144 random bits. */
export function generatePassword(): string {
  return randomBytes(18).toString('base64url');
}
