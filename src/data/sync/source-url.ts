/** A source connection URL (issue 15): `mysql://user:password@host:3306/database` (or `mariadb://`). */
import { errors } from '../../errors.js';

export interface SourceConnection {
  protocol: 'mysql' | 'mariadb';
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
  /** `?ssl=true`: TLS with certificate checks (`ssl=skip-verify` leaves the certificate unchecked). */
  ssl: 'off' | 'verify' | 'skip-verify';
}

const PROTOCOLS = new Set(['mysql:', 'mariadb:']);

/** Parses and checks a source URL; 400 `invalid_source` names what is wrong, never echoing the password. */
export function parseSourceUrl(text: string): SourceConnection {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw invalid('not a URL (expected mysql://user:password@host:3306/database)');
  }
  if (!PROTOCOLS.has(url.protocol)) throw invalid(`protocol '${url.protocol.replace(/:$/, '')}' is not supported (mysql or mariadb)`);
  if (url.hostname === '') throw invalid('it names no host');
  const database = decodeURIComponent(url.pathname.replace(/^\//, ''));
  if (database === '' || database.includes('/')) throw invalid('it names no database (mysql://user@host:3306/database)');
  if (url.username === '') throw invalid('it names no user');
  const port = url.port === '' ? 3306 : Number(url.port);
  const sslParam = url.searchParams.get('ssl');
  const ssl = sslParam === null || sslParam === 'false' ? 'off' : sslParam === 'true' ? 'verify' : sslParam === 'skip-verify' ? 'skip-verify' : undefined;
  if (ssl === undefined) throw invalid("ssl must be true, false or skip-verify");
  for (const key of url.searchParams.keys()) if (key !== 'ssl') throw invalid(`unknown parameter '${key}'`);
  return {
    protocol: url.protocol === 'mariadb:' ? 'mariadb' : 'mysql',
    host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port,
    user: decodeURIComponent(url.username),
    password: decodeURIComponent(url.password),
    database,
    ssl,
  };
}

/** The URL as it may be shown, logged and stored: everything but the password. */
export function redactedUrl(connection: SourceConnection): string {
  const host = connection.host.includes(':') ? `[${connection.host}]` : connection.host;
  const query = connection.ssl === 'off' ? '' : `?ssl=${connection.ssl === 'verify' ? 'true' : 'skip-verify'}`;
  return `${connection.protocol}://${encodeURIComponent(connection.user)}@${host}:${connection.port}/${encodeURIComponent(connection.database)}${query}`;
}

function invalid(reason: string) {
  return errors.badRequest('invalid_source', `Invalid source URL: ${reason}`);
}
