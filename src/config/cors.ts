/**
 * CORS_ORIGINS: which browser origins may call duckgate. Unset or empty: CORS is off (no
 * `Access-Control-*` header is ever sent, so browsers keep other origins out). `*` allows any
 * origin; that is safe here because duckgate never allows credentialed CORS (cookies): a page
 * authenticates by sending a key or token in a header, which it must hold itself.
 */
import { ConfigError } from './parse.js';

/** `undefined`: off; `['*']`: any origin; else exact origins (`scheme://host[:port]`, lower-case). */
export function corsOrigins(raw: string | undefined): string[] | undefined {
  if (raw === undefined || raw.trim() === '') return undefined;
  const entries = raw.split(',').map((entry) => entry.trim()).filter((entry) => entry !== '');
  if (entries.includes('*')) {
    if (entries.length > 1) throw new ConfigError('CORS_ORIGINS', 'is either * alone or a list of origins, not both');
    return ['*'];
  }
  return entries.map((entry) => {
    let url: URL;
    try {
      url = new URL(entry);
    } catch {
      throw new ConfigError('CORS_ORIGINS', `has "${entry}", which is not an origin such as https://app.example.com`);
    }
    // An origin is scheme, host and port: a path, query or credentials would never match a browser's Origin header.
    if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.origin !== entry.replace(/\/$/, '').toLowerCase() || url.username || url.password) {
      throw new ConfigError('CORS_ORIGINS', `has "${entry}", which is not an origin such as https://app.example.com (scheme://host[:port], nothing after)`);
    }
    return url.origin;
  });
}
