#!/usr/bin/env node
/** `duckgate` command line: `serve` (what `npm start` runs), `--help`, `--version`. */
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig, type Config } from '../config/index.js';
import { LogDestination } from '../log-destination.js';
import { startServer } from '../server.js';
import { ADMIN_HELP, adminCommand } from './admin.js';
import { BACKUP_HELP, backupCommand } from './backup.js';
import { KEYS_HELP, keysCommand } from './keys.js';
import { shutdownOnSignal } from './shutdown.js';
import { SYNC_HELP, syncCommand } from './sync.js';
import { VERSION } from '../version.js';

const HELP = `duckgate ${VERSION}: an authenticated data API over DuckDB

Usage:
  duckgate serve            start the server (configured by environment variables)
  duckgate keys ...         manage API keys (see below)
  duckgate token <key_id>   mint a JWT for a key
  duckgate admin ...        the dashboard account (see below)
  duckgate sync ...         source sync (see below)
  duckgate backup ...       back up and restore databases (see below)
  duckgate --help           this text
  duckgate --version        the version

${KEYS_HELP}
${ADMIN_HELP}
${SYNC_HELP}
${BACKUP_HELP}
Configuration (environment variables, all optional; see README.md):
  PORT, HOST                listen address (default 3000, 127.0.0.1)
  DATA_DIR                  where the databases live (default ./data)
  STORE_URL                 postgres://… : the control store in PostgreSQL (several replicas)
  REDIS_URL                 redis://… : limits and throttles shared by every replica
  DATA_URL                  postgres://… : the data plane in PostgreSQL schemas, shared by replicas
  ADMIN_API_KEY             admin API key (>= 16 characters)
  DUCKLING_API_KEY          admin API key, Duckling's name for it
  VALID_API_KEYS            comma-separated client keys: full data access, no admin routes
  ADMIN_USERNAME            the dashboard's user (default admin)
  ADMIN_PASSWORD            its password (>= 12 characters); unset: generated at first start
  JWT_SECRET                HS256 secret (>= 32 bytes); unset: generated once in DATA_DIR
  JWT_EXPIRES_IN            dashboard session lifetime (default 7d)
  BODY_LIMIT                largest request body (default 10mb)
  QUERY_TIMEOUT_MS          deadline of every data request, ms (default 30000)
  LOG_LEVEL                 fatal|error|warn|info|debug|trace|silent (default info)
  SHUTDOWN_TIMEOUT_MS       how long SIGTERM waits for requests in flight (default 10000)
`;

/** The last log lines get this long to reach a reader that is slow (a gone one takes no time). */
const LOG_FLUSH_TIMEOUT_MS = 2000;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: false,
    options: { help: { type: 'boolean', short: 'h' }, version: { type: 'boolean', short: 'v' } },
  });
  if (values.version) {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  const command = positionals[0];
  if (values.help || command === undefined || command === 'help') {
    process.stdout.write(HELP);
    return command === undefined && !values.help ? 1 : 0;
  }
  if (command === 'serve') return serve();
  if (command === 'keys' || command === 'token') {
    const config = configOrExit();
    return config ? keysCommand(config, argv) : 1;
  }
  if (command === 'admin') {
    const config = configOrExit();
    return config ? adminCommand(config, argv) : 1;
  }
  if (command === 'sync') {
    const config = configOrExit();
    return config ? syncCommand(config, argv, process.env) : 1;
  }
  if (command === 'backup') {
    const config = configOrExit();
    return config ? backupCommand(config, argv) : 1;
  }
  process.stderr.write(`duckgate: unknown command "${command}"\n\n${HELP}`);
  return 1;
}

function configOrExit(): Config | undefined {
  try {
    return loadConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      return undefined;
    }
    throw error;
  }
}

async function serve(): Promise<number> {
  const config = configOrExit();
  if (!config) return 1;
  // Kept from here on only as an argon2id hash (in the store), not in this process's environment.
  delete process.env.ADMIN_PASSWORD;
  // A closed standard output or error (the reader of a pipe gone) must neither crash the server
  // nor hold up its exit: log lines then go nowhere, counted (see `LogDestination`).
  const log = new LogDestination(process.stdout);
  process.stderr.on('error', () => {});
  let server;
  try {
    server = await startServer(config, { logDestination: log });
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      return 1;
    }
    throw error;
  }
  const running = server;
  const onSignal = shutdownOnSignal({
    close: () => running.close(),
    salvage: () => running.app.audit.flush(),
    flushLogs: (timeoutMs) => log.flush(timeoutMs),
    say: (line) => process.stdout.write(`${line}\n`, () => {}),
    exit: (code) => {
      const { dropped, brokenBy } = log.stats();
      if (dropped > 0) process.stderr.write(`duckgate: ${dropped} log lines dropped${brokenBy ? ` (standard output: ${brokenBy})` : ''}\n`, () => {});
      process.exit(code);
    },
  }, { drainTimeoutMs: config.shutdownTimeoutMs, flushTimeoutMs: LOG_FLUSH_TIMEOUT_MS });
  // `on`, not `once`: a second signal is ours too (it exits at once, saying so).
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // Only now: whoever waits for this line to send SIGTERM must find the handlers in place, not the
  // default action (which ends the process on the spot, stores unclosed).
  process.stdout.write(`duckgate ${VERSION} listening on ${server.url} (data in ${config.dataUrl === undefined ? config.dataDir : `PostgreSQL schemas ${config.dataSchemaPrefix}*`})\n`);
  return -1;
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (error: unknown) => {
    // Usage mistakes and start-up failures get one line, never a stack trace.
    process.stderr.write(`duckgate: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
