import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { openDuckDBEngine } from '../../src/data/duckdb/index.js';
import { instanceConfig } from '../../src/data/duckdb/database.js';
import { apiError, engineOptions, tempDataDir, withDb, withEngine } from './helpers.js';

const NO_TIMEOUT = { timeoutMs: 10_000 };

describe('databases', () => {
  test('default is created at open as a file in the data directory', () =>
    withEngine(async (engine, dir) => {
      assert.deepEqual(engine.listDatabases(), ['default']);
      assert.ok(existsSync(join(dir, 'default.duckdb')));
    }));

  test('existing .duckdb files are discovered at open, default listed first', async () => {
    const dir = tempDataDir();
    try {
      const first = await openDuckDBEngine(engineOptions(dir));
      await first.createDatabase('zeta');
      await first.createDatabase('alpha');
      await first.database('alpha').insert('things', { name: 'kept' });
      await first.close();
      writeFileSync(join(dir, 'notes.txt'), 'not a database');
      const second = await openDuckDBEngine(engineOptions(dir));
      assert.deepEqual(second.listDatabases(), ['default', 'alpha', 'zeta']);
      assert.equal((await second.database('alpha').find('things', {}))[0]?.name, 'kept');
      await second.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('invalid database names are refused with invalid_name', () =>
    withEngine(async (engine) => {
      for (const name of ['Upper', '1abc', 'a b', '../etc', '', 'a'.repeat(64)]) {
        await assert.rejects(engine.createDatabase(name), apiError(400, 'invalid_name'));
      }
    }));

  test('unknown database is a 404 not_found', () =>
    withEngine(async (engine) => {
      assert.throws(() => engine.database('nope'), apiError(404, 'not_found', "Database 'nope' not found"));
    }));

  test('creating an existing database is a 409 conflict', () =>
    withEngine(async (engine) => {
      await engine.createDatabase('venue-1');
      await assert.rejects(engine.createDatabase('venue-1'), apiError(409, 'conflict'));
      await assert.rejects(engine.createDatabase('default'), apiError(409, 'conflict'));
    }));

  test('the default database cannot be dropped', () =>
    withEngine(async (engine) => {
      await assert.rejects(engine.dropDatabase('default'), apiError(409, 'conflict', 'The default database cannot be dropped'));
    }));

  test('drop closes the database and deletes its file and WAL', () =>
    withEngine(async (engine, dir) => {
      await engine.createDatabase('gone');
      await engine.database('gone').insert('x', { a: 1 });
      assert.ok(existsSync(join(dir, 'gone.duckdb')));
      await engine.dropDatabase('gone');
      assert.ok(!existsSync(join(dir, 'gone.duckdb')));
      assert.ok(!existsSync(join(dir, 'gone.duckdb.wal')));
      assert.deepEqual(engine.listDatabases(), ['default']);
      assert.throws(() => engine.database('gone'), apiError(404, 'not_found'));
      await assert.rejects(engine.dropDatabase('gone'), apiError(404, 'not_found'));
    }));

  test('databases are isolated from each other', () =>
    withEngine(async (engine) => {
      await engine.createDatabase('other');
      await engine.database('default').insert('users', { name: 'a' });
      assert.equal(await engine.database('other').hasCollection('users'), false);
    }));

  test('close is idempotent', async () => {
    const dir = tempDataDir();
    const engine = await openDuckDBEngine(engineOptions(dir));
    await engine.close();
    await engine.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('ping answers true on an open database and false once closed', async () => {
    const dir = tempDataDir();
    const engine = await openDuckDBEngine(engineOptions(dir));
    const db = engine.database('default');
    assert.equal(await db.ping(), true);
    await engine.close();
    assert.equal(await db.ping(), false);
    rmSync(dir, { recursive: true, force: true });
  });
});

describe('sandbox', () => {
  test('SET enable_external_access=true fails: DuckDB itself has the configuration locked', async () => {
    const dir = tempDataDir();
    const instance = await DuckDBInstance.create(join(dir, 'raw.duckdb'), instanceConfig({ memoryLimit: '128MB', threads: 1, readConnections: 1 }));
    const connection = await instance.connect();
    try {
      await assert.rejects(connection.run('SET enable_external_access = true'), /configuration has been locked/);
      await assert.rejects(connection.run("SET autoload_known_extensions = true"), /configuration has been locked/);
      await assert.rejects(connection.run("SELECT * FROM read_csv('/etc/passwd')"), /Permission Error/);
    } finally {
      connection.closeSync();
      instance.closeSync();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('SET through query() is refused and the lock is reported on', () =>
    withDb(async (db) => {
      await assert.rejects(db.query('SET enable_external_access = true', undefined, NO_TIMEOUT), apiError(400, 'sql_error'));
      const locked = await db.query("SELECT current_setting('lock_configuration') AS v", undefined, NO_TIMEOUT);
      assert.equal(locked.result[0]?.v, true);
    }));

  test('reading a host file with read_csv fails', () =>
    withDb(async (db) => {
      await assert.rejects(db.query("SELECT * FROM read_csv('/etc/passwd')", undefined, NO_TIMEOUT), apiError(400, 'sql_error', /Permission Error/));
    }));

  test('ATTACH of a file fails', () =>
    withDb(async (db, _engine, dir) => {
      await assert.rejects(db.query(`ATTACH '${join(dir, 'x.duckdb')}' AS x`, undefined, NO_TIMEOUT), apiError(400, 'sql_error'));
      assert.ok(!existsSync(join(dir, 'x.duckdb')));
    }));

  test('COPY TO a file fails', () =>
    withDb(async (db, _engine, dir) => {
      await db.insert('t', { a: 1 });
      await assert.rejects(db.query(`COPY t TO '${join(dir, 'out.csv')}'`, undefined, NO_TIMEOUT), apiError(400, 'sql_error', /Permission Error/));
    }));

  test('extension loading is refused', () =>
    withDb(async (db) => {
      await assert.rejects(db.query('INSTALL httpfs', undefined, NO_TIMEOUT), apiError(400, 'sql_error'));
      await assert.rejects(db.query('LOAD httpfs', undefined, NO_TIMEOUT), apiError(400, 'sql_error'));
    }));
});
