/**
 * The audit trail (`GET /api/audit`, admin): newest first, filtered by kind, actor, IP, target,
 * error code and time range, 50 a page. The server pages by id (`before` = the previous page's
 * `next_before`); the cursors of the pages seen are kept so Newer goes back. Filters live in the
 * hash, so a reload or a shared link shows the same events.
 */
import { useEffect, useState } from 'preact/hooks';
import { errorMessage, isAbort, request } from '../api';
import { PageHeading } from '../components/PageHeading';
import { formatDateSeconds } from '../format';
import { href, navigate } from '../router';
import type { AuditEvent, AuditKind, AuditPage } from '../types';

export const AUDIT_PAGE_SIZE = 50;
const KINDS: AuditKind[] = [
  'auth.failure', 'auth.login', 'auth.login_failed', 'auth.logout', 'admin.password',
  'key.created', 'key.regenerated', 'key.revoked', 'key.permissions', 'key.updated',
  'database.created', 'database.dropped', 'collection.dropped',
];
const FILTERS = ['kind', 'actor', 'ip', 'target', 'code', 'since', 'until'] as const;
type FilterName = (typeof FILTERS)[number];
type Filters = Record<FilterName, string>;

function filtersFrom(params: URLSearchParams): Filters {
  return Object.fromEntries(FILTERS.map((name) => [name, params.get(name) ?? ''])) as Filters;
}

/** A `datetime-local` value as the ISO time the API takes; '' stays ''. */
function isoOf(local: string): string | undefined {
  if (!local) return undefined;
  const at = new Date(local);
  return Number.isNaN(at.getTime()) ? undefined : at.toISOString();
}

