/**
 * A real MariaDB/MySQL for source sync tests (MARIADB_TEST_URL, else root without a password on
 * 127.0.0.1:3306). Each test works in a database (MySQL's schema) of its own with a random name,
 * dropped afterwards; when the server cannot be reached the tests are skipped with the reason.
 */
import { randomBytes } from 'node:crypto';
import mysql from 'mysql2/promise';

export const MARIADB_TEST_URL = process.env.MARIADB_TEST_URL ?? 'mysql://root@127.0.0.1:3306/test';

/** A skip reason for node:test (`{ skip }`), or false when the server answers. */
export async function mariadbUnavailable(): Promise<string | false> {
  try {
    const probe = await mysql.createConnection({ uri: MARIADB_TEST_URL, connectTimeout: 1000 });
    try {
      await probe.query('SELECT 1');
    } finally {
      await probe.end().catch(() => {});
    }
    return false;
  } catch (error) {
    return `MariaDB unreachable at ${MARIADB_TEST_URL} (${error instanceof Error ? error.message : String(error)})`;
  }
}

export interface TestSourceSchema {
  name: string;
  /** The source URL duckgate is given for this schema. */
  url: string;
  /** A connection with this schema selected; multiple statements allowed. */
  db: mysql.Connection;
  drop(): Promise<void>;
}

export async function createSourceSchema(label = 'sync'): Promise<TestSourceSchema> {
  const name = `dg_test_${label}_${randomBytes(5).toString('hex')}`;
  const admin = await mysql.createConnection({ uri: MARIADB_TEST_URL });
  await admin.query(`CREATE DATABASE \`${name}\``);
  await admin.end();
  const base = new URL(MARIADB_TEST_URL);
  base.pathname = `/${name}`;
  const db = await mysql.createConnection({ uri: base.toString(), multipleStatements: true, timezone: 'Z', dateStrings: true });
  // Zero dates are what the tests need to show; the server's default mode may refuse them.
  await db.query("SET SESSION sql_mode = '', time_zone = '+00:00'");
  return {
    name,
    url: base.toString(),
    db,
    drop: async () => {
      await db.end().catch(() => {});
      const again = await mysql.createConnection({ uri: MARIADB_TEST_URL });
      await again.query(`DROP DATABASE IF EXISTS \`${name}\``);
      await again.end();
    },
  };
}

/**
 * A realistic shop: `orders` (INT key, DECIMAL, DATETIME(6) `updated_at`, JSON, BLOB, NULLs, a
 * zero date), `order_lines` (composite key, no watermark column: increasing key impossible, so
 * full copies), `events` (BIGINT UNSIGNED auto-increment key, no updated_at: by key), `notes` (no
 * key at all). `orders` gets `rows` rows, the others fewer; generated server-side (fast).
 */
export async function createShop(db: mysql.Connection, rows: number): Promise<void> {
  await db.query(`
    CREATE TABLE orders (
      id INT NOT NULL PRIMARY KEY,
      customer VARCHAR(64) NOT NULL,
      total DECIMAL(12,2) NULL,
      ratio DOUBLE NULL,
      weight FLOAT NULL,
      paid TINYINT(1) NOT NULL DEFAULT 0,
      placed_on DATE NULL,
      shipped_at DATETIME NULL,
      updated_at DATETIME(6) NOT NULL,
      meta JSON NULL,
      thumb BLOB NULL,
      note TEXT NULL,
      KEY orders_updated (updated_at)
    ) ENGINE=InnoDB;
    CREATE TABLE order_lines (
      order_id INT NOT NULL,
      line SMALLINT NOT NULL,
      sku CHAR(8) NOT NULL,
      qty INT UNSIGNED NOT NULL,
      price DECIMAL(10,3) NOT NULL,
      PRIMARY KEY (order_id, line)
    ) ENGINE=InnoDB;
    CREATE TABLE events (
      id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
      kind ENUM('view','click','buy') NOT NULL,
      at TIMESTAMP NOT NULL DEFAULT '2026-01-01 00:00:00',
      payload VARBINARY(16) NULL
    ) ENGINE=InnoDB;
    CREATE TABLE notes (body VARCHAR(200) NULL, year YEAR NULL, t TIME NULL) ENGINE=InnoDB;
  `);
  await db.query(`
    INSERT INTO orders (id, customer, total, ratio, weight, paid, placed_on, shipped_at, updated_at, meta, thumb, note)
    SELECT seq,
      CONCAT('customer-', seq % 997, IF(seq % 50 = 0, ' Zoë', '')),
      IF(seq % 11 = 0, NULL, (seq * 37 % 100000) / 100),
      IF(seq % 13 = 0, NULL, seq / 7),
      IF(seq % 17 = 0, NULL, (seq % 1000) / 8),
      seq % 2,
      IF(seq = 3, '0000-00-00', IF(seq % 19 = 0, NULL, DATE('2025-01-01') + INTERVAL (seq % 365) DAY)),
      IF(seq = 5, '2025-00-10 00:00:00', IF(seq % 23 = 0, NULL, TIMESTAMP('2025-01-01 08:00:00') + INTERVAL seq SECOND)),
      TIMESTAMP('2026-01-01 00:00:00') + INTERVAL (seq * 1000) MICROSECOND,
      IF(seq % 29 = 0, NULL, JSON_OBJECT('n', seq, 'tags', JSON_ARRAY('a', seq % 5), 'vip', seq % 3 = 0)),
      IF(seq % 31 = 0, NULL, UNHEX(CONCAT(LPAD(HEX(seq % 256), 2, '0'), '00FF'))),
      IF(seq % 37 = 0, NULL, REPEAT('x', seq % 40))
    FROM seq_1_to_${rows}`);
  const lines = Math.max(1, Math.floor(rows / 4));
  await db.query(`
    INSERT INTO order_lines (order_id, line, sku, qty, price)
    SELECT seq DIV 3 + 1, seq % 3 + 1, CONCAT('SKU', LPAD(seq % 10000, 5, '0')), seq % 9 + 1, (seq % 5000) / 1000 + 0.125
    FROM seq_0_to_${lines - 1}`);
  await db.query(`INSERT INTO events (kind, payload) SELECT ELT(seq % 3 + 1, 'view', 'click', 'buy'), IF(seq % 4 = 0, NULL, UNHEX('DEADBEEF')) FROM seq_1_to_${Math.max(1, Math.floor(rows / 10))}`);
  await db.query(`INSERT INTO notes VALUES ('first', 2024, '12:30:00'), (NULL, NULL, NULL), ('third', 1999, '-01:00:00')`);
}
