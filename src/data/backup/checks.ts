/**
 * Fingerprints of a database file, taken in a private DuckDB instance on that file alone (never a
 * live database): the row count and an order-independent checksum of every base table. A backup
 * records them from its snapshot; a restore recomputes them on the file it is about to put in
 * place and refuses on any difference.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { DuckDBInstance, version } from '@duckdb/node-api';
import { ApiError } from '../../errors.js';
import { instanceConfig } from '../duckdb/database.js';
import { quoteIdent } from '../duckdb/names.js';
import type { TableCheck } from './storage.js';

export interface CheckOptions {
  memoryLimit: string;
  threads: number;
}

/**
 * Opens `file` (replaying any WAL beside it, then checkpointing it into the file, so the file
 * stands alone), and fingerprints every base table in `main`, sorted by name.
 */
export async function fingerprintFile(file: string, options: CheckOptions): Promise<TableCheck[]> {
  const instance = await DuckDBInstance.create(file, instanceConfig({ ...options, readConnections: 1 }));
  try {
    const connection = await instance.connect();
    try {
      await connection.run('CHECKPOINT');
      const tables = (await connection.runAndReadAll(
        `SELECT table_name FROM information_schema.tables
          WHERE table_catalog = current_database() AND table_schema = 'main' AND table_type = 'BASE TABLE' ORDER BY table_name`,
      )).getRows().map(([name]) => String(name));
      const checks: TableCheck[] = [];
      for (const table of tables) {
        // hash(t) hashes the whole row as a struct; a HUGEINT sum of 64-bit hashes cannot overflow
        // below 2^64 rows, and unlike XOR it does not cancel out two identical rows.
        const [[rows, checksum]] = (await connection.runAndReadAll(
          `SELECT count(*)::BIGINT, coalesce(sum(hash(t)::HUGEINT), 0)::VARCHAR FROM ${quoteIdent(table)} AS t`,
        )).getRows() as [[bigint, string]];
        checks.push({ table, rows: Number(rows), checksum });
      }
      return checks;
    } finally {
      connection.closeSync();
    }
  } finally {
    instance.closeSync();
  }
}

/** The differences between two sets of fingerprints, one line each; empty when they match. */
export function compareChecks(expected: readonly TableCheck[], actual: readonly TableCheck[]): string[] {
  const problems: string[] = [];
  const found = new Map(actual.map((check) => [check.table, check]));
  for (const want of expected) {
    const got = found.get(want.table);
    found.delete(want.table);
    if (got === undefined) problems.push(`table ${want.table}: missing`);
    else if (got.rows !== want.rows) problems.push(`table ${want.table}: ${got.rows} rows, expected ${want.rows}`);
    else if (got.checksum !== want.checksum) problems.push(`table ${want.table}: checksum differs`);
  }
  for (const extra of found.keys()) problems.push(`table ${extra}: not in the backup`);
  return problems;
}

/** 422 `backup_verification_failed`: what a restore answers on any difference; nothing was changed. */
export function verificationFailed(problems: readonly string[]): ApiError {
  return new ApiError(422, 'backup_verification_failed', `Backup failed verification: ${problems[0] ?? 'unknown difference'}`, [...problems]);
}

export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export function duckdbVersion(): string {
  return version();
}
