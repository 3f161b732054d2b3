/**
 * One measured process. The parent forks this file with a `ChildSpec` (JSON, argv[2]) and talks to
 * it over IPC (`protocol.ts`). Servers live in their own process so that the CPU they burn can be
 * read with `process.cpuUsage()` apart from the load generator's, and so that one DuckDB file is
 * only ever open in one process at a time.
 */
import Fastify from 'fastify';
import { engineLoop } from './engine-loop.js';
import type { ChildSpec, Command, Reply } from './protocol.js';
import { listen, type Running } from './running.js';

async function start(spec: ChildSpec): Promise<Running> {
  if (spec.role === 'hello') {
    // Fastify defaults, no logger: the least any Fastify server does per request.
    const fastify = Fastify();
    fastify.get('/', async () => ({ hello: 'world' }));
    return { url: await listen(fastify), detail: {}, close: () => fastify.close() };
  }
  // The key store child opens its stores per command (key-seed.ts, key-lookup.ts).
  if (spec.role === 'keys') return { detail: {}, close: async () => {} };
  const { startEngineRole } = await import('./engine-roles.js');
  return startEngineRole(spec);
}

async function handle(running: Running, command: Command): Promise<Reply> {
  switch (command.type) {
    case 'cpu': {
      const { user, system } = process.cpuUsage();
      return { type: 'cpu', user, system };
    }
    case 'engine-loop': {
      if (!running.engine || running.rows === undefined) throw new Error('engine-loop needs the engine role');
      const figures = await engineLoop(running.engine.database('default'), running.rows, command.durationMs, command.concurrency);
      return { type: 'engine-loop', figures };
    }
    case 'seed-keys': {
      const { type: _type, ...request } = command;
      const { seedKeyStore } = await import('./key-seed.js');
      return { type: 'keys-seeded', ...(await seedKeyStore(request)) };
    }
    case 'key-lookup': {
      const { type: _type, ...request } = command;
      const { measureKeyLookups } = await import('./key-lookup.js');
      return { type: 'key-lookup', figures: await measureKeyLookups(request) };
    }
    case 'close':
      await running.close();
      return { type: 'closed' };
  }
}

const describe = (error: unknown): string => (error instanceof Error ? error.stack ?? error.message : String(error));

async function main(send: (reply: Reply) => void): Promise<void> {
  const spec = JSON.parse(process.argv[2] ?? '') as ChildSpec;
  const running = await start(spec);
  process.on('message', (command: Command) => {
    handle(running, command).then(
      (reply) => {
        send(reply);
        // Nothing else holds the event loop once the server and engine are closed; dropping the
        // channel lets the process exit on its own, after the reply is out.
        if (reply.type === 'closed') process.disconnect();
      },
      (error: unknown) => send({ type: 'error', message: describe(error) }),
    );
  });
  send({ type: 'ready', url: running.url, detail: running.detail });
}

if (!process.send) throw new Error('server-child.ts is forked by bench/run.ts: it needs an IPC channel');
const send = (reply: Reply): void => void process.send!(reply);
main(send).catch((error: unknown) => {
  // Report, then exit once the message is out: the parent is waiting for `ready`.
  process.send!({ type: 'error', message: describe(error) } satisfies Reply, () => process.exit(1));
});
