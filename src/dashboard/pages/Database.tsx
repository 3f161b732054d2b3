/**
 * One database's operations: its source and last sync, live sync progress (`/sync/events`, else
 * polling, else nothing when the server has no source sync), validation, automation schedules,
 * and backups with a verified restore. Each section loads on its own, so one failing (a route
 * missing on an older server, a database without a source) leaves the others working.
 */
import { useCallback, useEffect, useId, useState } from 'preact/hooks';
import { ApiError, errorMessage, isAbort, request } from '../api';
import { DatabasePicker } from '../components/DatabasePicker';
import { PageHeading } from '../components/PageHeading';
import { formatBytes, formatDate, formatNumber } from '../format';
import { navigate, href } from '../router';
import {
  followSyncEvents, formatInterval,
  type AutomationStatus, type Backup, type Schedule, type SyncProgress, type SyncStatus, type Validation,
} from '../database-api';

export function Database({ params }: { params: URLSearchParams }) {
  const db = params.get('db') || 'default';
  return (
    <main id="main" class="page">
      <div class="page-header">
        <PageHeading>Database <code>{db}</code></PageHeading>
        <div class="header-tools">
          <DatabasePicker value={db} onChange={(name) => navigate(href('database', { db: name }))} />
        </div>
      </div>
      <SyncSection key={`sync-${db}`} db={db} />
      <SchedulesSection key={`schedules-${db}`} db={db} />
      <BackupsSection key={`backups-${db}`} db={db} />
    </main>
  );
}

/** One button's request: `busy` while it runs (and only then: the page stays), the server's error text after a failure. */
function useTask() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const run = async (send: () => Promise<void>): Promise<boolean> => {
    setBusy(true);
    setError(null);
    try {
      await send();
      return true;
    } catch (failure) {
      setError(errorMessage(failure));
      return false;
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, setError, run };
}

