/**
 * LOG_FORMAT: JSON lines for machines (a log shipper, `docker logs | jq`), readable lines for a
 * person at a terminal. `pretty` is pino-pretty's formatter run in this process, line by line, in
 * front of the same non-blocking destination: no worker thread, and nothing that could hold up
 * the exit (see `LogDestination`).
 */
import type { LogFormat } from '../config/index.js';

export interface LineSink {
  write(line: string): unknown;
}

/** Where pino writes: `destination` itself for JSON, a formatter in front of it for pretty. */
export async function logStream(format: LogFormat, destination: LineSink, isTerminal: boolean): Promise<LineSink> {
  if (format === 'json' || (format === 'auto' && !isTerminal)) return destination;
  // Loaded only when used: JSON servers never pay for it.
  const { prettyFactory } = (await import('pino-pretty')).default;
  const pretty = prettyFactory({
    colorize: isTerminal,
    translateTime: 'SYS:yyyy-mm-dd HH:MM:ss.l',
    ignore: 'pid,hostname',
    singleLine: true,
  });
  return {
    write(line: string) {
      let text: string;
      try {
        text = pretty(line);
      } catch {
        // A line the formatter cannot read is still worth more than nothing.
        text = line;
      }
      return destination.write(text.endsWith('\n') ? text : `${text}\n`);
    },
  };
}
