/**
 * Prometheus metrics through `prom-client`, on a registry owned by this app (not the global
 * one), so several apps in one process (tests, bench) never share counters.
 */
import type { Server } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { InFlightStats } from '../../auth/in-flight.js';
import type { RecordCacheStats } from '../../data/record-cache.js';
import { TalliedHistogram, type HistogramSeries } from './tallied-histogram.js';

export interface Metrics {
  registry: Registry;
  requestDuration: TalliedHistogram<'method' | 'route' | 'status_code'>;
  authFailures: Counter<'code'>;
  authAttempts: Counter<'result' | 'method' | 'code'>;
  /**
   * One successful credential check by `method` in `auth_attempts_total`: counted in a plain
   * number and added to the counter at the next scrape, as every authenticated request passes here.
   */
  authSucceeded(method: string): void;
  rateLimited: Counter<'scope'>;
  ipDenied: Counter<'scope'>;
  /** 1 while the control store's change feed is live (caches on), 0 while lost (reading through). */
  storeFeedLive: Gauge;
  storeFeedLosses: Counter;
  /** Requests refused a slot by MAX_IN_FLIGHT_PER_CLIENT, by reason (queue_full, deadline, aborted). */
  inFlightRefused: Counter<'reason'>;
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'duckgate_' });
  // prom-client names these gauges `_total`, which Prometheus reserves for counters
  // (`promtool check metrics` rejects them); the same figures are in `/status`.
  for (const gauge of ['active_handles_total', 'active_requests_total', 'active_resources_total']) {
    registry.removeSingleMetric(`duckgate_nodejs_${gauge}`);
  }
  const authSuccesses = new Map<string, number>();
  return {
    registry,
    requestDuration: new TalliedHistogram({
      name: 'http_request_duration_seconds',
      help: 'HTTP request duration in seconds, by route pattern and status',
      labelNames: ['method', 'route', 'status_code'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
      registers: [registry],
    }),
    authFailures: new Counter({
      name: 'auth_failures_total',
      help: 'Requests refused by authentication or authorization, by error code',
      labelNames: ['code'],
      registers: [registry],
    }),
    authAttempts: new Counter({
      name: 'auth_attempts_total',
      help: 'Credential checks, by result, credential method (api-key, jwt, password, none) and error code (ok on success)',
      labelNames: ['result', 'method', 'code'],
      registers: [registry],
      collect() {
        for (const [method, count] of authSuccesses) this.inc({ result: 'success', method, code: 'ok' }, count);
        authSuccesses.clear();
      },
    }),
    authSucceeded(method) {
      authSuccesses.set(method, (authSuccesses.get(method) ?? 0) + 1);
    },
    rateLimited: new Counter({
      name: 'rate_limited_total',
      help: 'Requests answered 429, by scope (client: API_RATE_LIMIT; auth_failures: AUTH_FAILURE_LIMIT per IP; login: the login throttle)',
      labelNames: ['scope'],
      registers: [registry],
    }),
    ipDenied: new Counter({
      name: 'ip_denied_total',
      help: 'Requests refused by an IP allow list, by scope (global ALLOWED_IPS, or a key\'s own)',
      labelNames: ['scope'],
      registers: [registry],
    }),
    storeFeedLive: new Gauge({
      name: 'store_change_feed_live',
      help: '1 while the control store\'s change feed is live and caches are used; 0 while it is lost and every check reads through to the store',
      registers: [registry],
    }),
    storeFeedLosses: new Counter({
      name: 'store_change_feed_losses_total',
      help: 'Times the control store\'s change feed was lost after having been live',
      registers: [registry],
    }),
    inFlightRefused: new Counter({
      name: 'in_flight_refused_total',
      help: 'Requests refused a slot by the per-client in-flight cap, by reason (queue_full: 429; deadline: waited until its deadline, 408; aborted: the client left while queued)',
      labelNames: ['reason'],
      registers: [registry],
    }),
  };
}

/** The per-client in-flight cap's state, read at each scrape (MAX_IN_FLIGHT_PER_CLIENT). */
/** `store_change_relay`: with CHANGE_CHANNEL=redis, whether this replica relays the store's changes. */
export function watchChangeRelay(metrics: Metrics, relaying: () => boolean): void {
  new Gauge({
    name: 'store_change_relay',
    help: '1 while this replica relays the control store\'s changes to Redis (CHANGE_CHANNEL=redis; one replica at a time), else 0',
    registers: [metrics.registry],
    collect() {
      this.set(relaying() ? 1 : 0);
    },
  });
}

export function watchInFlight(metrics: Metrics, stats: () => InFlightStats): void {
  const gauges: [string, string, (s: InFlightStats) => number][] = [
    ['in_flight_requests', 'Authenticated requests holding an in-flight slot', (s) => s.inFlight],
    ['in_flight_queued_requests', 'Authenticated requests waiting for an in-flight slot of their client', (s) => s.queued],
    ['in_flight_clients', 'Clients with a request in flight or queued', (s) => s.clients],
  ];
  for (const [name, help, pick] of gauges) {
    new Gauge({ name, help, registers: [metrics.registry], collect() { this.set(pick(stats())); } });
  }
  let lastWaited = 0;
  new Counter({
    name: 'in_flight_waited_total',
    help: 'Requests that got an in-flight slot after waiting in their client\'s queue',
    registers: [metrics.registry],
    collect() {
      const waited = stats().grantedAfterWait;
      // A counter only goes up: add what happened since the last scrape.
      this.inc(Math.max(0, waited - lastWaited));
      lastWaited = waited;
    },
  });
}

