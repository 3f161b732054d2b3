/**
 * Who is on the other end. Only the addresses in TRUSTED_PROXIES may speak for a client: Fastify's
 * `trustProxy` (given the address list, never `true`) hands `X-Forwarded-For` to `proxy-addr`,
 * which walks it from the right and stops at the first address that is not a trusted proxy, so a
 * client-chosen leftmost entry never counts. `X-Real-IP` is believed only from a trusted peer, and
 * only when no `X-Forwarded-For` came with it (the two would otherwise disagree).
 */
import proxyAddr from 'proxy-addr';
import type { FastifyRequest } from 'fastify';
import { isIpAddress, normalizeIp } from '../auth/ip-rules.js';

export type ClientIpResolver = (request: FastifyRequest) => string;

export function clientIpResolver(trustedProxies: readonly string[]): ClientIpResolver {
  if (trustedProxies.length === 0) {
    return (request) => normalizeIp(request.socket.remoteAddress ?? '');
  }
  const trusts = proxyAddr.compile([...trustedProxies]);
  return (request) => {
    const realIp = request.headers['x-real-ip'];
    const peer = request.socket.remoteAddress ?? '';
    if (request.headers['x-forwarded-for'] === undefined && typeof realIp === 'string' && isIpAddress(realIp.trim()) && trusts(peer, 0)) {
      return normalizeIp(realIp.trim());
    }
    return normalizeIp(request.ip);
  };
}
