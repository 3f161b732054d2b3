/**
 * Per-collection permission rows: a collection name, read/write/delete, and optional field rules
 * (comma-separated). Used by "Generate key" and "Edit permissions".
 */
import { emptyRow, type PermissionRow } from '../permissions';
import { LEVELS } from '../types';

interface PermissionEditorProps {
  rows: PermissionRow[];
  onChange: (rows: PermissionRow[]) => void;
  disabled?: boolean;
  /** Put the initial focus of the surrounding dialog on the first collection name. */
  autoFocusFirst?: boolean;
}

const LEVEL_LABEL = { read: 'Read', write: 'Write', delete: 'Delete' } as const;

export function PermissionEditor({ rows, onChange, disabled = false, autoFocusFirst = false }: PermissionEditorProps) {
  const update = (id: number, patch: Partial<PermissionRow>) => onChange(rows.map((row) => (row.id === id ? { ...row, ...patch } : row)));
  const remove = (id: number) => onChange(rows.filter((row) => row.id !== id));
  const add = () => onChange([...rows, emptyRow()]);

  return (
    <div class="perm-editor">
      {rows.length === 0 ? (
        <p class="muted empty-inline">No collections yet: this key can reach no data until you add one.</p>
      ) : null}
      {rows.map((row, index) => {
        const n = index + 1;
        const base = `perm-${row.id}`;
        return (
          <fieldset class="perm-row" key={row.id} data-testid={`perm-row-${index}`} disabled={disabled}>
            <legend>Collection {n}</legend>
            <div class="perm-main">
              <div class="field perm-name">
                <label for={`${base}-name`}>Collection name</label>
                <input
                  id={`${base}-name`}
                  type="text"
                  value={row.collection}
                  placeholder="notes, *, analytics.events"
                  autocomplete="off"
                  spellcheck={false}
                  autofocus={autoFocusFirst && index === 0}
                  onInput={(event) => update(row.id, { collection: event.currentTarget.value })}
                />
              </div>
              <div class="perm-levels" role="group" aria-label={`Access to collection ${n}`}>
                {LEVELS.map((level) => (
                  <label class="check" key={level}>
                    <input
                      type="checkbox"
                      checked={row[level]}
                      onChange={(event) => update(row.id, { [level]: event.currentTarget.checked })}
                    />
                    {LEVEL_LABEL[level]}
                  </label>
                ))}
              </div>
              <button type="button" class="button button-small button-quiet" onClick={() => remove(row.id)} aria-label={`Remove collection ${n}`}>
                Remove
              </button>
            </div>
            <div class="perm-fields">
              <div class="field">
                <label for={`${base}-select`}>Select fields <span class="optional">(optional)</span></label>
                <input id={`${base}-select`} type="text" value={row.selectFields} placeholder="name, email" autocomplete="off" spellcheck={false}
                  onInput={(event) => update(row.id, { selectFields: event.currentTarget.value })} />
              </div>
              <div class="field">
                <label for={`${base}-exclude`}>Exclude fields <span class="optional">(optional)</span></label>
                <input id={`${base}-exclude`} type="text" value={row.excludeFields} placeholder="password_hash" autocomplete="off" spellcheck={false}
                  onInput={(event) => update(row.id, { excludeFields: event.currentTarget.value })} />
              </div>
              <div class="field">
                <label for={`${base}-writable`}>Writable fields <span class="optional">(optional)</span></label>
                <input id={`${base}-writable`} type="text" value={row.writableFields} placeholder="title, body" autocomplete="off" spellcheck={false}
                  onInput={(event) => update(row.id, { writableFields: event.currentTarget.value })} />
              </div>
            </div>
          </fieldset>
        );
      })}
      <button type="button" class="button button-small" onClick={add} disabled={disabled}>Add collection</button>
    </div>
  );
}