function SyncSection({ db }: { db: string }) {
  const [status, setStatus] = useState<SyncStatus | null>(null);
  const [unavailable, setUnavailable] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [progress, setProgress] = useState<SyncProgress | null>(null);
  const [live, setLive] = useState<'stream' | 'polling' | null>(null);
  const [validation, setValidation] = useState<Validation | null>(null);
  const validate = useTask();
  const run = useTask();

  const load = useCallback(async (signal?: AbortSignal) => {
    try {
      const answer = await request<SyncStatus>('/sync/status', { query: { db }, signal });
      setStatus(answer);
      setProgress(answer.progress);
      setError(null);
    } catch (failure) {
      if (isAbort(failure)) return;
      // An older server (or one built without source sync) has no /sync routes: say so, quietly.
      if (failure instanceof ApiError && failure.status === 404 && /^Route /.test(failure.message)) setUnavailable(true);
      else setError(errorMessage(failure));
    }
  }, [db]);

  useEffect(() => {
    const controller = new AbortController();
    void load(controller.signal);
    return () => controller.abort();
  }, [load]);

  // Live progress: the event stream; if it cannot be had, poll while a sync runs.
  useEffect(() => {
    if (unavailable || status === null) return;
    let timer: ReturnType<typeof setInterval> | undefined;
    const stop = followSyncEvents(db, (next) => {
      setLive('stream');
      setProgress(next);
    }, () => void load(), () => {
      setLive('polling');
      timer = setInterval(() => {
        request<SyncProgress>('/sync/progress', { query: { db } }).then(setProgress, () => undefined);
      }, 2000);
    });
    return () => {
      stop();
      clearInterval(timer);
    };
  }, [db, unavailable, status === null]);

  if (unavailable) {
    return (
      <section aria-labelledby="sync-title">
        <h2 id="sync-title" class="section-title">Source and sync</h2>
        <p class="muted" data-testid="sync-unavailable">Source sync is not available on this server.</p>
      </section>
    );
  }
  const running = progress?.inProgress === true;
  return (
    <section aria-labelledby="sync-title" data-testid="sync-section">
      <div class="section-header">
        <h2 id="sync-title" class="section-title">Source and sync</h2>
        {live ? <span class="muted small" data-testid="sync-live">{live === 'stream' ? 'Live' : 'Polling'}</span> : null}
      </div>
      {error ? <p class="alert alert-error" role="alert">{error}</p> : null}
      {status === null && !error ? <p class="loading" aria-busy="true">Loading sync status…</p> : null}
      {status ? (
        <dl class="cards">
          <div class="card"><dt>Source</dt><dd data-testid="sync-source">{status.source ? <code>{status.source}</code> : <span class="muted">No source</span>}</dd></div>
          <div class="card">
            <dt>Last sync</dt>
            <dd data-testid="sync-last">
              {status.lastRun ? (
                <>
                  <span class={status.lastRun.status === 'success' ? 'badge badge-ok' : 'badge badge-bad'}>{status.lastRun.status}</span>{' '}
                  {status.lastRun.type}, {formatNumber(status.lastRun.totalRecords)} rows, {formatDate(status.lastRun.finishedAt)}
                </>
              ) : <span class="muted">Never</span>}
            </dd>
          </div>
          <div class="card">
            <dt>Progress</dt>
            <dd data-testid="sync-progress" aria-live="polite">
              {running && progress ? (
                <>
                  <progress max={Math.max(1, progress.tablesTotal)} value={progress.tablesCompleted} />{' '}
                  {progress.tablesCompleted}/{progress.tablesTotal} tables{progress.currentTable ? `, ${progress.currentTable}` : ''}, {formatNumber(progress.recordsProcessed)} rows
                </>
              ) : <span class="muted">Idle</span>}
            </dd>
          </div>
        </dl>
      ) : null}
      {status?.source ? (
        <div class="actions actions-start">
          <button type="button" class="button" disabled={run.busy || running} onClick={() => void run.run(async () => {
            await request('/sync/incremental', { method: 'POST', query: { db, wait: 'false' }, acceptStatuses: [202] });
            run.setError(null);
          }).then(() => setTimeout(() => void load(), 500))}>Sync changes now</button>
          <button type="button" class="button" disabled={validate.busy} onClick={() => void validate.run(async () => {
            setValidation(await request<Validation>('/sync/validate', { query: { db } }));
          })}>{validate.busy ? 'Validating…' : 'Validate'}</button>
        </div>
      ) : null}
      {run.error ? <p class="alert alert-error" role="alert">{run.error}</p> : null}
      {validate.error ? <p class="alert alert-error" role="alert">{validate.error}</p> : null}
      {validation ? (
        <div data-testid="sync-validation">
          <p>{validation.valid ? <span class="badge badge-ok">Source and DuckDB match</span> : <span class="badge badge-bad">Differences found</span>}</p>
          <table class="table">
            <thead><tr><th scope="col">Table</th><th scope="col" class="num">Source rows</th><th scope="col" class="num">DuckDB rows</th><th scope="col">Checksum</th></tr></thead>
            <tbody>{validation.tables.map((t) => (
              <tr key={t.table}><td><code>{t.table}</code></td><td class="num">{formatNumber(t.sourceRows)}</td><td class="num">{formatNumber(t.duckdbRows)}</td>
                <td>{t.match ? <span class="badge badge-ok">match</span> : <span class="badge badge-bad">differs</span>}</td></tr>
            ))}</tbody>
          </table>
        </div>
      ) : null}
    </section>
  );
}

