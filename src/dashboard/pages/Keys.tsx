/**
 * Managed API keys: list, generate, edit permissions, regenerate, revoke. A full key is shown
 * once, in `KeyReveal`, straight from the create/regenerate answer and never kept anywhere else.
 */
import { useCallback, useEffect, useState } from 'preact/hooks';
import { errorMessage, isAbort, request } from '../api';
import { useAction } from '../use-action';
import { ConfirmDialog } from '../components/ConfirmDialog';
import { KeyReveal } from '../components/KeyReveal';
import { Modal } from '../components/Modal';
import { PageHeading } from '../components/PageHeading';
import { PermissionEditor } from '../components/PermissionEditor';
import { PermissionWarnings } from '../components/PermissionWarnings';
import { formatDate, formatNumber, isPast, toLocalInput } from '../format';
import { emptyRow, permissionsFromRows, rowsFromPermissions, splitList, summarizeGrant, type PermissionRow } from '../permissions';
import { href, navigate } from '../router';
import type { CollectionPermissions, EnvironmentKey, KeySummary, KeyUpdate, PermissionsSet, RegeneratedKey, RegisteredKey } from '../types';

type Mode =
  | { kind: 'none' }
  | { kind: 'generate' }
  | { kind: 'edit'; key: KeySummary }
  | { kind: 'permissions'; key: KeySummary }
  | { kind: 'regenerate'; key: KeySummary }
  | { kind: 'revoke'; key: KeySummary }
  | { kind: 'reveal'; title: string; issued: RegisteredKey | RegeneratedKey };

/** Keys a page; the server pages and searches (`?search&limit&offset`, `X-Total-Count`). */
export const KEYS_PAGE_SIZE = 25;

interface KeysProps {
  params: URLSearchParams;
}

