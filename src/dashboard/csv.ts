/**
 * CSV for the record browser's export (RFC 4180: comma-separated, CRLF line ends, fields quoted
 * when they hold a comma, quote or line break). Objects and arrays become their JSON text. A text
 * cell starting with =, +, -, @, tab or carriage return gets a leading apostrophe, so a
 * spreadsheet opening the file never runs a record's content as a formula (CSV injection).
 */
import { cellText } from './format.js';

const FORMULA_START = /^[=+\-@\t\r]/;

export function csvCell(value: unknown): string {
  let text = cellText(value);
  if (typeof value === 'string' && FORMULA_START.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function toCsv(columns: string[], rows: Record<string, unknown>[]): string {
  const lines = [columns.map(csvCell).join(',')];
  for (const row of rows) lines.push(columns.map((column) => csvCell(row[column])).join(','));
  return `${lines.join('\r\n')}\r\n`;
}

/** Saves `text` as a file through a temporary object URL (allowed by the CSP: nothing is fetched). */
export function download(filename: string, text: string, type = 'text/csv;charset=utf-8'): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const link = document.createElement('a');
  link.href = url;
  link.download = filename;
  document.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
