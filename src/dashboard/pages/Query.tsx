/** SQL console (admins): `POST /api/query?db=` with the statement; Ctrl/Cmd+Enter runs it. */
import { useRef, useState } from 'preact/hooks';
import { errorMessage, request } from '../api';
import { DatabasePicker } from '../components/DatabasePicker';
import { DataTable } from '../components/DataTable';
import { PageHeading } from '../components/PageHeading';
import { formatMs, formatNumber } from '../format';
import { href, navigate } from '../router';
import type { QueryResult } from '../types';

export function Query({ params }: { params: URLSearchParams }) {
  const db = params.get('db') || 'default';
  const [sql, setSql] = useState('');
  const [answer, setAnswer] = useState<QueryResult | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const run = useRef(0);

  const execute = async () => {
    if (busy) return;
    const statement = sql.trim();
    if (!statement) {
      setError('Enter a SQL statement to run.');
      document.getElementById('query-sql')?.focus();
      return;
    }
    const id = ++run.current;
    setBusy(true);
    setError(null);
    try {
      const result = await request<QueryResult>('/api/query', { method: 'POST', query: { db }, body: { sql: statement } });
      if (id !== run.current) return;
      setAnswer(result);
    } catch (failure) {
      if (id !== run.current) return;
      setAnswer(null);
      setError(errorMessage(failure));
    } finally {
      if (id === run.current) setBusy(false);
    }
  };

  const onKeyDown = (event: KeyboardEvent) => {
    if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      void execute();
    }
  };

  const columns = answer ? (answer.columns?.length ? answer.columns : Object.keys(answer.result?.[0] ?? {})) : [];
  const rows = answer?.result ?? [];

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
        </div>
      </form>

      {error ? <p class="alert alert-error alert-pre" role="alert" data-testid="query-error">{error}</p> : null}
      <section aria-labelledby="results-title" class="results">
        <h2 id="results-title" class="section-title">Results</h2>
        {answer === null ? (
          <p class="muted">{busy ? 'Running…' : 'Run a statement to see its results here.'}</p>
        ) : (
          <>
            <p class="result-summary" data-testid="query-summary" role="status">
              {formatNumber(answer.rowCount ?? rows.length)} row{(answer.rowCount ?? rows.length) === 1 ? '' : 's'} · {formatMs(answer.elapsedMs)} ms
            </p>
            {columns.length === 0 ? (
              <div class="empty-state"><p>The statement ran and returned no columns.</p></div>
            ) : (
              <DataTable columns={columns} rows={rows} caption="Query results" testId="query-results" />
            )}
          </>
        )}
      </section>
    </main>
  );
}