export function Audit({ params }: { params: URLSearchParams }) {
  const applied = filtersFrom(params);
  const beforeParam = Number(params.get('before') ?? '');
  const before = Number.isInteger(beforeParam) && beforeParam > 0 ? beforeParam : undefined;
  const [form, setForm] = useState<Filters>(applied);
  const [page, setPage] = useState<AuditPage | null>(null);
  const [error, setError] = useState<string | null>(null);
  /** Cursors of the newer pages seen, so Newer can step back. */
  const [newer, setNewer] = useState<(number | undefined)[]>([]);
  const key = params.toString();

  useEffect(() => setForm(filtersFrom(params)), [key]);

  useEffect(() => {
    const controller = new AbortController();
    setPage(null);
    setError(null);
    request<AuditPage>('/api/audit', {
      signal: controller.signal,
      query: {
        kind: applied.kind || undefined, actor: applied.actor.trim() || undefined, ip: applied.ip.trim() || undefined,
        target: applied.target.trim() || undefined, code: applied.code.trim() || undefined,
        since: isoOf(applied.since), until: isoOf(applied.until), limit: AUDIT_PAGE_SIZE, before,
      },
    })
      .then((answer) => setPage({ events: Array.isArray(answer.events) ? answer.events : [], next_before: answer.next_before ?? null }))
      .catch((failure: unknown) => {
        if (!isAbort(failure)) setError(errorMessage(failure));
      });
    return () => controller.abort();
  }, [key]);

  const show = (filters: Filters, cursor?: number) => navigate(href('audit', { ...filters, before: cursor }));
  const apply = (event: Event) => {
    event.preventDefault();
    setNewer([]);
    show(form);
  };
  const set = (name: FilterName, value: string) => setForm((current) => ({ ...current, [name]: value }));

  return (
    <main id="main" class="page">
      <div class="page-header">
        <PageHeading>Audit trail</PageHeading>
      </div>
      <p class="lede">Sign-ins, failures, key and password changes, database and collection drops: newest first. Never a key or password.</p>
      <form class="filters" onSubmit={apply} data-testid="audit-filters">
        <div class="field">
          <label for="audit-kind">Kind</label>
          <select id="audit-kind" value={form.kind} onChange={(event) => set('kind', event.currentTarget.value)}>
            <option value="">Any kind</option>
            {KINDS.map((kind) => <option key={kind} value={kind}>{kind}</option>)}
          </select>
        </div>
        <div class="field">
          <label for="audit-actor">Actor</label>
          <input id="audit-actor" type="text" value={form.actor} placeholder="key_…, env:admin, admin" autocomplete="off" onInput={(event) => set('actor', event.currentTarget.value)} />
        </div>
        <div class="field">
          <label for="audit-ip">IP address</label>
          <input id="audit-ip" type="text" value={form.ip} autocomplete="off" onInput={(event) => set('ip', event.currentTarget.value)} />
        </div>
        <div class="field">
          <label for="audit-target">Target</label>
          <input id="audit-target" type="text" value={form.target} placeholder="key_…, database:name" autocomplete="off" onInput={(event) => set('target', event.currentTarget.value)} />
        </div>
        <div class="field">
          <label for="audit-code">Error code</label>
          <input id="audit-code" type="text" value={form.code} placeholder="invalid_api_key" autocomplete="off" onInput={(event) => set('code', event.currentTarget.value)} />
        </div>
        <div class="field">
          <label for="audit-since">From</label>
          <input id="audit-since" type="datetime-local" value={form.since} onInput={(event) => set('since', event.currentTarget.value)} />
        </div>
        <div class="field">
          <label for="audit-until">Until</label>
          <input id="audit-until" type="datetime-local" value={form.until} onInput={(event) => set('until', event.currentTarget.value)} />
        </div>
        <div class="actions">
          <button type="submit" class="button button-primary">Apply filters</button>
          <button type="button" class="button button-quiet" onClick={() => { setNewer([]); show(filtersFrom(new URLSearchParams())); }}>Clear</button>
        </div>
      </form>

      {error ? (
        <p class="alert alert-error" role="alert">Could not load the audit trail: {error}</p>
      ) : page === null ? (
        <p class="loading" aria-busy="true">Loading events…</p>
      ) : page.events.length === 0 ? (
        <div class="empty-state" data-testid="audit-empty"><p><strong>No events match these filters.</strong></p></div>
      ) : (
        <AuditTable events={page.events} />
      )}
      <nav class="pager" aria-label="Audit pages">
        <button type="button" class="button button-small" disabled={before === undefined} onClick={() => {
          const previous = newer.slice(0, -1);
          const cursor = newer[newer.length - 1];
          setNewer(previous);
          show(applied, cursor);
        }}>Newer</button>
        <span class="pager-info" data-testid="audit-pager-info" aria-live="polite">
          {page && page.events.length ? `${page.events.length} event${page.events.length === 1 ? '' : 's'}${before ? ' (older page)' : ''}` : ''}
        </span>
        <button type="button" class="button button-small" disabled={!page?.next_before} onClick={() => {
          setNewer((list) => [...list, before]);
          show(applied, page?.next_before ?? undefined);
        }}>Older</button>
      </nav>
    </main>
  );
}

function AuditTable({ events }: { events: AuditEvent[] }) {
  return (
    <div class="table-scroll table-cards" tabIndex={0} role="region" aria-label="Audit events">
      <table class="table audit-table" data-testid="audit-table">
        <caption class="visually-hidden">Audit events, newest first</caption>
        <thead>
          <tr>
            <th scope="col">Time</th><th scope="col">Kind</th><th scope="col">Actor</th><th scope="col">IP</th>
            <th scope="col">Target</th><th scope="col">Code</th><th scope="col">Details</th>
          </tr>
        </thead>
        <tbody>
          {events.map((event) => (
            <tr key={event.id} data-kind={event.kind} data-id={event.id}>
              <td data-cell="Time" class="nowrap" title={event.at}>{formatDateSeconds(event.at)}</td>
              <td data-cell="Kind"><code>{event.kind}</code></td>
              <td data-cell="Actor">{event.actor ?? <span class="muted">—</span>}{event.key_prefix ? <div class="muted small"><code>{event.key_prefix}</code></div> : null}</td>
              <td data-cell="IP">{event.ip ?? <span class="muted">—</span>}</td>
              <td data-cell="Target">{event.target ?? <span class="muted">—</span>}</td>
              <td data-cell="Code">{event.code ?? <span class="muted">—</span>}</td>
              <td data-cell="Details" class="details-cell">{event.details ? JSON.stringify(event.details) : ''}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
