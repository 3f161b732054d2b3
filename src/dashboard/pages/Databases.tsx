/**
 * Databases (admin): the list with each one's collection count, Create database, and Drop, which
 * asks for the name to be typed first (a drop deletes the file and every record in it).
 * `GET /api/databases`, `GET /api/collections?db=`, `POST /api/databases`, `DELETE /api/databases/:name`.
 */
import { useCallback, useEffect, useState } from 'preact/hooks';
import { errorMessage, isAbort, request } from '../api';
import { Modal } from '../components/Modal';
import { PageHeading } from '../components/PageHeading';
import { formatNumber } from '../format';
import { href } from '../router';
import { useAction } from '../use-action';

/** The server's rule for a database name (src/data: a file name in DATA_DIR). */
const DATABASE_NAME = /^[a-z][a-z0-9_-]{0,62}$/;

export function Databases() {
  const [names, setNames] = useState<string[] | null>(null);
  const [collections, setCollections] = useState<Record<string, number | null>>({});
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [dropping, setDropping] = useState<string | null>(null);
  const [newName, setNewName] = useState('');
  const [creating, setCreating] = useState(false);
  const [createError, setCreateError] = useState<string | null>(null);

  const load = useCallback(async (signal?: AbortSignal) => {
    try {
      const answer = await request<{ databases: string[] }>('/api/databases', { signal });
      const list = [...(answer.databases ?? [])].sort((a, b) => a.localeCompare(b));
      setNames(list);
      setError(null);
      const counts = await Promise.all(list.map((name) =>
        request<{ collections: string[] }>('/api/collections', { query: { db: name }, signal })
          .then((found) => (found.collections ?? []).length)
          .catch(() => null)));
      setCollections(Object.fromEntries(list.map((name, index) => [name, counts[index] ?? null])));
    } catch (failure) {
      if (!isAbort(failure)) setError(errorMessage(failure));
    }
  }, []);

  useEffect(() => {
    const controller = new AbortController();
    void load(controller.signal);
    return () => controller.abort();
  }, [load]);

  const submit = async (event: Event) => {
    event.preventDefault();
    if (creating) return;
    const name = newName.trim();
    setNotice(null);
    if (!DATABASE_NAME.test(name)) {
      setCreateError('A database name starts with a lower-case letter and has up to 63 lower-case letters, digits, "_" or "-".');
      document.getElementById('new-database')?.focus();
      return;
    }
    setCreating(true);
    setCreateError(null);
    try {
      await request('/api/databases', { method: 'POST', body: { name } });
      setNewName('');
      setNotice(`Database "${name}" created.`);
      void load();
    } catch (failure) {
      setCreateError(errorMessage(failure));
    } finally {
      setCreating(false);
    }
  };

  return (
    <main id="main" class="page">
      <div class="page-header">
        <PageHeading>Databases</PageHeading>
      </div>
      <p class="lede">Each database is a DuckDB file in the data directory. Keys reach another database's collections as <code>database.collection</code>.</p>
      <p class="notice" role="status" data-testid="databases-notice">{notice ?? ''}</p>

      <form class="search-bar" onSubmit={(event) => void submit(event)} noValidate data-testid="create-database">
        <label for="new-database">New database</label>
        <input id="new-database" type="text" value={newName} placeholder="analytics" autocomplete="off" spellcheck={false}
          aria-invalid={createError ? 'true' : undefined} onInput={(event) => { setNewName(event.currentTarget.value); setCreateError(null); }} />
        <button type="submit" class="button button-primary" disabled={creating}>{creating ? 'Creating…' : 'Create database'}</button>
      </form>
      {createError ? <p class="alert alert-error" role="alert" data-testid="create-database-error">{createError}</p> : null}

      {error ? (
        <p class="alert alert-error" role="alert">Could not list databases: {error}</p>
      ) : names === null ? (
        <p class="loading" aria-busy="true">Loading databases…</p>
      ) : (
        <div class="table-scroll table-cards">
          <table class="table" data-testid="databases-table">
            <caption class="visually-hidden">Databases</caption>
            <thead><tr><th scope="col">Database</th><th scope="col" class="num">Collections</th><th scope="col">Actions</th></tr></thead>
            <tbody>
              {names.map((name) => (
                <tr key={name} data-database={name}>
                  <td data-cell="Database"><a href={href('collections', { db: name })}><code>{name}</code></a></td>
                  <td data-cell="Collections" class="num">{formatNumber(collections[name] ?? undefined)}</td>
                  <td data-cell="Actions">
                    {name === 'default' ? <span class="muted small">The default database cannot be dropped</span> : (
                      <button type="button" class="button button-small button-danger-quiet" aria-label={`Drop ${name}`} onClick={() => { setNotice(null); setDropping(name); }}>
                        Drop
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {dropping ? (
        <DropDatabaseDialog
          name={dropping}
          onCancel={() => setDropping(null)}
          onDone={() => {
            setNotice(`Database "${dropping}" dropped.`);
            setDropping(null);
            void load();
          }}
        />
      ) : null}
    </main>
  );
}

function DropDatabaseDialog({ name, onCancel, onDone }: { name: string; onCancel: () => void; onDone: () => void }) {
  const { busy, error, run } = useAction();
  const [typed, setTyped] = useState('');
  const confirm = (event: Event) => {
    event.preventDefault();
    if (typed !== name || busy) return;
    void run(async () => {
      await request(`/api/databases/${encodeURIComponent(name)}`, { method: 'DELETE' });
      onDone();
    });
  };
  return (
    <Modal title="Drop database?" onClose={onCancel} busy={busy} testId="drop-database-dialog">
      <form class="form" onSubmit={confirm} noValidate>
        <p>Dropping <code>{name}</code> deletes its file and every record in it. This cannot be undone.</p>
        <div class="field">
          <label for="drop-confirm">Type <code>{name}</code> to confirm</label>
          <input id="drop-confirm" type="text" value={typed} autocomplete="off" spellcheck={false} autofocus onInput={(event) => setTyped(event.currentTarget.value)} />
        </div>
        {error ? <p class="alert alert-error" role="alert">{error}</p> : null}
        <div class="actions">
          <button type="button" class="button" onClick={onCancel} disabled={busy}>Cancel</button>
          <button type="submit" class="button button-danger" disabled={busy || typed !== name}>{busy ? 'Dropping…' : 'Drop database'}</button>
        </div>
      </form>
    </Modal>
  );
}
