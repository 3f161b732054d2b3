/**
 * What the PostgreSQL data plane does not do yet, refused with the reason rather than half done:
 * backups (EXPORT DATABASE, file snapshots, restore by file) are of DuckDB files. With DATA_URL, back up with PostgreSQL's own
 * tools (pg_dump of the `<prefix>*` schemas, or the server's base backups).
 */
import { errors } from '../../errors.js';

export function notOnPostgres(what: string): Error {
  return errors.unsupportedOption(`${what} is not available with DATA_URL (PostgreSQL data plane) yet: it works on DuckDB files`);
}
