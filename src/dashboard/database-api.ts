/** Shapes of the database page's answers (`/sync/*`, `/automation/*`, `/api/backups`) and the sync event stream. */
import { loadSession } from './session';

export interface TableCheck { table: string; rows: number; checksum: string }
export interface Backup { id: string; database: string; createdAt: string; bytes: number; tables: TableCheck[]; writerHeldMs: number }
export interface Schedule {
  database: string; kind: 'sync' | 'backup' | 'cleanup'; intervalSeconds: number; enabled: boolean;
  options: { keep?: number; maxAgeDays?: number; logRetentionDays?: number };
  nextRunAt: string; lastRunAt: string | null; lastStatus: 'ok' | 'failed' | null; lastError: string | null; runs: number;
}
export interface AutomationStatus {
  enabled: boolean;
  runner: { looping: boolean; leader: boolean; holder: string; current: { database: string; kind: string; startedAt: string } | null };
  schedules: Schedule[];
  backups: Record<string, 'backup' | 'restore'>;
  syncAvailable: boolean;
}
export interface SyncProgress {
  inProgress: boolean; type: string | null; tablesCompleted: number; tablesTotal: number; currentTable: string | null;
  recordsProcessed: number; startedAt: string | null; lastError: string | null;
}
export interface SyncRun { id: string; type: string; status: string; finishedAt: string; duration: number; totalRecords: number; error?: string }
export interface SyncStatus { source: string | null; progress: SyncProgress; lastRun: SyncRun | null }
export interface Validation { valid: boolean; tables: { table: string; sourceRows: number; duckdbRows: number; match: boolean }[] }

/**
 * Follows `GET /sync/events?db=` (Server-Sent Events). EventSource cannot send the session's
 * Bearer header, so the stream is read through fetch. Answers a stop function; `onLost` is called
 * when the stream cannot be opened or ends (the page then falls back to polling).
 */
export function followSyncEvents(db: string, onProgress: (progress: SyncProgress) => void, onFinished: () => void, onLost: () => void): () => void {
  const controller = new AbortController();
  const session = loadSession();
  void (async () => {
    try {
      const response = await fetch(`/sync/events?db=${encodeURIComponent(db)}`, {
        headers: { Accept: 'text/event-stream', ...(session ? { Authorization: `Bearer ${session.token}` } : {}) },
        signal: controller.signal,
        cache: 'no-store',
      });
      if (!response.ok || response.body === null) throw new Error(`HTTP ${response.status}`);
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (event === undefined || data === undefined) continue;
          const parsed = JSON.parse(data) as { progress?: SyncProgress };
          if (event === 'progress' && parsed.progress) onProgress(parsed.progress);
          if (event === 'finished') onFinished();
        }
      }
      if (!controller.signal.aborted) onLost();
    } catch {
      if (!controller.signal.aborted) onLost();
    }
  })();
  return () => controller.abort();
}

export function formatInterval(seconds: number): string {
  for (const [unit, size] of [['d', 86_400], ['h', 3600], ['min', 60]] as const) {
    if (seconds % size === 0) return `every ${seconds / size} ${unit}`;
  }
  return `every ${seconds} s`;
}
