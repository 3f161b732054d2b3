/** Small display helpers: dates, durations, sizes and table cells. */

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const dateTimeSeconds = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });

/** Date and time to the second ("Nov 24, 2026, 3:04:05 PM"), for the audit trail. */
export function formatDateSeconds(iso: string | null | undefined, empty = '—'): string {
  if (!iso) return empty;
  const at = new Date(iso);
  return Number.isNaN(at.getTime()) ? iso : dateTimeSeconds.format(at);
}

/** An ISO time as a `datetime-local` input's value (local time, minutes). */
export function toLocalInput(iso: string | null | undefined): string {
  if (!iso) return '';
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) return '';
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${at.getFullYear()}-${pad(at.getMonth() + 1)}-${pad(at.getDate())}T${pad(at.getHours())}:${pad(at.getMinutes())}`;
}
const dateOnly = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium' });

export function formatDate(iso: string | null | undefined, empty = '—'): string {
  if (!iso) return empty;
  const at = new Date(iso);
  return Number.isNaN(at.getTime()) ? iso : dateTime.format(at);
}

/** The day only ("Nov 24, 2026"), for narrow table cells; `formatDate` goes in their title. */
export function formatDay(iso: string | null | undefined, empty = '—'): string {
  if (!iso) return empty;
  const at = new Date(iso);
  return Number.isNaN(at.getTime()) ? iso : dateOnly.format(at);
}

/** "3 days, 4 h" / "2 h 5 min" / "12 min 3 s" / "8 s". */
export function formatUptime(totalSeconds: number): string {
  const seconds = Math.max(0, Math.floor(totalSeconds));
  const days = Math.floor(seconds / 86_400);
  const hours = Math.floor((seconds % 86_400) / 3_600);
  const minutes = Math.floor((seconds % 3_600) / 60);
  const rest = seconds % 60;
  if (days > 0) return `${days} day${days === 1 ? '' : 's'}, ${hours} h`;
  if (hours > 0) return `${hours} h ${minutes} min`;
  if (minutes > 0) return `${minutes} min ${rest} s`;
  return `${rest} s`;
}

export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return '—';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}

const number = new Intl.NumberFormat();
export function formatNumber(value: number | undefined | null): string {
  return typeof value === 'number' && Number.isFinite(value) ? number.format(value) : '—';
}

const milliseconds = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });
export function formatMs(value: number | undefined | null): string {
  return typeof value === 'number' && Number.isFinite(value) ? milliseconds.format(value) : '—';
}

/** A cell's text: strings as they are, everything else as JSON. */
export function cellText(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  try {
    return JSON.stringify(value);
  } catch {
    return String(value);
  }
}

/** Whether an ISO time has passed. */
export function isPast(iso: string | null | undefined, now = Date.now()): boolean {
  if (!iso) return false;
  const at = Date.parse(iso);
  return Number.isFinite(at) && at <= now;
}
