/**
 * Collections of a database with their row counts, and a record browser for one of them
 * (`GET /api/find/:collection?limit&skip`), paged with Previous/Next. State lives in the hash:
 * `#/collections?db=default&collection=notes&skip=25`.
 */
import { useEffect, useState } from 'preact/hooks';
import { errorMessage, isAbort, request } from '../api';
import { DatabasePicker } from '../components/DatabasePicker';
import { DataTable, unionColumns } from '../components/DataTable';
import { PageHeading } from '../components/PageHeading';
import { formatNumber } from '../format';
import { href, navigate } from '../router';

const PAGE_SIZE = 25;

interface CollectionsProps {
  params: URLSearchParams;
}

export function Collections({ params }: CollectionsProps) {
  const db = params.get('db') || 'default';
  const selected = params.get('collection');
  const skipParam = Number(params.get('skip') ?? '0');
  const skip = Number.isInteger(skipParam) && skipParam > 0 ? skipParam : 0;

  const [names, setNames] = useState<string[] | null>(null);
  const [counts, setCounts] = useState<Record<string, number>>({});
  const [error, setError] = useState<string | null>(null);
  const [reload, setReload] = useState(0);

  useEffect(() => {
    const controller = new AbortController();
    setNames(null);
    setError(null);
    (async () => {
      try {
        const [list, tableCounts] = await Promise.all([
          request<{ collections: string[] }>('/api/collections', { query: { db }, signal: controller.signal }),
          request<Record<string, number>>('/api/tables/counts/all', { query: { db }, signal: controller.signal }).catch((failure: unknown) => {
            if (isAbort(failure)) throw failure;
            return {};
          }),
        ]);
        setNames([...(list.collections ?? [])].sort((a, b) => a.localeCompare(b)));
        setCounts(tableCounts ?? {});
      } catch (failure) {
        if (!isAbort(failure)) setError(errorMessage(failure));
      }
    })();
    return () => controller.abort();
  }, [db, reload]);

  return (
    <main id="main" class="page">
      <div class="page-header">
        <PageHeading>Collections</PageHeading>
        <DatabasePicker value={db} onChange={(name) => navigate(href('collections', { db: name }))} />
      </div>
      <div class="split">
        <section class="split-side" aria-labelledby="collections-list-title">
          <h2 id="collections-list-title" class="section-title">In <code>{db}</code></h2>
          {error ? (
            <div class="alert alert-error" role="alert">
              Could not load collections: {error}{' '}
              <button type="button" class="button button-small" onClick={() => setReload((n) => n + 1)}>Retry</button>
            </div>
          ) : names === null ? (
            <p class="loading" aria-busy="true">Loading collections…</p>
          ) : names.length === 0 ? (
            <div class="empty-state" data-testid="collections-empty">
              <p><strong>No collections in this database yet.</strong></p>
              <p>A collection appears with its first insert.</p>
            </div>
          ) : (
            <table class="table collections-table" data-testid="collections-table">
              <caption class="visually-hidden">Collections with their record counts</caption>
              <thead>
                <tr><th scope="col">Collection</th><th scope="col" class="num">Records</th></tr>
              </thead>
              <tbody>
                {names.map((name) => (
                  <tr key={name} class={name === selected ? 'selected' : undefined}>
                    <td>
                      <a href={href('collections', { db, collection: name })} aria-current={name === selected ? 'true' : undefined}>{name}</a>
                    </td>
                    <td class="num">{formatNumber(counts[name])}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </section>
        <section class="split-main" aria-labelledby="records-title">
          {selected ? (
            <RecordBrowser key={`${db}/${selected}`} db={db} collection={selected} skip={skip} total={counts[selected]} />
          ) : (
            <div class="empty-state">
              <h2 id="records-title" class="section-title">Records</h2>
              <p>Choose a collection to browse its records.</p>
            </div>
          )}
        </section>
      </div>
    </main>
  );
}

interface RecordBrowserProps {
  db: string;
  collection: string;
  skip: number;
  total: number | undefined;
}

function RecordBrowser({ db, collection, skip, total }: RecordBrowserProps) {
  const [records, setRecords] = useState<Record<string, unknown>[] | null>(null);
  const [hasNext, setHasNext] = useState(false);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    const controller = new AbortController();
    setRecords(null);
    setError(null);
    // One more than a page tells whether a next page exists without counting.
    request<Record<string, unknown>[]>(`/api/find/${encodeURIComponent(collection)}`, {
      query: { limit: PAGE_SIZE + 1, skip, db },
      signal: controller.signal,
    })
      .then((rows) => {
        const list = Array.isArray(rows) ? rows : [];
        setHasNext(list.length > PAGE_SIZE);
        setRecords(list.slice(0, PAGE_SIZE));
      })
      .catch((failure: unknown) => {
        if (!isAbort(failure)) setError(errorMessage(failure));
      });
    return () => controller.abort();
  }, [db, collection, skip]);

  const go = (nextSkip: number) => navigate(href('collections', { db, collection, skip: nextSkip > 0 ? nextSkip : undefined }));
  const first = skip + 1;
  const last = skip + (records?.length ?? 0);

  return (
    <div class="record-browser" data-testid="record-browser">
      <div class="section-header">
        <h2 id="records-title" class="section-title">Records in <code>{collection}</code></h2>
        <a class="button button-small button-quiet" href={href('collections', { db })}>Close</a>
      </div>
      {error ? (
        <p class="alert alert-error" role="alert">{error}</p>
      ) : records === null ? (
        <p class="loading" aria-busy="true">Loading records…</p>
      ) : records.length === 0 ? (
        <div class="empty-state" data-testid="records-empty"><p><strong>No records</strong></p>{skip > 0 ? <p>This page is past the last record.</p> : null}</div>
      ) : (
        <DataTable columns={unionColumns(records)} rows={records} caption={`Records in ${collection}`} testId="records-table" />
      )}
      <nav class="pager" aria-label="Record pages">
        <button type="button" class="button button-small" disabled={skip === 0 || records === null} onClick={() => go(Math.max(0, skip - PAGE_SIZE))}>
          Previous
        </button>
        <span class="pager-info" data-testid="pager-info" aria-live="polite">
          {records && records.length > 0
            ? `Records ${formatNumber(first)}–${formatNumber(last)}${total !== undefined ? ` of ${formatNumber(total)}` : ''}`
            : ''}
        </span>
        <button type="button" class="button button-small" disabled={!hasNext || records === null} onClick={() => go(skip + PAGE_SIZE)}>
          Next
        </button>
      </nav>
    </div>
  );
}