export function Keys({ params }: KeysProps) {
  const search = params.get('q') ?? '';
  const offsetParam = Number(params.get('offset') ?? '0');
  const offset = Number.isInteger(offsetParam) && offsetParam > 0 ? offsetParam : 0;
  const [keys, setKeys] = useState<KeySummary[] | null>(null);
  const [total, setTotal] = useState<number | null>(null);
  const [environment, setEnvironment] = useState<EnvironmentKey[]>([]);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [mode, setMode] = useState<Mode>({ kind: 'none' });
  const [notice, setNotice] = useState<string | null>(null);
  const [searchText, setSearchText] = useState(search);
  const [toggling, setToggling] = useState<string | null>(null);
  const [toggleError, setToggleError] = useState<string | null>(null);

  useEffect(() => setSearchText(search), [search]);

  const load = useCallback(async (signal?: AbortSignal) => {
    try {
      let count: number | null = null;
      const list = await request<KeySummary[]>('/api/auth/keys', {
        signal,
        query: { search: search || undefined, limit: KEYS_PAGE_SIZE, offset: offset || undefined },
        onHeaders: (headers) => {
          const header = headers.get('X-Total-Count');
          count = header !== null && /^\d+$/.test(header) ? Number(header) : null;
        },
      });
      const rows = Array.isArray(list) ? list : [];
      setKeys(rows);
      setTotal(count ?? offset + rows.length);
      setLoadError(null);
    } catch (failure) {
      if (!isAbort(failure)) setLoadError(errorMessage(failure));
    }
  }, [search, offset]);

  useEffect(() => {
    const controller = new AbortController();
    void load(controller.signal);
    return () => controller.abort();
  }, [load]);

  useEffect(() => {
    const controller = new AbortController();
    request<EnvironmentKey[]>('/api/auth/environment-keys', { signal: controller.signal })
      .then((list) => setEnvironment(Array.isArray(list) ? list : []))
      .catch(() => setEnvironment([]));
    return () => controller.abort();
  }, []);

  const close = () => setMode({ kind: 'none' });
  const go = (next: { q?: string; offset?: number }) => navigate(href('keys', { q: next.q ?? search, offset: next.offset || undefined }));
  const replaceKey = (updated: KeySummary) => setKeys((list) => list?.map((key) => (key.key_id === updated.key_id ? { ...key, ...updated } : key)) ?? list);

  const toggle = async (key: KeySummary) => {
    setNotice(null);
    setToggleError(null);
    setToggling(key.key_id);
    try {
      const updated = await request<KeySummary>(`/api/auth/keys/${encodeURIComponent(key.key_id)}`, { method: 'PATCH', body: { disabled: !key.disabled } });
      replaceKey(updated);
      setNotice(updated.disabled
        ? `Key "${key.label}" disabled: it answers 401 until you enable it again.`
        : `Key "${key.label}" enabled.`);
    } catch (failure) {
      setNotice(null);
      setToggleError(`Could not ${key.disabled ? 'enable' : 'disable'} "${key.label}": ${errorMessage(failure)}`);
    } finally {
      setToggling(null);
    }
  };

  const first = offset + 1;
  const last = offset + (keys?.length ?? 0);

  return (
    <main id="main" class="page">
      <div class="page-header">
        <PageHeading>API keys</PageHeading>
        <button type="button" class="button button-primary" onClick={() => { setNotice(null); setMode({ kind: 'generate' }); }}>
          Generate key
        </button>
      </div>
      <p class="lede">Keys let applications call duckgate. Each key sees only the collections it is granted.</p>
      <p class="notice" role="status" data-testid="keys-notice">{notice ?? ''}</p>
      {toggleError ? <p class="alert alert-error" role="alert">{toggleError}</p> : null}

      <form class="search-bar" role="search" onSubmit={(event) => { event.preventDefault(); go({ q: searchText.trim(), offset: 0 }); }}>
        <label for="keys-search" class="visually-hidden">Search keys</label>
        <input id="keys-search" type="search" value={searchText} placeholder="Search label, description or prefix" autocomplete="off"
          onInput={(event) => setSearchText(event.currentTarget.value)} />
        <button type="submit" class="button">Search</button>
        {search ? <button type="button" class="button button-quiet" onClick={() => go({ q: '', offset: 0 })}>Clear</button> : null}
      </form>

      {loadError ? (
        <div class="alert alert-error" role="alert">
          Could not load keys: {loadError} <button type="button" class="button button-small" onClick={() => void load()}>Retry</button>
        </div>
      ) : keys === null ? (
        <p class="loading" aria-busy="true">Loading keys…</p>
      ) : keys.length === 0 ? (
        <div class="empty-state" data-testid="keys-empty">
          {search ? (
            <p><strong>No keys match “{search}”.</strong></p>
          ) : (
            <>
              <p><strong>No managed keys yet.</strong></p>
              <p>Generate a key to give an application access to your collections.{environment.length ? ' The keys set in the environment (below) work meanwhile.' : ''}</p>
            </>
          )}
        </div>
      ) : (
        <>
          <KeyTable keys={keys} toggling={toggling} onToggle={(key) => void toggle(key)} onAction={(next) => { setNotice(null); setToggleError(null); setMode(next); }} />
          <nav class="pager" aria-label="Key pages">
            <button type="button" class="button button-small" disabled={offset === 0} onClick={() => go({ offset: Math.max(0, offset - KEYS_PAGE_SIZE) })}>Previous</button>
            <span class="pager-info" data-testid="keys-pager-info" aria-live="polite">
              Keys {formatNumber(first)}–{formatNumber(last)}{total !== null ? ` of ${formatNumber(total)}` : ''}
            </span>
            <button type="button" class="button button-small" disabled={total === null || last >= total} onClick={() => go({ offset: offset + KEYS_PAGE_SIZE })}>Next</button>
          </nav>
        </>
      )}

      {environment.length ? <EnvironmentKeys keys={environment} /> : null}

      {mode.kind === 'generate' ? (
        <GenerateKeyDialog
          onCancel={close}
          onCreated={(issued) => {
            setMode({ kind: 'reveal', title: 'Key generated', issued });
            setNotice(`Key "${issued.label}" generated.`);
            void load();
          }}
        />
      ) : null}
      {mode.kind === 'edit' ? (
        <EditKeyDialog
          apiKey={mode.key}
          onCancel={close}
          onSaved={(updated) => {
            replaceKey(updated);
            setNotice(`Key "${updated.label}" updated.`);
            close();
            void load();
          }}
        />
      ) : null}
      {mode.kind === 'permissions' ? (
        <EditPermissionsDialog
          apiKey={mode.key}
          onCancel={close}
          onSaved={(permissions) => {
            setKeys((list) => list?.map((key) => (key.key_id === mode.key.key_id ? { ...key, collection_permissions: permissions } : key)) ?? list);
            setNotice(`Permissions updated for "${mode.key.label}".`);
            close();
            void load();
          }}
        />
      ) : null}
      {mode.kind === 'regenerate' ? (
        <RegenerateDialog
          apiKey={mode.key}
          onCancel={close}
          onDone={(issued) => {
            setMode({ kind: 'reveal', title: 'Key regenerated', issued });
            setNotice(issued.grace_until
              ? `Key "${issued.label}" regenerated. The previous key works until ${formatDate(issued.grace_until)}.`
              : `Key "${issued.label}" regenerated. The previous key no longer works.`);
            void load();
          }}
        />
      ) : null}
      {mode.kind === 'revoke' ? (
        <RevokeDialog
          apiKey={mode.key}
          onCancel={close}
          onDone={() => {
            setNotice(`Key "${mode.key.label}" revoked.`);
            close();
            void load();
          }}
        />
      ) : null}
      {mode.kind === 'reveal' ? (
        <KeyReveal
          title={mode.title}
          fullKey={mode.issued.key}
          label={mode.issued.label}
          graceUntil={'grace_until' in mode.issued ? mode.issued.grace_until : null}
          warnings={'warnings' in mode.issued ? mode.issued.warnings : undefined}
          onDone={close}
        />
      ) : null}
    </main>
  );
}

