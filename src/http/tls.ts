/**
 * HTTPS without a proxy (TLS_CERT, TLS_KEY): the PEM files are read at start and again on
 * `reloadTls` (SIGHUP), so a renewed certificate (certbot, acme.sh) is served without a restart or
 * a dropped connection. A reload that fails keeps the certificate in use and says why.
 */
import { readFileSync } from 'node:fs';
import type { Server as HttpServer } from 'node:http';
import { createSecureContext, type Server as TlsServer } from 'node:tls';
import type { FastifyInstance } from 'fastify';
import type { TlsFiles } from '../config/index.js';

export interface TlsMaterial {
  cert: Buffer;
  key: Buffer;
}

/** Reads both files and checks they form a pair (a key that does not match its certificate throws). */
export function readTlsMaterial(files: TlsFiles): TlsMaterial {
  const material = { cert: readFileSync(files.certFile), key: readFileSync(files.keyFile) };
  try {
    createSecureContext(material);
  } catch (error) {
    throw new Error(`TLS_CERT and TLS_KEY do not form a usable pair: ${error instanceof Error ? error.message : String(error)}`);
  }
  return material;
}

/** Swaps the certificate of a listening HTTPS server; new handshakes use it, open connections keep theirs. */
export function reloadTls(server: HttpServer, files: TlsFiles): void {
  const material = readTlsMaterial(files);
  // Fastify types its server as http.Server; with `https` options it is a tls.Server underneath.
  (server as unknown as TlsServer).setSecureContext(material);
}

/** `Strict-Transport-Security` on every answer over TLS (RFC 6797 ignores it over plain HTTP anyway). */
export function installHsts(fastify: FastifyInstance, maxAgeSeconds: number): void {
  if (maxAgeSeconds <= 0) return;
  const value = `max-age=${maxAgeSeconds}`;
  fastify.addHook('onSend', async (_request, reply, payload) => {
    reply.header('Strict-Transport-Security', value);
    return payload;
  });
}
