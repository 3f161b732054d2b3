/** A plain results table: a header per column, one row per record, values as text. */
import { cellText } from '../format';

interface DataTableProps {
  columns: string[];
  rows: Record<string, unknown>[];
  caption: string;
  testId?: string;
  /** Shown in the body when there are no rows. */
  empty?: string;
  /** The column sorted on, when the table is sortable. */
  sort?: { field: string; ascending: boolean } | null;
  /** Makes each header a button: sorts by that column (again: the other way). */
  onSort?: (field: string) => void;
}

export function DataTable({ columns, rows, caption, testId, empty = 'No rows', sort = null, onSort }: DataTableProps) {
  return (
    <div class="table-scroll" tabIndex={0} role="region" aria-label={caption}>
      <table class="table data-table" data-testid={testId}>
        <caption class="visually-hidden">{caption}</caption>
        <thead>
          <tr>
            {columns.map((column) => {
              const sorted = sort?.field === column;
              const direction = sorted ? (sort.ascending ? 'ascending' : 'descending') : undefined;
              return (
                <th scope="col" key={column} aria-sort={onSort ? direction ?? 'none' : undefined}>
                  {onSort ? (
                    <button type="button" class="sort-button" onClick={() => onSort(column)}
                      title={`Sort by ${column}, ${sorted && sort.ascending ? 'descending' : 'ascending'}`}>
                      {column}{sorted ? <span aria-hidden="true">{sort.ascending ? ' ▲' : ' ▼'}</span> : null}
                    </button>
                  ) : column}
                </th>
              );
            })}
          </tr>
        </thead>
        <tbody>
          {rows.length === 0 ? (
            <tr><td class="cell-empty" colSpan={Math.max(1, columns.length)}>{empty}</td></tr>
          ) : null}
          {rows.map((row, index) => (
            <tr key={index}>
              {columns.map((column) => {
                const value = row[column];
                const text = cellText(value);
                return (
                  <td key={column} class={value === null || value === undefined ? 'cell-null' : typeof value === 'number' ? 'cell-number' : undefined} title={text.length > 60 ? text : undefined}>
                    {value === null ? 'null' : text}
                  </td>
                );
              })}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** Columns from the union of the rows' keys, `id` first, in order of first appearance. */
export function unionColumns(rows: Record<string, unknown>[]): string[] {
  const seen = new Set<string>();
  for (const row of rows) for (const key of Object.keys(row)) seen.add(key);
  const columns = [...seen];
  const id = columns.indexOf('id');
  if (id > 0) {
    columns.splice(id, 1);
    columns.unshift('id');
  }
  return columns;
}
