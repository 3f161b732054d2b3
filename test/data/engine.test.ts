import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { openDuckDBEngine } from '../../src/data/duckdb/index.js';
import { instanceConfig } from '../../src/data/duckdb/database.js';
import { openPostgresEngine } from '../../src/data/postgres/index.js';
import type { DataEngine } from '../../src/data/engine.js';
import { adminQuery } from '../helpers/postgres.js';
import { apiError, engineOptions, engineSuites, tempDataDir, withDb, withEngine } from './helpers.js';

const NO_TIMEOUT = { timeoutMs: 10_000 };

engineSuites(({ engine: name, withEngine: withEngineOf, withDb: withDbOf, open }) => {
  describe('databases', () => {
    test('invalid database names are refused with invalid_name', () =>
      withEngineOf(async (engine) => {
        for (const name of ['Upper', '1abc', 'a b', '../etc', '', 'a'.repeat(64)]) {
          await assert.rejects(engine.createDatabase(name), apiError(400, 'invalid_name'));
        }
      }));

    test('unknown database is a 404 not_found', () =>
      withEngineOf(async (engine) => {
        assert.throws(() => engine.database('nope'), apiError(404, 'not_found', "Database 'nope' not found"));
      }));

    test('creating an existing database is a 409 conflict', () =>
      withEngineOf(async (engine) => {
        await engine.createDatabase('venue-1');
        await assert.rejects(engine.createDatabase('venue-1'), apiError(409, 'conflict'));
        await assert.rejects(engine.createDatabase('default'), apiError(409, 'conflict'));
      }));

    test('the default database cannot be dropped', () =>
      withEngineOf(async (engine) => {
        await assert.rejects(engine.dropDatabase('default'), apiError(409, 'conflict', 'The default database cannot be dropped'));
      }));

    test('a dropped database is gone: not listed, 404 to use or drop again', () =>
      withEngineOf(async (engine) => {
        await engine.createDatabase('gone');
        await engine.database('gone').insert('x', { a: 1 });
        await engine.dropDatabase('gone');
        assert.deepEqual(engine.listDatabases(), ['default']);
        assert.throws(() => engine.database('gone'), apiError(404, 'not_found'));
        await assert.rejects(engine.dropDatabase('gone'), apiError(404, 'not_found'));
      }));

    test('databases are isolated from each other', () =>
      withEngineOf(async (engine) => {
        await engine.createDatabase('other');
        await engine.database('default').insert('users', { name: 'a' });
        assert.equal(await engine.database('other').hasCollection('users'), false);
      }));

    test('close is idempotent; ping answers true on an open database and false once closed', async () => {
      const opened = await open();
      try {
        const db = opened.engine.database('default');
        assert.equal(await db.ping(), true);
        await opened.engine.close();
        await opened.engine.close();
        assert.equal(await db.ping(), false);
      } finally {
        await opened.cleanup();
      }
    });
  });

  if (name === 'postgres') {
    describe('databases: PostgreSQL schemas', () => {
      test('each database is a schema <prefix><name>; drop removes the schema and its tables', async () => {
        const opened = await open();
        const { schemaPrefix } = opened.postgres!;
        const schemas = async () => (await adminQuery<{ nspname: string }>('SELECT nspname FROM pg_namespace WHERE starts_with(nspname, $1) ORDER BY 1', [schemaPrefix])).map((r) => r.nspname);
        try {
          assert.deepEqual(await schemas(), [`${schemaPrefix}default`]);
          await opened.engine.createDatabase('gone');
          await opened.engine.database('gone').insert('x', { a: 1 });
          assert.deepEqual(await schemas(), [`${schemaPrefix}default`, `${schemaPrefix}gone`]);
          await opened.engine.dropDatabase('gone');
          assert.deepEqual(await schemas(), [`${schemaPrefix}default`]);
        } finally {
          await opened.cleanup();
        }
      });

      test('existing schemas are discovered at open, default listed first', async () => {
        const opened = await open();
        let second: DataEngine | undefined;
        try {
          await opened.engine.createDatabase('zeta');
          await opened.engine.createDatabase('alpha');
          await opened.engine.database('alpha').insert('things', { name: 'kept' });
          second = await openPostgresEngine({ ...opened.postgres!, poolSize: 2, statementTimeoutMs: 10_000 });
          assert.deepEqual(second.listDatabases(), ['default', 'alpha', 'zeta']);
          assert.equal((await second.database('alpha').find('things', {}))[0]?.name, 'kept');
        } finally {
          await second?.close();
          await opened.cleanup();
        }
      });
    });

    describe('sandbox: PostgreSQL', () => {
      // The role's lockdown itself is checked at open (test/data/postgres-*.test.ts); here, what SQL meets.
      test('SET through query() is refused, and a set_config ends with its statement', () =>
        withDbOf(async (db) => {
          await assert.rejects(db.query("SET search_path = 'public'", undefined, NO_TIMEOUT), apiError(400, 'sql_error'));
          await db.query("SELECT set_config('search_path', 'public', false)", undefined, NO_TIMEOUT);
          const path = (await db.query("SELECT current_setting('search_path') AS p", undefined, NO_TIMEOUT)).result[0]?.p;
          assert.match(String(path), /_default"?$/);
        }));

      test('reading a host file fails', () =>
        withDbOf(async (db) => {
          for (const statement of ["SELECT pg_read_file('/etc/passwd')", "SELECT * FROM pg_ls_dir('.')", "SELECT lo_import('/etc/passwd')"]) {
            await assert.rejects(db.query(statement, undefined, NO_TIMEOUT), apiError(400, 'sql_error', /permission denied/), statement);
          }
        }));

      test('COPY to or from a file fails', () =>
        withDbOf(async (db) => {
          await db.insert('t', { a: 1 });
          await assert.rejects(db.query("COPY t TO '/tmp/duckgate-copy-out.csv'", undefined, NO_TIMEOUT), apiError(400, 'sql_error'));
          await assert.rejects(db.query("COPY t FROM '/etc/passwd'", undefined, NO_TIMEOUT), apiError(400, 'sql_error'));
          assert.ok(!existsSync('/tmp/duckgate-copy-out.csv'));
        }));

      test('extension loading is refused', () =>
        withDbOf(async (db) => {
          await assert.rejects(db.query('CREATE EXTENSION dblink', undefined, NO_TIMEOUT), apiError(400, 'sql_error'));
          await assert.rejects(db.query("LOAD 'dblink'", undefined, NO_TIMEOUT), apiError(400, 'sql_error'));
        }));
    });
  }
});

// DuckDB keeps each database in a file of DATA_DIR, and its sandbox is DuckDB's own configuration.
describe('databases: DuckDB files', () => {
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
});

describe('sandbox: DuckDB', () => {
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