function SchedulesSection({ db }: { db: string }) {
  const [status, setStatus] = useState<AutomationStatus | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [kind, setKind] = useState<Schedule['kind']>('backup');
  const [minutes, setMinutes] = useState('1440');
  const [keep, setKeep] = useState('');
  const save = useTask();
  const toggle = useTask();
  const ids = { kind: useId(), minutes: useId(), keep: useId() };

  const load = useCallback(async (signal?: AbortSignal) => {
    try {
      setStatus(await request<AutomationStatus>('/automation/status', { signal }));
      setError(null);
    } catch (failure) {
      if (!isAbort(failure)) setError(errorMessage(failure));
    }
  }, []);
  useEffect(() => {
    const controller = new AbortController();
    void load(controller.signal);
    return () => controller.abort();
  }, [load]);

  const schedules = (status?.schedules ?? []).filter((s) => s.database === db || s.database === '*');
  return (
    <section aria-labelledby="schedules-title" data-testid="schedules-section">
      <div class="section-header">
        <h2 id="schedules-title" class="section-title">Schedules</h2>
        {status ? (
          <div class="header-tools">
            <span data-testid="automation-state" class={status.enabled ? 'badge badge-ok' : 'badge badge-bad'}>{status.enabled ? 'Automation on' : 'Automation stopped'}</span>
            <button type="button" class="button button-small" disabled={toggle.busy} onClick={() => void toggle.run(async () => {
              setStatus(await request<AutomationStatus>(status.enabled ? '/automation/stop' : '/automation/start', { method: 'POST' }));
            })}>{status.enabled ? 'Stop automation' : 'Start automation'}</button>
          </div>
        ) : null}
      </div>
      {error ? <p class="alert alert-error" role="alert">{error}</p> : null}
      {toggle.error ? <p class="alert alert-error" role="alert">{toggle.error}</p> : null}
      {status && schedules.length === 0 ? <p class="muted" data-testid="schedules-empty">No schedules for this database.</p> : null}
      {schedules.length > 0 ? (
        <table class="table" data-testid="schedules-table">
          <thead><tr><th scope="col">Job</th><th scope="col">Interval</th><th scope="col">Next run</th><th scope="col">Last run</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
          <tbody>{schedules.map((s) => (
            <tr key={`${s.database}/${s.kind}`}>
              <td>{s.kind}{s.database === '*' ? ' (every database)' : ''}{s.options.keep !== undefined ? `, keep ${s.options.keep}` : ''}{s.enabled ? '' : ' (paused)'}</td>
              <td>{formatInterval(s.intervalSeconds)}</td>
              <td>{formatDate(s.nextRunAt)}</td>
              <td>{s.lastRunAt ? <><span class={s.lastStatus === 'ok' ? 'badge badge-ok' : 'badge badge-bad'}>{s.lastStatus}</span> {formatDate(s.lastRunAt)}{s.lastError ? ` (${s.lastError})` : ''}</> : <span class="muted">Never</span>}</td>
              <td class="row-actions">
                <button type="button" class="button button-small button-danger-quiet" onClick={() => void request(`/automation/schedules/${encodeURIComponent(s.database)}/${s.kind}`, { method: 'DELETE' }).then(() => load(), (failure: unknown) => setError(errorMessage(failure)))}>
                  Delete<span class="visually-hidden"> {s.kind} schedule</span>
                </button>
              </td>
            </tr>
          ))}</tbody>
        </table>
      ) : null}
      <form class="form-grid" data-testid="schedule-form" onSubmit={(event) => {
        event.preventDefault();
        void save.run(async () => {
          const body: Record<string, unknown> = { intervalSeconds: Math.round(Number(minutes) * 60) };
          if (kind !== 'sync' && keep.trim() !== '') body.keep = Number(keep);
          await request(`/automation/schedules/${encodeURIComponent(db)}/${kind}`, { method: 'PUT', body });
          await load();
        }).then((ok) => ok && save.setError(null));
      }}>
        <div class="field"><label for={ids.kind}>Job</label>
          <select id={ids.kind} value={kind} onChange={(e) => setKind(e.currentTarget.value as Schedule['kind'])}>
            <option value="backup">Backup</option>
            <option value="sync" disabled={status?.syncAvailable === false}>Incremental sync</option>
            <option value="cleanup">Cleanup (old backups)</option>
          </select>
        </div>
        <div class="field"><label for={ids.minutes}>Every (minutes)</label>
          <input id={ids.minutes} type="number" min={1} step={1} required value={minutes} onInput={(e) => setMinutes(e.currentTarget.value)} />
        </div>
        {kind !== 'sync' ? (
          <div class="field"><label for={ids.keep}>Backups kept <span class="optional">(optional)</span></label>
            <input id={ids.keep} type="number" min={0} step={1} value={keep} onInput={(e) => setKeep(e.currentTarget.value)} />
          </div>
        ) : null}
        <div class="actions actions-start"><button type="submit" class="button button-primary" disabled={save.busy}>Save schedule</button></div>
      </form>
      {save.error ? <p class="alert alert-error" role="alert">{save.error}</p> : null}
    </section>
  );
}

