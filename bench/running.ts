/** What a started child holds, whatever its role; shared by `server-child.ts` and `engine-roles.ts`. */
import type { FastifyInstance } from 'fastify';
import type { DataEngine } from '../src/data/engine.js';

export interface Running {
  url?: string;
  detail: Record<string, string | number | boolean>;
  /** Set for the engine role, which answers `engine-loop`: ids are drawn from 0 … rows-1. */
  engine?: DataEngine;
  rows?: number;
  /** Releases everything the role opened (listener, engine, store), so the process can exit. */
  close(): Promise<void>;
}

/** Listens on an ephemeral loopback port; answers the base URL. */
export async function listen(fastify: FastifyInstance): Promise<string> {
  await fastify.listen({ port: 0, host: '127.0.0.1' });
  const address = fastify.server.address();
  if (typeof address !== 'object' || address === null) throw new Error('server has no TCP address');
  return `http://127.0.0.1:${address.port}`;
}
