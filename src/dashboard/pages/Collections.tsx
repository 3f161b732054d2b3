/**
 * Collections of a database with their row counts, and a record browser for one of them
 * (`POST /api/find/:collection` with the find language's filter and sort, paged with
 * Previous/Next), its schema (`GET /api/tables/:name/schema`) and a CSV export. State lives in the
 * hash: `#/collections?db=default&collection=notes&skip=25&sort=rank&dir=desc&filter={…}`.
 */
import { useEffect, useState } from 'preact/hooks';
import { errorMessage, isAbort, request } from '../api';
import { DatabasePicker } from '../components/DatabasePicker';
import { DataTable, unionColumns } from '../components/DataTable';
import { PageHeading } from '../components/PageHeading';
import { download, toCsv } from '../csv';
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
            <RecordBrowser key={`${db}/${selected}`} db={db} collection={selected} skip={skip} total={counts[selected]} params={params} />
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
  params: URLSearchParams;
}

/** The find language's comparison operators (ekoDB's, `POST /api/find`). */
const OPERATORS = [
  { value: 'Eq', label: '= equals' },
  { value: 'Ne', label: '≠ not equal' },
  { value: 'Gt', label: '> greater than' },
  { value: 'Gte', label: '≥ at least' },
  { value: 'Lt', label: '< less than' },
  { value: 'Lte', label: '≤ at most' },
  { value: 'In', label: 'in (comma-separated)' },
] as const;

/** Records an export fetches at most (the server may stop sooner, at MAX_RESULT_ROWS). */
export const EXPORT_LIMIT = 10_000;

interface SchemaColumn {
  column_name: string;
  column_type: string;
  null: string;
  key: string | null;
  default_value: string | null;
}

/** A typed value as JSON when it is JSON (`5`, `true`, `null`, `"5"`), otherwise as text. */
function parseValue(text: string): unknown {
  const trimmed = text.trim();
  try {
    return JSON.parse(trimmed);
  } catch {
    return text;
  }
}

function conditionFilter(field: string, operator: string, value: string): unknown {
  const parsed = operator === 'In' ? value.split(',').map((part) => parseValue(part)) : parseValue(value);
  return { type: 'Condition', content: { field, operator, value: parsed } };
}