/** Keys set in the environment: by setting name, read-only (never a value, not even a prefix). */
function EnvironmentKeys({ keys }: { keys: EnvironmentKey[] }) {
  return (
    <section aria-labelledby="env-keys-title" data-testid="environment-keys">
      <h2 id="env-keys-title" class="section-title">Keys from the environment</h2>
      <p class="hint">Set in the server's environment and read-only here: change or remove them there and restart. Their values are never shown.</p>
      <ul class="env-keys">
        {keys.map((key) => (
          <li key={key.id}>
            <code>{key.name}</code> {key.is_admin ? <span class="badge badge-admin">Admin</span> : <span class="muted">all collections, no admin routes</span>}
          </li>
        ))}
      </ul>
    </section>
  );
}

interface KeyTableProps {
  keys: KeySummary[];
  toggling: string | null;
  onToggle: (key: KeySummary) => void;
  onAction: (mode: Mode) => void;
}

function KeyTable({ keys, toggling, onToggle, onAction }: KeyTableProps) {
  return (
    <div class="table-scroll table-cards">
      <table class="table keys-table" data-testid="keys-table">
        <caption class="visually-hidden">API keys</caption>
        <thead>
          <tr>
            <th scope="col">Prefix</th>
            <th scope="col">Label</th>
            <th scope="col">Admin</th>
            <th scope="col">Permissions</th>
            <th scope="col">Created</th>
            <th scope="col">Last used</th>
            <th scope="col">Expires</th>
            <th scope="col">Actions</th>
          </tr>
        </thead>
        <tbody>
          {keys.map((key) => (
            <tr key={key.key_id} data-testid={`key-row-${key.key_id}`} data-label={key.label} class={key.disabled ? 'row-disabled' : undefined}>
              <td data-cell="Prefix">
                <code class="prefix">{key.prefix}</code>
                {key.disabled ? <span class="badge badge-bad" data-testid="key-disabled" title={key.disabled_at ? `Since ${formatDate(key.disabled_at)}` : undefined}>Disabled</span> : null}
              </td>
              <td data-cell="Label" class="key-label-cell">
                <div class="key-label">{key.label}</div>
                {key.description ? <div class="muted small">{key.description}</div> : null}
                {key.rate_limit ? <div class="muted small">{formatNumber(key.rate_limit)} requests/hour</div> : null}
                {key.allowed_ips?.length ? <div class="muted small">IPs: {key.allowed_ips.join(', ')}</div> : null}
              </td>
              <td data-cell="Admin">{key.is_admin ? <span class="badge badge-admin">Admin</span> : <span class="muted">No</span>}</td>
              <td data-cell="Permissions"><PermissionSummary permissions={key.collection_permissions} isAdmin={key.is_admin} /></td>
              <td data-cell="Created" class="nowrap">{formatDate(key.created_at)}</td>
              <td data-cell="Last used" class="nowrap">
                {key.last_used_at ? formatDate(key.last_used_at) : <span class="muted">Never</span>}
              </td>
              <td data-cell="Expires" class="nowrap">
                {key.expires_at === null ? <span class="muted">Never</span>
                  : isPast(key.expires_at) ? <span class="badge badge-expired">Expired {formatDate(key.expires_at)}</span>
                  : formatDate(key.expires_at)}
              </td>
              <td data-cell="Actions">
                <div class="row-actions">
                  <button type="button" class="button button-small" aria-label={`Edit ${key.label}`} onClick={() => onAction({ kind: 'edit', key })}>
                    Edit
                  </button>
                  <button type="button" class="button button-small" aria-label={`Edit permissions of ${key.label}`} onClick={() => onAction({ kind: 'permissions', key })}>
                    Edit permissions
                  </button>
                  <button type="button" class="button button-small" aria-label={`${key.disabled ? 'Enable' : 'Disable'} ${key.label}`}
                    aria-pressed={key.disabled ? 'true' : 'false'} disabled={toggling === key.key_id} onClick={() => onToggle(key)}>
                    {toggling === key.key_id ? 'Saving…' : key.disabled ? 'Enable' : 'Disable'}
                  </button>
                  <button type="button" class="button button-small" aria-label={`Regenerate ${key.label}`} onClick={() => onAction({ kind: 'regenerate', key })}>
                    Regenerate
                  </button>
                  <button type="button" class="button button-small button-danger-quiet" aria-label={`Revoke ${key.label}`} onClick={() => onAction({ kind: 'revoke', key })}>
                    Revoke
                  </button>
                </div>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

const SUMMARY_LIMIT = 4;

function PermissionSummary({ permissions, isAdmin }: { permissions: CollectionPermissions; isAdmin: boolean }) {
  const entries = Object.entries(permissions ?? {});
  if (isAdmin) return <span class="perm-summary">All collections <span class="muted">(admin)</span></span>;
  if (entries.length === 0) return <span class="muted">None</span>;
  const shown = entries.slice(0, SUMMARY_LIMIT);
  const full = entries.map(([name, grant]) => `${name}: ${summarizeGrant(grant)}`).join('\n');
  return (
    <ul class="perm-summary" title={full} data-testid="perm-summary">
      {shown.map(([name, grant]) => (
        <li key={name}><code>{name}</code>: {summarizeGrant(grant)}</li>
      ))}
      {entries.length > SUMMARY_LIMIT ? <li class="muted">and {entries.length - SUMMARY_LIMIT} more</li> : null}
    </ul>
  );
}

// ------------------------------------------------------------------ generate

const IP_ENTRY = /^(\*|[0-9A-Fa-f:.]+(\/\d{1,3})?)$/;

interface GenerateForm {
  label: string;
  description: string;
  isAdmin: boolean;
  rows: PermissionRow[];
  expires: string;
  rateLimit: string;
  allowedIps: string;
}

type Invalid = Partial<Record<'label' | 'description' | 'expires' | 'rateLimit' | 'allowedIps', true>>;

function buildRegisterBody(form: GenerateForm): { body: Record<string, unknown> } | { error: string; field?: keyof Invalid } {
  const label = form.label.trim();
  if (!label) return { error: 'Enter a label, so you can tell this key apart later.', field: 'label' };
  if (label.length > 200) return { error: 'The label is too long (200 characters at most).', field: 'label' };
  if (form.description.length > 2000) return { error: 'The description is too long (2000 characters at most).', field: 'description' };
  const permissions = permissionsFromRows(form.rows);
  if ('error' in permissions) return { error: permissions.error };

  let expiresAt: string | null = null;
  if (form.expires) {
    const at = new Date(form.expires);
    if (Number.isNaN(at.getTime())) return { error: 'Enter a valid expiry date and time.', field: 'expires' };
    if (at.getTime() <= Date.now()) return { error: 'The expiry must be in the future.', field: 'expires' };
    expiresAt = at.toISOString();
  }

  let rateLimit: number | null = null;
  if (form.rateLimit.trim()) {
    const text = form.rateLimit.trim();
    if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > 1_000_000_000) {
      return { error: 'The rate limit must be a whole number of requests per hour, from 1 to 1,000,000,000.', field: 'rateLimit' };
    }
    rateLimit = Number(text);
  }

  let allowedIps: string[] | null = null;
  const ips = splitList(form.allowedIps);
  if (ips.length) {
    const bad = ips.find((ip) => !IP_ENTRY.test(ip));
    if (bad !== undefined) return { error: `"${bad}" is not an IP address or CIDR range.`, field: 'allowedIps' };
    allowedIps = ips;
  }

  // Unset limits are left out rather than sent as null: the server's schema coercion turns a
  // null expires_at or allowed_ips into "" / [""] and then refuses them.
  return {
    body: {
      label,
      description: form.description.trim(),
      is_admin: form.isAdmin,
      collection_permissions: permissions.permissions,
      ...(expiresAt !== null ? { expires_at: expiresAt } : {}),
      ...(rateLimit !== null ? { rate_limit: rateLimit } : {}),
      ...(allowedIps !== null ? { allowed_ips: allowedIps } : {}),
    },
  };
}

function GenerateKeyDialog({ onCancel, onCreated }: { onCancel: () => void; onCreated: (issued: RegisteredKey) => void }) {
  const [form, setForm] = useState<GenerateForm>(() => ({
    label: '', description: '', isAdmin: false, rows: [emptyRow()], expires: '', rateLimit: '', allowedIps: '',
  }));
  const { busy, error, setError, run } = useAction();
  /** The field the error is about ('rows' for the permission rows), cleared once it is edited. */
  const [errorField, setErrorField] = useState<keyof GenerateForm | null>(null);
  const invalid: Invalid = errorField && errorField !== 'rows' && errorField !== 'isAdmin' ? { [errorField]: true } : {};
  const set = <K extends keyof GenerateForm>(name: K, value: GenerateForm[K]) => {
    setForm((current) => ({ ...current, [name]: value }));
    if (name === errorField) {
      setError(null);
      setErrorField(null);
    }
  };

  const submit = async (event: Event) => {
    event.preventDefault();
    if (busy) return;
    const built = buildRegisterBody(form);
    if ('error' in built) {
      setError(built.error);
      setErrorField(built.field ?? 'rows');
      if (built.field) document.getElementById(`gen-${built.field}`)?.focus();
      return;
    }
    setErrorField(null);
    await run(async () => onCreated(await request<RegisteredKey>('/api/auth/register', { method: 'POST', body: built.body })));
  };

  return (
    <Modal title="Generate key" onClose={onCancel} busy={busy} wide testId="generate-dialog">
      <form onSubmit={(event) => void submit(event)} noValidate class="form">
        <div class="form-grid">
          <div class="field">
            <label for="gen-label">Label</label>
            <input id="gen-label" type="text" value={form.label} maxLength={200} autocomplete="off" autofocus
              aria-invalid={invalid.label ? 'true' : undefined} aria-describedby="gen-label-hint"
              onInput={(event) => set('label', event.currentTarget.value)} />
            <span class="hint" id="gen-label-hint">Required. For example the application that will use the key.</span>
          </div>
          <div class="field">
            <label for="gen-description">Description <span class="optional">(optional)</span></label>
            <input id="gen-description" type="text" value={form.description} maxLength={2000} autocomplete="off"
              aria-invalid={invalid.description ? 'true' : undefined}
              onInput={(event) => set('description', event.currentTarget.value)} />
          </div>
        </div>
        <label class="check check-block">
          <input type="checkbox" checked={form.isAdmin} onChange={(event) => set('isAdmin', event.currentTarget.checked)} />
          Admin key <span class="muted">(every collection, database management and key management)</span>
        </label>

        <fieldset class="group">
          <legend>Collection permissions</legend>
          {form.isAdmin ? <p class="hint">An admin key can use every collection; rows below are stored but do not limit it.</p> : null}
          <PermissionEditor rows={form.rows} onChange={(rows) => set('rows', rows)} />
        </fieldset>

        <fieldset class="group">
          <legend>Limits <span class="optional">(optional)</span></legend>
          <div class="form-grid form-grid-3">
            <div class="field">
              <label for="gen-expires">Expires</label>
              <input id="gen-expires" type="datetime-local" value={form.expires}
                aria-invalid={invalid.expires ? 'true' : undefined} aria-describedby="gen-expires-hint"
                onInput={(event) => set('expires', event.currentTarget.value)} />
              <span class="hint" id="gen-expires-hint">Empty: never expires. Your local time.</span>
            </div>
            <div class="field">
              <label for="gen-rateLimit">Rate limit (requests per hour)</label>
              <input id="gen-rateLimit" type="number" min={1} step={1} inputMode="numeric" value={form.rateLimit}
                aria-invalid={invalid.rateLimit ? 'true' : undefined} aria-describedby="gen-rate-hint"
                onInput={(event) => set('rateLimit', event.currentTarget.value)} />
              <span class="hint" id="gen-rate-hint">Empty: the server's default.</span>
            </div>
            <div class="field">
              <label for="gen-allowedIps">Allowed IPs</label>
              <textarea id="gen-allowedIps" rows={2} value={form.allowedIps} spellcheck={false}
                aria-invalid={invalid.allowedIps ? 'true' : undefined} aria-describedby="gen-ips-hint"
                onInput={(event) => set('allowedIps', event.currentTarget.value)} />
              <span class="hint" id="gen-ips-hint">IPs or CIDR ranges, separated by commas or new lines. Empty: any address.</span>
            </div>
          </div>
        </fieldset>

        {error ? <p class="alert alert-error" role="alert" data-testid="generate-error">{error}</p> : null}
        <div class="actions">
          <button type="button" class="button" onClick={onCancel} disabled={busy}>Cancel</button>
          <button type="submit" class="button button-primary" disabled={busy}>{busy ? 'Generating…' : 'Generate key'}</button>
        </div>
      </form>
    </Modal>
  );
}

// ------------------------------------------------------------------ edit key

interface LimitsForm {
  expires: string;
  rateLimit: string;
  allowedIps: string;
}

type LimitsResult = { expiresAt: string | null; rateLimit: number | null; allowedIps: string[] | null } | { error: string; field: 'expires' | 'rateLimit' | 'allowedIps' };

/** The same rules as the server: an expiry in the future, a whole rate limit, IPs or CIDR ranges. */
function parseLimits(form: LimitsForm, keepExpiry: string | null = null): LimitsResult {
  let expiresAt: string | null = null;
  if (form.expires) {
    const at = new Date(form.expires);
    if (Number.isNaN(at.getTime())) return { error: 'Enter a valid expiry date and time.', field: 'expires' };
    if (keepExpiry !== null && form.expires === toLocalInput(keepExpiry)) {
      // Unchanged (even when it has passed): kept as it is, to the millisecond.
      expiresAt = keepExpiry;
    } else {
      if (at.getTime() <= Date.now()) return { error: 'The expiry must be in the future.', field: 'expires' };
      expiresAt = at.toISOString();
    }
  }
  const rest = restOfLimits(form);
  if ('error' in rest) return rest;
  return { expiresAt, ...rest };
}

function restOfLimits(form: LimitsForm): { rateLimit: number | null; allowedIps: string[] | null } | { error: string; field: 'rateLimit' | 'allowedIps' } {
  let rateLimit: number | null = null;
  if (form.rateLimit.trim()) {
    const text = form.rateLimit.trim();
    if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > 1_000_000_000) {
      return { error: 'The rate limit must be a whole number of requests per hour, from 1 to 1,000,000,000.', field: 'rateLimit' };
    }
    rateLimit = Number(text);
  }
  let allowedIps: string[] | null = null;
  const ips = splitList(form.allowedIps);
  if (ips.length) {
    const bad = ips.find((ip) => !IP_ENTRY.test(ip));
    if (bad !== undefined) return { error: `"${bad}" is not an IP address or CIDR range.`, field: 'allowedIps' };
    allowedIps = ips;
  }
  return { rateLimit, allowedIps };
}

interface EditForm extends LimitsForm {
  label: string;
  description: string;
  isAdmin: boolean;
}

function EditKeyDialog({ apiKey, onCancel, onSaved }: { apiKey: KeySummary; onCancel: () => void; onSaved: (key: KeySummary) => void }) {
  const [form, setForm] = useState<EditForm>(() => ({
    label: apiKey.label,
    description: apiKey.description ?? '',
    isAdmin: apiKey.is_admin,
    expires: toLocalInput(apiKey.expires_at),
    rateLimit: apiKey.rate_limit === null ? '' : String(apiKey.rate_limit),
    allowedIps: (apiKey.allowed_ips ?? []).join('\n'),
  }));
  const { busy, error, setError, run } = useAction();
  const [invalid, setInvalid] = useState<keyof EditForm | null>(null);
  const set = <K extends keyof EditForm>(name: K, value: EditForm[K]) => {
    setForm((current) => ({ ...current, [name]: value }));
    if (name === invalid) {
      setError(null);
      setInvalid(null);
    }
  };

  const submit = async (event: Event) => {
    event.preventDefault();
    if (busy) return;
    const label = form.label.trim();
    if (!label || label.length > 200) {
      setError(label ? 'The label is too long (200 characters at most).' : 'Enter a label, so you can tell this key apart later.');
      setInvalid('label');
      document.getElementById('edit-label')?.focus();
      return;
    }
    const limits = parseLimits(form, apiKey.expires_at);
    if ('error' in limits) {
      setError(limits.error);
      setInvalid(limits.field);
      document.getElementById(`edit-${limits.field}`)?.focus();
      return;
    }
    // Only what changed is sent: the audit trail then names exactly the fields edited.
    const body: KeyUpdate = {};
    if (label !== apiKey.label) body.label = label;
    if (form.description.trim() !== (apiKey.description ?? '')) body.description = form.description.trim();
    if (form.isAdmin !== apiKey.is_admin) body.is_admin = form.isAdmin;
    if (limits.expiresAt !== apiKey.expires_at) body.expires_at = limits.expiresAt;
    if (limits.rateLimit !== apiKey.rate_limit) body.rate_limit = limits.rateLimit;
    if (JSON.stringify(limits.allowedIps) !== JSON.stringify(apiKey.allowed_ips ?? null)) body.allowed_ips = limits.allowedIps;
    if (Object.keys(body).length === 0) {
      onCancel();
      return;
    }
    await run(async () => onSaved(await request<KeySummary>(`/api/auth/keys/${encodeURIComponent(apiKey.key_id)}`, { method: 'PATCH', body })));
  };

  return (
    <Modal title={`Edit key: ${apiKey.label}`} onClose={onCancel} busy={busy} wide testId="edit-key-dialog">
      <form onSubmit={(event) => void submit(event)} noValidate class="form">
        <p class="hint">Changes apply to the key's very next request. The key itself (<code>{apiKey.prefix}</code>…) stays the same.</p>
        <div class="form-grid">
          <div class="field">
            <label for="edit-label">Label</label>
            <input id="edit-label" type="text" value={form.label} maxLength={200} autocomplete="off" autofocus
              aria-invalid={invalid === 'label' ? 'true' : undefined} onInput={(event) => set('label', event.currentTarget.value)} />
          </div>
          <div class="field">
            <label for="edit-description">Description <span class="optional">(optional)</span></label>
            <input id="edit-description" type="text" value={form.description} maxLength={2000} autocomplete="off"
              onInput={(event) => set('description', event.currentTarget.value)} />
          </div>
        </div>
        <label class="check check-block">
          <input type="checkbox" checked={form.isAdmin} onChange={(event) => set('isAdmin', event.currentTarget.checked)} />
          Admin key <span class="muted">(every collection, database management and key management)</span>
        </label>
        <div class="form-grid form-grid-3">
          <div class="field">
            <label for="edit-expires">Expires</label>
            <input id="edit-expires" type="datetime-local" value={form.expires} aria-invalid={invalid === 'expires' ? 'true' : undefined}
              aria-describedby="edit-expires-hint" onInput={(event) => set('expires', event.currentTarget.value)} />
            <span class="hint" id="edit-expires-hint">Empty: never expires. Your local time.</span>
          </div>
          <div class="field">
            <label for="edit-rateLimit">Rate limit (requests per hour)</label>
            <input id="edit-rateLimit" type="number" min={1} step={1} inputMode="numeric" value={form.rateLimit}
              aria-invalid={invalid === 'rateLimit' ? 'true' : undefined} aria-describedby="edit-rate-hint"
              onInput={(event) => set('rateLimit', event.currentTarget.value)} />
            <span class="hint" id="edit-rate-hint">Empty: the server's default.</span>
          </div>
          <div class="field">
            <label for="edit-allowedIps">Allowed IPs</label>
            <textarea id="edit-allowedIps" rows={2} value={form.allowedIps} spellcheck={false}
              aria-invalid={invalid === 'allowedIps' ? 'true' : undefined} aria-describedby="edit-ips-hint"
              onInput={(event) => set('allowedIps', event.currentTarget.value)} />
            <span class="hint" id="edit-ips-hint">IPs or CIDR ranges, separated by commas or new lines. Empty: any address.</span>
          </div>
        </div>
        {error ? <p class="alert alert-error" role="alert" data-testid="edit-key-error">{error}</p> : null}
        <div class="actions">
          <button type="button" class="button" onClick={onCancel} disabled={busy}>Cancel</button>
          <button type="submit" class="button button-primary" disabled={busy}>{busy ? 'Saving…' : 'Save changes'}</button>
        </div>
      </form>
    </Modal>
  );
}

// ------------------------------------------------------------------ edit permissions

function EditPermissionsDialog({ apiKey, onCancel, onSaved }: { apiKey: KeySummary; onCancel: () => void; onSaved: (permissions: CollectionPermissions) => void }) {
  const [rows, setRows] = useState<PermissionRow[]>(() => {
    const existing = rowsFromPermissions(apiKey.collection_permissions);
    return existing.length ? existing : [emptyRow()];
  });
  const { busy, error, setError, run } = useAction();
  /** Saved, with warnings to read before the dialog closes (without warnings it closes at once). */
  const [saved, setSaved] = useState<{ permissions: CollectionPermissions; warnings: string[] } | null>(null);

  const submit = async (event: Event) => {
    event.preventDefault();
    if (busy) return;
    const built = permissionsFromRows(rows);
    if ('error' in built) {
      setError(built.error);
      return;
    }
    await run(async () => {
      const answer = await request<PermissionsSet>('/api/auth/permissions', {
        method: 'POST',
        body: { key_id: apiKey.key_id, collection_permissions: built.permissions },
      });
      const permissions = answer.collection_permissions ?? built.permissions;
      if (answer.warnings?.length) setSaved({ permissions, warnings: answer.warnings });
      else onSaved(permissions);
    });
  };

  if (saved) {
    const done = () => onSaved(saved.permissions);
    return (
      <Modal title={`Edit permissions: ${apiKey.label}`} onClose={done} wide testId="permissions-dialog">
        <PermissionWarnings warnings={saved.warnings} />
        <div class="actions">
          <button type="button" class="button button-primary" onClick={done} autofocus>Done</button>
        </div>
      </Modal>
    );
  }

  return (
    <Modal title={`Edit permissions: ${apiKey.label}`} onClose={onCancel} busy={busy} wide testId="permissions-dialog">
      <form onSubmit={(event) => void submit(event)} noValidate class="form">
        <p class="hint">
          Saving replaces every collection permission of <code>{apiKey.prefix}</code>. It applies to the key's very next request.
          {apiKey.is_admin ? ' This is an admin key: it can use every collection whatever is listed here.' : ''}
        </p>
        <PermissionEditor
          rows={rows}
          onChange={(next) => {
            setRows(next);
            setError(null);
          }}
          autoFocusFirst
        />
        {error ? <p class="alert alert-error" role="alert" data-testid="permissions-error">{error}</p> : null}
        <div class="actions">
          <button type="button" class="button" onClick={onCancel} disabled={busy}>Cancel</button>
          <button type="submit" class="button button-primary" disabled={busy}>{busy ? 'Saving…' : 'Save permissions'}</button>
        </div>
      </form>
    </Modal>
  );
}

// ------------------------------------------------------------------ regenerate and revoke

/** How long the replaced key keeps working: the API's `grace_seconds` (0 to 30 days). */
const GRACE_CHOICES: { seconds: number; label: string }[] = [
  { seconds: 0, label: 'Stops working now' },
  { seconds: 300, label: 'Works 5 more minutes' },
  { seconds: 3_600, label: 'Works 1 more hour' },
  { seconds: 86_400, label: 'Works 24 more hours' },
  { seconds: 604_800, label: 'Works 7 more days' },
];

function RegenerateDialog({ apiKey, onCancel, onDone }: { apiKey: KeySummary; onCancel: () => void; onDone: (issued: RegeneratedKey) => void }) {
  const { busy, error, run } = useAction();
  const [grace, setGrace] = useState(0);
  const confirm = () => run(async () => {
    onDone(await request<RegeneratedKey>(`/api/auth/keys/${encodeURIComponent(apiKey.key_id)}/regenerate`, { method: 'POST', body: { grace_seconds: grace } }));
  });
  return (
    <ConfirmDialog title="Regenerate key?" confirmLabel="Regenerate key" busy={busy} error={error} onConfirm={() => void confirm()} onCancel={onCancel}>
      <p>
        <strong>{apiKey.label}</strong> (<code>{apiKey.prefix}</code>) gets a new secret, shown once. Applications using the
        current key need the new one.
      </p>
      <div class="field">
        <label for="regen-grace">The current key</label>
        <select id="regen-grace" value={String(grace)} disabled={busy} onChange={(event) => setGrace(Number(event.currentTarget.value))}>
          {GRACE_CHOICES.map((choice) => <option key={choice.seconds} value={String(choice.seconds)}>{choice.label}</option>)}
        </select>
        <span class="hint">A grace period lets you roll the new key out before the old one stops (never past the key's expiry).</span>
      </div>
    </ConfirmDialog>
  );
}

function RevokeDialog({ apiKey, onCancel, onDone }: { apiKey: KeySummary; onCancel: () => void; onDone: () => void }) {
  const { busy, error, run } = useAction();
  const confirm = () => run(async () => {
    await request(`/api/auth/keys/${encodeURIComponent(apiKey.key_id)}`, { method: 'DELETE' });
    onDone();
  });
  return (
    <ConfirmDialog title="Revoke key?" confirmLabel="Revoke key" danger busy={busy} error={error} onConfirm={() => void confirm()} onCancel={onCancel}>
      <p>
        <strong>{apiKey.label}</strong> (<code>{apiKey.prefix}</code>) stops working on its very next request, and so do
        the tokens exchanged for it. This cannot be undone.
      </p>
    </ConfirmDialog>
  );
}