function BackupsSection({ db }: { db: string }) {
  const [backups, setBackups] = useState<Backup[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [restoring, setRestoring] = useState<Backup | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const create = useTask();

  const load = useCallback(async (signal?: AbortSignal) => {
    try {
      setBackups((await request<{ backups: Backup[] }>('/api/backups', { query: { db }, signal })).backups);
      setError(null);
    } catch (failure) {
      if (!isAbort(failure)) setError(errorMessage(failure));
    }
  }, [db]);
  useEffect(() => {
    const controller = new AbortController();
    void load(controller.signal);
    return () => controller.abort();
  }, [load]);

  return (
    <section aria-labelledby="backups-title" data-testid="backups-section">
      <div class="section-header">
        <h2 id="backups-title" class="section-title">Backups</h2>
        <button type="button" class="button" disabled={create.busy} onClick={() => void create.run(async () => {
          const answer = await request<{ backup: Backup }>('/automation/backup', { method: 'POST', query: { db } });
          setDone(`Backup ${answer.backup.id} taken.`);
          await load();
        }).then((ok) => ok && create.setError(null))}>{create.busy ? 'Backing up…' : 'Back up now'}</button>
      </div>
      {create.error ? <p class="alert alert-error" role="alert">{create.error}</p> : null}
      {error ? <p class="alert alert-error" role="alert">{error}</p> : null}
      {done ? <p class="notice" role="status" data-testid="backup-notice">{done}</p> : null}
      {backups !== null && backups.length === 0 ? <p class="muted" data-testid="backups-empty">No backups of this database yet.</p> : null}
      {backups !== null && backups.length > 0 ? (
        <div class="table-scroll">
          <table class="table" data-testid="backups-table">
            <thead><tr><th scope="col">Backup</th><th scope="col">Taken</th><th scope="col" class="num">Size</th><th scope="col">Tables</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
            <tbody>{backups.map((b) => (
              <tr key={b.id}>
                <td><code>{b.id}</code></td>
                <td>{formatDate(b.createdAt)}</td>
                <td class="num">{formatBytes(b.bytes)}</td>
                <td>{b.tables.map((t) => `${t.table} (${formatNumber(t.rows)})`).join(', ') || '—'}</td>
                <td class="row-actions"><button type="button" class="button button-small" onClick={() => setRestoring(b)}>Restore<span class="visually-hidden"> {b.id}</span></button></td>
              </tr>
            ))}</tbody>
          </table>
        </div>
      ) : null}
      {restoring ? <RestoreForm backup={restoring} onDone={(message) => { setRestoring(null); setDone(message); }} onCancel={() => setRestoring(null)} /> : null}
    </section>
  );
}

function RestoreForm({ backup, onDone, onCancel }: { backup: Backup; onDone: (message: string) => void; onCancel: () => void }) {
  const [target, setTarget] = useState(`${backup.database}_restored`);
  const [replace, setReplace] = useState(false);
  const action = useTask();
  const ids = { target: useId(), replace: useId() };
  return (
    <form class="form group" data-testid="restore-form" aria-label={`Restore ${backup.id}`} onSubmit={(event) => {
      event.preventDefault();
      void action.run(async () => {
        const answer = await request<{ database: string; replaced: boolean; tables: { table: string }[] }>('/automation/restore', {
          method: 'POST', body: { backupId: backup.id, target, ...(replace ? { replace: true } : {}) },
        });
        onDone(`Restored into '${answer.database}'${answer.replaced ? ' (replaced)' : ''}: ${answer.tables.length} tables verified by row counts and checksums.`);
      });
    }}>
      <h3 class="section-title">Restore <code>{backup.id}</code></h3>
      <div class="field"><label for={ids.target}>Into database</label>
        <input id={ids.target} value={target} required maxLength={63} onInput={(e) => setTarget(e.currentTarget.value)} />
        <span class="hint">A new name is safest. An existing database is only overwritten with the box below ticked.</span>
      </div>
      <label class="check" for={ids.replace}>
        <input id={ids.replace} type="checkbox" checked={replace} onChange={(e) => setReplace(e.currentTarget.checked)} />
        Replace it if it exists (its current contents are lost)
      </label>
      {action.error ? <p class="alert alert-error" role="alert" data-testid="restore-error">{action.error}</p> : null}
      <div class="actions actions-start">
        <button type="submit" class={replace ? 'button button-danger' : 'button button-primary'} disabled={action.busy}>{action.busy ? 'Restoring…' : 'Restore'}</button>
        <button type="button" class="button button-quiet" onClick={onCancel} disabled={action.busy}>Cancel</button>
      </div>
    </form>
  );
}