function RecordBrowser({ db, collection, skip, total, params }: RecordBrowserProps) {
  const sortField = params.get('sort') || null;
  const ascending = params.get('dir') !== 'desc';
  const filterText = params.get('filter') || '';
  const [records, setRecords] = useState<Record<string, unknown>[] | null>(null);
  const [hasNext, setHasNext] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [schema, setSchema] = useState<SchemaColumn[] | null>(null);
  const [showSchema, setShowSchema] = useState(false);
  const [field, setField] = useState('');
  const [operator, setOperator] = useState('Eq');
  const [value, setValue] = useState('');
  const [jsonMode, setJsonMode] = useState(false);
  const [jsonText, setJsonText] = useState(filterText);
  const [formError, setFormError] = useState<string | null>(null);
  const [exporting, setExporting] = useState(false);
  const [exportNote, setExportNote] = useState<string | null>(null);

  let filter: unknown = undefined;
  let filterProblem: string | null = null;
  if (filterText) {
    try {
      filter = JSON.parse(filterText);
    } catch {
      filterProblem = 'The filter in the address is not valid JSON.';
    }
  }
  const sort = sortField ? [{ field: sortField, ascending }] : undefined;

  useEffect(() => {
    const controller = new AbortController();
    request<{ columns: SchemaColumn[] }>(`/api/tables/${encodeURIComponent(collection)}/schema`, { query: { db }, signal: controller.signal })
      .then((answer) => setSchema(Array.isArray(answer.columns) ? answer.columns : []))
      .catch(() => setSchema([]));
    return () => controller.abort();
  }, [db, collection]);

  useEffect(() => setJsonText(filterText), [filterText]);

  useEffect(() => {
    const controller = new AbortController();
    setRecords(null);
    setError(null);
    if (filterProblem) {
      setError(filterProblem);
      return;
    }
    // One more than a page tells whether a next page exists without counting.
    request<Record<string, unknown>[]>(`/api/find/${encodeURIComponent(collection)}`, {
      method: 'POST',
      query: { db },
      body: { limit: PAGE_SIZE + 1, skip, ...(sort ? { sort } : {}), ...(filter !== undefined ? { filter } : {}) },
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
  }, [db, collection, skip, sortField, ascending, filterText]);

  const show = (next: { skip?: number; sort?: string | null; dir?: 'asc' | 'desc'; filter?: string }) => navigate(href('collections', {
    db, collection,
    skip: next.skip && next.skip > 0 ? next.skip : undefined,
    sort: (next.sort === undefined ? sortField : next.sort) ?? undefined,
    dir: (next.dir ?? (ascending ? 'asc' : 'desc')) === 'desc' ? 'desc' : undefined,
    filter: (next.filter === undefined ? filterText : next.filter) || undefined,
  }));
  const go = (nextSkip: number) => show({ skip: nextSkip });
  const onSort = (column: string) => show({ skip: 0, sort: column, dir: sortField === column && ascending ? 'desc' : 'asc' });

  const applyFilter = (event: Event) => {
    event.preventDefault();
    setFormError(null);
    if (jsonMode) {
      const text = jsonText.trim();
      if (!text) return show({ skip: 0, filter: '' });
      try {
        const parsed: unknown = JSON.parse(text);
        if (!parsed || typeof parsed !== 'object' || !('type' in parsed)) throw new Error('shape');
        show({ skip: 0, filter: JSON.stringify(parsed) });
      } catch {
        setFormError('Enter a filter in the find language, e.g. {"type":"Condition","content":{"field":"rank","operator":"Gt","value":5}}.');
      }
      return;
    }
    if (!field) {
      setFormError('Choose a field to filter on.');
      return;
    }
    show({ skip: 0, filter: JSON.stringify(conditionFilter(field, operator, value)) });
  };

  const exportCsv = async () => {
    setExporting(true);
    setExportNote(null);
    let truncated = false;
    try {
      const rows = await request<Record<string, unknown>[]>(`/api/find/${encodeURIComponent(collection)}`, {
        method: 'POST',
        query: { db },
        body: { limit: EXPORT_LIMIT, skip: 0, ...(sort ? { sort } : {}), ...(filter !== undefined ? { filter } : {}) },
        onHeaders: (headers) => { truncated = headers.get('Duckgate-Truncated') !== null; },
      });
      const list = Array.isArray(rows) ? rows : [];
      const columns = schema?.length ? [...new Set([...schema.map((c) => c.column_name), ...unionColumns(list)])] : unionColumns(list);
      download(`${db}-${collection}.csv`, toCsv(columns, list));
      setExportNote(truncated || list.length >= EXPORT_LIMIT
        ? `Exported the first ${formatNumber(list.length)} matching records: there are more (the export stops at ${formatNumber(EXPORT_LIMIT)}, or sooner at the server's MAX_RESULT_ROWS). Narrow the filter, or use the API for everything.`
        : `Exported ${formatNumber(list.length)} record${list.length === 1 ? '' : 's'}.`);
    } catch (failure) {
      setExportNote(`Export failed: ${errorMessage(failure)}`);
    } finally {
      setExporting(false);
    }
  };

  const first = skip + 1;
  const last = skip + (records?.length ?? 0);
  const fieldNames = schema?.map((column) => column.column_name) ?? (records ? unionColumns(records) : []);
  const columns = records && records.length ? unionColumns(records) : fieldNames;

  return (
    <div class="record-browser" data-testid="record-browser">
      <div class="section-header">
        <h2 id="records-title" class="section-title">Records in <code>{collection}</code></h2>
        <div class="header-tools">
          <button type="button" class="button button-small" aria-expanded={showSchema ? 'true' : 'false'} onClick={() => setShowSchema((open) => !open)}>
            {showSchema ? 'Hide schema' : 'Schema'}
          </button>
          <button type="button" class="button button-small" onClick={() => void exportCsv()} disabled={exporting}>{exporting ? 'Exporting…' : 'Export CSV'}</button>
          <a class="button button-small button-quiet" href={href('collections', { db })}>Close</a>
        </div>
      </div>
      {exportNote ? <p class="muted small" role="status" data-testid="export-note">{exportNote}</p> : null}
      {showSchema ? (
        schema === null ? <p class="loading">Loading the schema…</p> : (
          <DataTable
            columns={['column', 'type', 'nullable', 'key', 'default']}
            rows={schema.map((c) => ({ column: c.column_name, type: c.column_type, nullable: c.null, key: c.key, default: c.default_value }))}
            caption={`Schema of ${collection}`}
            testId="schema-table"
            empty="No columns"
          />
        )
      ) : null}

      <form class="browser-tools" onSubmit={applyFilter} noValidate data-testid="record-filter">
        {jsonMode ? (
          <div class="field">
            <label for="filter-json">Filter (find language, JSON)</label>
            <textarea id="filter-json" rows={3} spellcheck={false} value={jsonText} onInput={(event) => setJsonText(event.currentTarget.value)}
              placeholder='{"type":"Logical","content":{"operator":"And","expressions":[…]}}' />
          </div>
        ) : (
          <>
            <div class="field">
              <label for="filter-field">Field</label>
              <select id="filter-field" value={field} onChange={(event) => setField(event.currentTarget.value)}>
                <option value="">Choose…</option>
                {fieldNames.map((name) => <option key={name} value={name}>{name}</option>)}
              </select>
            </div>
            <div class="field">
              <label for="filter-operator">Operator</label>
              <select id="filter-operator" value={operator} onChange={(event) => setOperator(event.currentTarget.value)}>
                {OPERATORS.map((op) => <option key={op.value} value={op.value}>{op.label}</option>)}
              </select>
            </div>
            <div class="field">
              <label for="filter-value">Value</label>
              <input id="filter-value" type="text" value={value} autocomplete="off" spellcheck={false} aria-describedby="filter-value-hint"
                onInput={(event) => setValue(event.currentTarget.value)} />
              <span class="hint" id="filter-value-hint">Numbers, true, false and null as such; "5" in quotes for text.</span>
            </div>
          </>
        )}
        <div class="actions">
          <button type="submit" class="button button-small button-primary">Filter</button>
          {filterText ? <button type="button" class="button button-small" onClick={() => show({ skip: 0, filter: '' })}>Clear filter</button> : null}
          <button type="button" class="button button-small button-quiet" onClick={() => { setJsonMode((on) => !on); setFormError(null); }}>
            {jsonMode ? 'Simple filter' : 'Edit as JSON'}
          </button>
        </div>
      </form>
      {formError ? <p class="alert alert-error" role="alert" data-testid="filter-error">{formError}</p> : null}
      {filterText && !filterProblem ? <p class="muted small" data-testid="active-filter">Filtered by <code>{filterText}</code></p> : null}

      {error ? (
        <p class="alert alert-error" role="alert" data-testid="records-error">{error}</p>
      ) : records === null ? (
        <p class="loading" aria-busy="true">Loading records…</p>
      ) : records.length === 0 ? (
        <div class="empty-state" data-testid="records-empty"><p><strong>No records</strong></p>{skip > 0 ? <p>This page is past the last record.</p> : filterText ? <p>None match the filter.</p> : null}</div>
      ) : (
        <DataTable columns={columns} rows={records} caption={`Records in ${collection}`} testId="records-table"
          sort={sortField ? { field: sortField, ascending } : null} onSort={onSort} />
      )}
      <nav class="pager" aria-label="Record pages">
        <button type="button" class="button button-small" disabled={skip === 0 || records === null} onClick={() => go(Math.max(0, skip - PAGE_SIZE))}>
          Previous
        </button>
        <span class="pager-info" data-testid="pager-info" aria-live="polite">
          {records && records.length > 0
            ? `Records ${formatNumber(first)}–${formatNumber(last)}${total !== undefined && !filterText ? ` of ${formatNumber(total)}` : ''}`
            : ''}
        </span>
        <button type="button" class="button button-small" disabled={!hasNext || records === null} onClick={() => go(skip + PAGE_SIZE)}>
          Next
        </button>
      </nav>
    </div>
  );
}
