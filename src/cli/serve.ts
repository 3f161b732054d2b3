/** `duckgate serve`: the server in the foreground, until SIGTERM or SIGINT. */
import { LogDestination } from '../log-destination.js';
import { startServer } from '../server.js';
import { VERSION } from '../version.js';
import { commandConfig } from './config.js';
import { logStream } from './log-format.js';
import { shutdownOnSignal } from './shutdown.js';
import { parseOptions, UsageError } from './usage.js';

/** The last log lines get this long to reach a reader that is slow (a gone one takes no time). */
const LOG_FLUSH_TIMEOUT_MS = 2000;

export async function serveCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseOptions('serve', argv, { port: { type: 'string' }, host: { type: 'string' } });
  if (positionals.length > 1) throw new UsageError(`serve takes no arguments (got "${positionals[1]}")`, 'serve');
  // Flags win over PORT and HOST, and are validated exactly as those are.
  const config = commandConfig({ PORT: values.port, HOST: values.host });
  // Kept from here on only as an argon2id hash (in the store), not in this process's environment.
  delete process.env.ADMIN_PASSWORD;
  // A closed standard output or error (the reader of a pipe gone) must neither crash the server
  // nor hold up its exit: log lines then go nowhere, counted (see `LogDestination`).
  const destination = new LogDestination(process.stdout);
  process.stderr.on('error', () => {});
  const server = await startServer(config, { logDestination: await logStream(config.logFormat, destination, process.stdout.isTTY === true) });
  const log = server.app.fastify.log;
  const onSignal = shutdownOnSignal({
    close: () => server.close(),
    salvage: () => server.app.audit.flush(),
    flushLogs: (timeoutMs) => destination.flush(timeoutMs),
    inFlight: () => server.inFlight(),
    say: (line) => process.stdout.write(`${line}\n`, () => {}),
    exit: (code) => {
      const { dropped, brokenBy } = destination.stats();
      if (dropped > 0) process.stderr.write(`duckgate: ${dropped} log lines dropped${brokenBy ? ` (standard output: ${brokenBy})` : ''}\n`, () => {});
      process.exit(code);
    },
  }, { drainTimeoutMs: config.shutdownTimeoutMs, flushTimeoutMs: LOG_FLUSH_TIMEOUT_MS });
  // `on`, not `once`: a second signal is ours too (it exits at once, saying so).
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', () => {
    try {
      if (server.reloadTls()) log.info({ cert: config.tls?.certFile }, 'SIGHUP: TLS certificate and key reloaded');
      else log.info('SIGHUP: nothing to reload (TLS_CERT and TLS_KEY are unset)');
    } catch (error) {
      log.error({ problem: error instanceof Error ? error.message : String(error) }, 'SIGHUP: TLS files not reloaded; still serving the previous certificate');
    }
  });
  // Only now: whoever waits for this line to send SIGTERM must find the handlers in place, not the
  // default action (which ends the process on the spot, stores unclosed).
  process.stdout.write(`duckgate ${VERSION} listening on ${server.url} (data in ${config.dataUrl === undefined ? config.dataDir : `PostgreSQL schemas ${config.dataSchemaPrefix}*`}; dashboard ${server.url}/; Ctrl-C stops)\n`);
  return -1;
}