/** The record cache's state (RECORD_CACHE_BYTES), read at each scrape. */
export function watchRecordCache(metrics: Metrics, stats: () => RecordCacheStats): void {
  const counters: [string, string, (s: RecordCacheStats) => number][] = [
    ['record_cache_hits_total', 'Point reads answered from the record cache', (s) => s.hits],
    ['record_cache_misses_total', 'Point reads the record cache sent to the data engine', (s) => s.misses],
    ['record_cache_evictions_total', 'Records evicted from the record cache to stay within RECORD_CACHE_BYTES', (s) => s.evictions],
    ['record_cache_discarded_fills_total', 'Point reads not cached because a write concerning them was invalidated while they ran', (s) => s.discardedFills],
  ];
  for (const [name, help, pick] of counters) {
    let last = 0;
    new Counter({
      name, help, registers: [metrics.registry],
      collect() {
        const now = pick(stats());
        this.inc(Math.max(0, now - last));
        last = now;
      },
    });
  }
  let lastInvalidations = { record: 0, table: 0, database: 0 };
  new Counter({
    name: 'record_cache_invalidations_total',
    help: 'Record cache invalidations, by scope (record, table, database)',
    labelNames: ['scope'],
    registers: [metrics.registry],
    collect() {
      const now = stats().invalidations;
      for (const scope of ['record', 'table', 'database'] as const) this.inc({ scope }, Math.max(0, now[scope] - lastInvalidations[scope]));
      lastInvalidations = now;
    },
  });
  const gauges: [string, string, (s: RecordCacheStats) => number][] = [
    ['record_cache_bytes', 'Estimated bytes held by the record cache', (s) => s.bytes],
    ['record_cache_max_bytes', 'The record cache\'s bound (RECORD_CACHE_BYTES)', (s) => s.maxBytes],
    ['record_cache_entries', 'Records in the record cache', (s) => s.entries],
  ];
  for (const [name, help, pick] of gauges) {
    new Gauge({ name, help, registers: [metrics.registry], collect() { this.set(pick(stats())); } });
  }
}

/** Open connections (MAX_CONNECTIONS caps them) and those refused at the cap. */
export function watchConnections(metrics: Metrics, server: Server): void {
  new Gauge({
    name: 'http_open_connections',
    help: 'Open client connections (at MAX_CONNECTIONS new ones are closed at once)',
    registers: [metrics.registry],
    async collect() {
      this.set(await new Promise<number>((resolve) => server.getConnections((error, count) => resolve(error ? 0 : count))));
    },
  });
  const dropped = new Counter({
    name: 'http_connections_dropped_total',
    help: 'Connections closed at once because MAX_CONNECTIONS were open',
    registers: [metrics.registry],
  });
  server.on('drop', () => dropped.inc());
}

/** The figures the dashboard's status page shows, summed over every label. */
export interface RequestCounters {
  requests: number;
  /** Answers with a 5xx status. */
  errors: number;
  authFailures: number;
  rateLimited: number;
}

export async function requestCounters(metrics: Metrics): Promise<RequestCounters> {
  const [durations, failures, limited] = await Promise.all([metrics.requestDuration.get(), metrics.authFailures.get(), metrics.rateLimited.get()]);
  let requests = 0;
  let errors = 0;
  for (const value of durations.values) {
    if (value.metricName !== 'http_request_duration_seconds_count') continue;
    requests += value.value;
    if (String(value.labels.status_code).startsWith('5')) errors += value.value;
  }
  const sum = (values: { value: number }[]) => values.reduce((total, v) => total + v.value, 0);
  return { requests, errors, authFailures: sum(failures.values), rateLimited: sum(limited.values) };
}

/** Times every request; the label is the route pattern (never the raw URL, which is unbounded). */
export function installRequestMetrics(app: FastifyInstance, metrics: Metrics): void {
  // The labelled child per method, route pattern and status, looked up without building a label
  // object (and hashing it) on every request. Bounded: patterns and statuses are finite.
  const children = new Map<string, Map<number, HistogramSeries>>();
  app.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url ?? 'unmatched';
    const key = request.method === 'GET' ? route : `${request.method} ${route}`;
    let byStatus = children.get(key);
    if (byStatus === undefined) {
      byStatus = new Map();
      children.set(key, byStatus);
    }
    let child = byStatus.get(reply.statusCode);
    if (child === undefined) {
      child = metrics.requestDuration.series({ method: request.method, route, status_code: String(reply.statusCode) });
      byStatus.set(reply.statusCode, child);
    }
    child.observe(reply.elapsedTime / 1000);
    done();
  });
}
