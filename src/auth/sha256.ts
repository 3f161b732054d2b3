/**
 * SHA-256 of a credential, on every authenticated request (environment keys are compared by
 * digest with `crypto.timingSafeEqual`, managed keys looked up by it).
 *
 * Node's one-shot `crypto.hash` (20.12+) skips the Hash object, its stream machinery and the
 * update/digest round trips of `createHash`; asked for hex it also skips the output-encoding
 * checks (a `'buffer'` answer lower-cases the encoding's name twice per call). Older Node 20
 * releases fall back to `createHash`, with the same digest.
 */
import crypto from 'node:crypto';

type OneShot = (algorithm: string, data: string, outputEncoding: 'hex') => string;
const oneShot = (crypto as { hash?: OneShot }).hash;

/** The digest in lowercase hex (64 characters). */
export function sha256Hex(value: string): string {
  return oneShot !== undefined ? oneShot('sha256', value, 'hex') : crypto.createHash('sha256').update(value, 'utf8').digest('hex');
}
