/**
 * SHA-256 of a credential, on every authenticated request (environment keys are compared by
 * digest, managed keys looked up by it). Node's one-shot `crypto.hash` (20.12+) skips the Hash
 * object, its stream machinery and the update/digest round trips of `createHash`; older Node 20
 * releases fall back to `createHash`, with the same digest.
 */
import crypto from 'node:crypto';

type OneShot = (algorithm: string, data: string, outputEncoding: 'buffer' | 'hex') => Buffer | string;
const oneShot = (crypto as { hash?: OneShot }).hash;

/** The digest's 32 bytes. */
export function sha256(value: string): Buffer {
  return oneShot !== undefined ? oneShot('sha256', value, 'buffer') as Buffer : crypto.createHash('sha256').update(value, 'utf8').digest();
}

/** The digest in lowercase hex. */
export function sha256Hex(value: string): string {
  return oneShot !== undefined ? oneShot('sha256', value, 'hex') as string : crypto.createHash('sha256').update(value, 'utf8').digest('hex');
}
