/**
 * SQL console (admins): `POST /api/query?db=` with the statement; Ctrl/Cmd+Enter runs it, Cancel
 * abandons it. Only the first `RENDERED_ROWS` rows become table rows (a browser freezes on 100,000
 * `<tr>`), with a notice saying so; when the server cut the answer short at its result budget
 * (`truncated`/`truncatedBy` in the body, `Duckgate-Truncated` on the answer), that is said too.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { errorMessage, isAbort, request } from '../api';
import { DatabasePicker } from '../components/DatabasePicker';
import { DataTable } from '../components/DataTable';
import { PageHeading } from '../components/PageHeading';
import { formatMs, formatNumber } from '../format';
import { href, navigate } from '../router';
import { clearHistory, loadDraft, loadHistory, remember, saveDraft } from '../query-history';
import type { QueryResult } from '../types';

/** Table rows rendered at most; the rest of the answer stays in memory, unrendered. */
export const RENDERED_ROWS = 500;

type TruncatedBy = 'rows' | 'bytes';

/** The answer plus the server's truncation signal (DESIGN: result budgets), from the body or the header. */
interface QueryAnswer extends QueryResult {
  truncated?: boolean;
  truncatedBy?: TruncatedBy;
}

export function Query({ params }: { params: URLSearchParams }) {
  const db = params.get('db') || 'default';
  const [sql, setSqlState] = useState(loadDraft);
  const setSql = (text: string) => {
    saveDraft(text);
    setSqlState(text);
  };
  const [history, setHistory] = useState<string[]>(loadHistory);
  const [answer, setAnswer] = useState<QueryAnswer | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const run = useRef(0);
  const inFlight = useRef<AbortController | null>(null);

  // Leaving the page abandons a running statement: nobody is left to read its answer.
  useEffect(() => () => inFlight.current?.abort(), []);

  const execute = async () => {
    if (busy) return;
    const statement = sql.trim();
    if (!statement) {
      setError('Enter a SQL statement to run.');
      document.getElementById('query-sql')?.focus();
      return;
    }
    setHistory(remember(statement));
    const id = ++run.current;
    const controller = new AbortController();
    inFlight.current = controller;
    setBusy(true);
    setError(null);
    setNotice(null);
    let header: string | null = null;
    try {
      const result = await request<QueryAnswer>('/api/query', {
        method: 'POST',
        query: { db },
        body: { sql: statement },
        signal: controller.signal,
        onHeaders: (headers) => (header = headers.get('Duckgate-Truncated')),
      });
      if (id !== run.current) return;
      setAnswer(withTruncation(result, header));
    } catch (failure) {
      if (id !== run.current || isAbort(failure)) return;
      setAnswer(null);
      setError(errorMessage(failure));
    } finally {
      if (id === run.current) {
        setBusy(false);
        inFlight.current = null;
      }
    }
  };

  const cancel = () => {
    inFlight.current?.abort();
    inFlight.current = null;
    // A later answer of the abandoned run is ignored, like any superseded run's.
    run.current++;
    setBusy(false);
    setAnswer(null);
    setNotice('Query cancelled.');
    document.getElementById('query-sql')?.focus();
  };

  const onKeyDown = (event: KeyboardEvent) => {
    if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      void execute();
    }
  };

  const columns = answer ? (answer.columns?.length ? answer.columns : Object.keys(answer.result?.[0] ?? {})) : [];
  const rows = answer?.result ?? [];
  const shown = rows.length > RENDERED_ROWS ? rows.slice(0, RENDERED_ROWS) : rows;
  const total = answer?.rowCount ?? rows.length;

  return (
    <main id="main" class="page">
      <div class="page-header">
        <PageHeading>Query</PageHeading>
        <DatabasePicker value={db} onChange={(name) => navigate(href('query', { db: name }))} />
      </div>
      <form
        class="query-form"
        onSubmit={(event) => {
          event.preventDefault();
          void execute();
        }}
        noValidate
      >
        <div class="field">
          <label for="query-sql">SQL</label>
          <textarea
            id="query-sql"
            class="sql-editor"
            rows={8}
            value={sql}
            spellcheck={false}
            autocomplete="off"
            placeholder="SELECT * FROM notes LIMIT 10"
            aria-describedby="query-hint"
            onInput={(event) => setSql(event.currentTarget.value)}
            onKeyDown={onKeyDown}
          />
          <span class="hint" id="query-hint">Ctrl+Enter (⌘+Enter on a Mac) runs the statement. Admin sessions may run any statement.</span>
        </div>
        <div class="actions actions-start">
          <button type="submit" class="button button-primary" disabled={busy}>{busy ? 'Running…' : 'Run'}</button>
          {busy ? <button type="button" class="button" onClick={cancel} data-testid="query-cancel">Cancel</button> : null}
        </div>
      </form>

      {history.length ? (
        <details class="group" data-testid="query-history">
          <summary>History ({history.length}) <span class="muted small">kept in this browser; statements holding an API key are not kept</span></summary>
          <ul class="history">
            {history.map((statement) => (
              <li key={statement}>
                <button type="button" class="button button-small button-quiet" title={statement} onClick={() => {
                  setSql(statement);
                  document.getElementById('query-sql')?.focus();
                }}>{statement}</button>
              </li>
            ))}
          </ul>
          <button type="button" class="button button-small" onClick={() => { clearHistory(); setHistory([]); }}>Clear history</button>
        </details>
      ) : null}

      {error ? <p class="alert alert-error alert-pre" role="alert" data-testid="query-error">{error}</p> : null}
      <section aria-labelledby="results-title" class="results">
        <h2 id="results-title" class="section-title">Results</h2>
        {answer === null ? (
          <p class="muted" role="status" data-testid="query-status">{busy ? 'Running…' : notice ?? 'Run a statement to see its results here.'}</p>
        ) : (
          <>
            <p class="result-summary" data-testid="query-summary" role="status">
              {formatNumber(total)} row{total === 1 ? '' : 's'} · {formatMs(answer.elapsedMs)} ms
            </p>
            {answer.truncated ? (
              <p class="alert alert-warning" data-testid="query-truncated">
                The server cut this answer short at its {answer.truncatedBy === 'bytes' ? 'size' : 'row'} limit
                ({answer.truncatedBy === 'bytes' ? 'MAX_RESULT_BYTES' : 'MAX_RESULT_ROWS'}): the statement has more rows than these.
                Add a <code>LIMIT</code>, a filter or an aggregate to see what you need.
              </p>
            ) : null}
            {shown.length < rows.length ? (
              <p class="alert alert-info" data-testid="query-render-notice">
                Showing the first {formatNumber(shown.length)} of {formatNumber(rows.length)} rows.
              </p>
            ) : null}
            {columns.length === 0 ? (
              <div class="empty-state"><p>The statement ran and returned no columns.</p></div>
            ) : (
              <DataTable columns={columns} rows={shown} caption="Query results" testId="query-results" />
            )}
          </>
        )}
      </section>
    </main>
  );
}

/** The body's signal wins; an answer that only has the header (a proxy kept it, say) still says it was cut. */
function withTruncation(result: QueryAnswer, header: string | null): QueryAnswer {
  if (result.truncated !== undefined || header === null) return result;
  const by = header.trim().toLowerCase();
  return { ...result, truncated: true, truncatedBy: by === 'bytes' ? 'bytes' : 'rows' };
}
