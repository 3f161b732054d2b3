/**
 * Server status: `GET /health` (even when it answers 503) and `GET /status`, with counters when
 * present, refreshed every `REFRESH_MS`. When neither answers at all (the server stopped, the
 * network is down) the page says *Unreachable* instead of showing the last good answer as current.
 */
import { useCallback, useEffect, useState } from 'preact/hooks';
import { ApiError, errorMessage, isAbort, request } from '../api';
import { PageHeading } from '../components/PageHeading';
import { formatBytes, formatNumber, formatUptime } from '../format';
import type { Health, Status } from '../types';

const COUNTERS: { name: keyof Status['counters']; label: string; hint: string }[] = [
  { name: 'requests', label: 'Requests', hint: 'Requests answered since start' },
  { name: 'errors', label: 'Server errors', hint: 'Answered with a 5xx status' },
  { name: 'authFailures', label: 'Auth failures', hint: 'Refused with 401, 403 or 429' },
  { name: 'rateLimited', label: 'Rate limited', hint: 'Requests refused with 429' },
];

/** How often the page asks again while it is open. */
export const REFRESH_MS = 15_000;

function isUnreachable(reason: unknown): boolean {
  return reason instanceof ApiError && reason.code === 'network_error';
}

export function Status() {
  const [health, setHealth] = useState<Health | null>(null);
  const [status, setStatus] = useState<Status | null>(null);
  const [healthError, setHealthError] = useState<string | null>(null);
  const [statusError, setStatusError] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const [updatedAt, setUpdatedAt] = useState<Date | null>(null);
  /** When the server stopped answering (null while it answers). */
  const [unreachableSince, setUnreachableSince] = useState<Date | null>(null);

  const load = useCallback(async (signal?: AbortSignal) => {
    setLoading(true);
    const [healthResult, statusResult] = await Promise.allSettled([
      request<Health>('/health', { acceptStatuses: [503], signal }),
      request<Status>('/status', { signal }),
    ]);
    if (signal?.aborted) return;
    const down = healthResult.status === 'rejected' && isUnreachable(healthResult.reason)
      && statusResult.status === 'rejected' && isUnreachable(statusResult.reason);
    setUnreachableSince((since) => (down ? since ?? new Date() : null));
    if (healthResult.status === 'fulfilled') {
      setHealth(healthResult.value);
      setHealthError(null);
    } else if (!isAbort(healthResult.reason)) {
      setHealthError(errorMessage(healthResult.reason));
    }
    if (statusResult.status === 'fulfilled') {
      setStatus(statusResult.value);
      setStatusError(null);
    } else if (!isAbort(statusResult.reason)) {
      setStatusError(errorMessage(statusResult.reason));
    }
    setUpdatedAt(new Date());
    setLoading(false);
  }, []);

  useEffect(() => {
    const controller = new AbortController();
    void load(controller.signal);
    const timer = setInterval(() => void load(controller.signal), REFRESH_MS);
    return () => {
      clearInterval(timer);
      controller.abort();
    };
  }, [load]);

  const databases = [...new Set([...(status?.databases ?? []), ...Object.keys(health?.databases ?? {})])].sort((a, b) => a.localeCompare(b));
  const counters = status?.counters;

  return (
    <main id="main" class="page">
      <div class="page-header">
        <PageHeading>Status</PageHeading>
        <div class="header-tools">
          {updatedAt ? <span class="muted small" data-testid="status-updated">Checked {updatedAt.toLocaleTimeString()}</span> : null}
          <button type="button" class="button" onClick={() => void load()} disabled={loading}>{loading ? 'Refreshing…' : 'Refresh'}</button>
        </div>
      </div>
      {unreachableSince ? (
        <p class="alert alert-error unreachable" role="alert" data-testid="status-unreachable">
          The server is unreachable (no answer since {unreachableSince.toLocaleTimeString()}). The figures below are from the last answer.
          It is asked again every {REFRESH_MS / 1000} seconds.
        </p>
      ) : null}
      {healthError && !unreachableSince ? <p class="alert alert-error" role="alert">Health check failed: {healthError}</p> : null}
      {statusError && !unreachableSince ? <p class="alert alert-error" role="alert">Could not load status: {statusError}</p> : null}
      {loading && !status && !health ? <p class="loading" aria-busy="true">Loading status…</p> : null}

      {health || status || unreachableSince ? (
        <dl class="cards" data-testid="status-cards">
          <div class="card">
            <dt>Health</dt>
            <dd data-testid="status-health">
              {unreachableSince ? <span class="badge badge-bad">Unreachable</span> : health ? (
                <span class={health.status === 'healthy' ? 'badge badge-ok' : 'badge badge-bad'}>{health.status === 'healthy' ? 'Healthy' : 'Unhealthy'}</span>
              ) : '—'}
            </dd>
          </div>
          <div class="card">
            <dt>Version</dt>
            <dd data-testid="status-version">{status?.version ?? '—'}</dd>
          </div>
          <div class="card">
            <dt>Uptime</dt>
            <dd data-testid="status-uptime">{status ? formatUptime(status.uptime) : '—'}</dd>
          </div>
          <div class="card">
            <dt>Memory (RSS)</dt>
            <dd>{status?.memory ? formatBytes(status.memory.rss) : '—'}</dd>
          </div>
        </dl>
      ) : null}

      {counters ? (
        <section aria-labelledby="counters-title">
          <h2 id="counters-title" class="section-title">Counters since start</h2>
          <dl class="cards" data-testid="status-counters">
            {COUNTERS.map((counter) => (
              <div class="card" key={counter.name} title={counter.hint}>
                <dt>{counter.label}</dt>
                <dd data-testid={`counter-${counter.name}`}>{formatNumber(counters[counter.name])}</dd>
              </div>
            ))}
          </dl>
        </section>
      ) : null}

      {databases.length > 0 ? (
        <section aria-labelledby="databases-title">
          <h2 id="databases-title" class="section-title">Databases</h2>
          <table class="table narrow-table" data-testid="status-databases">
            <caption class="visually-hidden">Databases and their health</caption>
            <thead><tr><th scope="col">Database</th><th scope="col">Health</th></tr></thead>
            <tbody>
              {databases.map((name) => {
                const state = health?.databases?.[name];
                return (
                  <tr key={name}>
                    <td><code>{name}</code></td>
                    <td>{state === 'ok' ? <span class="badge badge-ok">OK</span> : state === 'error' ? <span class="badge badge-bad">Error</span> : <span class="muted">—</span>}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </section>
      ) : null}
    </main>
  );
}
