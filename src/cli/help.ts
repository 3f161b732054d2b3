/**
 * Every `--help` text of the command line, in a module that imports nothing heavy: `duckgate
 * --help` and `--version` answer without loading the server, DuckDB or a store.
 */

export const EXIT_CODES = `Exit codes:
  0  done
  1  failed: bad configuration, a start-up check, a refused change (not found, last admin key...)
  2  usage: unknown command or option, a missing or conflicting argument
`;

export const SERVE_HELP = `Usage: npx duckgate serve [--port N] [--host ADDRESS]

Starts the server (what \`npm start\` runs), configured by environment variables (see
README.md, Configuration). --port and --host win over PORT and HOST.
Stop it with Ctrl-C or SIGTERM: requests in flight get SHUTDOWN_TIMEOUT_MS; a second
Ctrl-C exits at once. SIGHUP re-reads TLS_CERT and TLS_KEY.
`;

export const KEYS_HELP = `Key management (on the store in DATA_DIR, or STORE_URL; works while servers run):
  npx duckgate keys create --label L [--description D] [--admin] [--permissions JSON]
                           [--expires-at ISO] [--rate-limit N] [--allowed-ips a,b]
  npx duckgate keys list                                 a table (--json: every field)
  npx duckgate keys revoke <key_id>
  npx duckgate keys regenerate <key_id> [--grace-seconds N]
  npx duckgate keys permissions <key_id>                 show
  npx duckgate keys permissions <key_id> --set JSON      replace (POST semantics)
  npx duckgate keys permissions <key_id> --merge JSON    merge (PUT semantics)
Add --json for machine-readable output.
`;

export const TOKEN_HELP = `Usage: npx duckgate token <key_id> [--json]

Mints a JWT for a key (managed, or env:admin / env:client:N / env:duckling), valid TOKEN_EXPIRES_IN.
`;

export const ADMIN_HELP = `Dashboard account (ADMIN_USERNAME, on the store in DATA_DIR, or STORE_URL):
  npx duckgate admin set-password                    prompt for a new password (twice, not echoed)
  npx duckgate admin set-password --password-stdin   read it from standard input (scripts)
  npx duckgate admin set-password --generate         generate one and print it once
`;

/** `extra`: the help of commands that keep theirs beside their code (sync, backup). */
export function mainHelp(version: string, extra: string[] = []): string {
  return `duckgate ${version}: an authenticated data API over DuckDB

Usage:
  npx duckgate serve [--port N] [--host H]   start the server (what npm start runs)
  npx duckgate keys ...                     manage API keys (see below)
  npx duckgate token <key_id>               mint a JWT for a key
  npx duckgate admin set-password           the dashboard account's password
  npx duckgate sync ...                     source sync (see below)
  npx duckgate backup ...                   back up and restore databases (see below)
  npx duckgate <command> --help             one command's help
  npx duckgate --version                    the version

${KEYS_HELP}
${ADMIN_HELP}
${extra.map((text) => `${text}\n`).join('')}Configuration (environment variables, all optional; see README.md):
  PORT, HOST                listen address (default 3000, 127.0.0.1)
  DATA_DIR                  where the databases live (default ./data)
  STORE_URL                 postgres://… : the control store in PostgreSQL (several replicas)
  DATA_URL                  postgres://… : the data plane in PostgreSQL schemas, shared by replicas
  DATA_READER_URL           postgres://… : a read-only role that scoped SQL runs as (with DATA_URL)
  REDIS_URL                 redis://… : limits and throttles shared by every replica
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
  LOG_FORMAT                auto|pretty|json (default auto: pretty on a terminal, else JSON)
  TLS_CERT, TLS_KEY         PEM files: serve HTTPS (SIGHUP re-reads them)
  SHUTDOWN_TIMEOUT_MS       how long SIGTERM waits for requests in flight (default 10000)

${EXIT_CODES}`;
}
