/**
 * Row 6e: the record cache at its bound. A server with a small RECORD_CACHE_BYTES reads random
 * records of the whole seeded collection until the cache has evicted (it is full), and its
 * /metrics tell the cache's own estimate of its bytes and what the process's heap and RSS grew by
 * meanwhile. Small bound so it fills within a run; per-entry figures scale to the default 64 MB.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import autocannon from 'autocannon';
import { RecordCache } from '../src/data/record-cache.js';
import { progress, withChild } from './children.js';
import { BenchFailure, type LoadOptions } from './load.js';
import { BENCH_ADMIN_KEY, COLLECTION } from './protocol.js';
import { expectedRecord, idOf, randomId } from './seed.js';

export const MEMORY_BOUND = '4mb';

export interface CacheMemory {
  boundBytes: number;
  /** The cache's estimate of what it holds (record_cache_bytes), at the end. */
  cacheBytes: number;
  entries: number;
  evictions: number;
  /** Growth of the server's JS heap in use and RSS between an empty cache and a full one (no forced GC: rough). */
  heapGrowthBytes: number;
  rssGrowthBytes: number;
  reads: number;
  /**
   * The same bound filled in this process with the seeded records' shape, heap measured after a
   * forced GC: the real bytes per record against the cache's estimate.
   */
  calibration: { entries: number; estimatedBytesPerRecord: number; heapBytesPerRecord: number };
}

/** A RecordCache of `bound` bytes filled with seeded-shape records; heap per record after a full GC. */
function calibrate(bound: number): CacheMemory['calibration'] {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const cache = new RecordCache(bound);
  gc();
  const before = process.memoryUsage().heapUsed;
  // As the engine hands records over: fresh objects and strings for each.
  for (let i = 0; cache.stats().evictions === 0; i++) {
    cache.fill(cache.ticket('default', COLLECTION, idOf(i)), JSON.parse(JSON.stringify(expectedRecord(i))));
  }
  gc();
  const heap = process.memoryUsage().heapUsed - before;
  const stats = cache.stats();
  return { entries: stats.entries, estimatedBytesPerRecord: stats.bytes / stats.entries, heapBytesPerRecord: heap / stats.entries };
}

async function metrics(url: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${url}/metrics`, { headers: { 'x-api-key': BENCH_ADMIN_KEY } })).text();
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const match = /^([a-z_]+) (\S+)$/.exec(line);
    if (match) out[match[1]!] = Number(match[2]);
  }
  return out;
}

export async function measureCacheMemory(dataDir: string, rows: number, options: LoadOptions): Promise<CacheMemory> {
  progress(`6e. record cache at its bound (${MEMORY_BOUND}): random reads of all ${rows} records until it evicts`);
  return withChild({ role: 'duckgate', dataDir, auth: true, recordCache: MEMORY_BOUND }, async (child) => {
    const url = child.url!;
    const before = await metrics(url);
    let reads = 0;
    let after = before;
    for (let round = 0; round < 10 && !(after.record_cache_evictions_total! > 0); round++) {
      const result = await autocannon({
        url, connections: options.connections, pipelining: 1, duration: Math.max(options.warmup, options.duration),
        requests: [{ method: 'GET', headers: { 'x-api-key': BENCH_ADMIN_KEY }, setupRequest: (r) => ({ ...r, path: `/api/find/${COLLECTION}/${randomId(rows)}` }) }],
      });
      if (result.errors > 0 || result.non2xx > 0) throw new BenchFailure(`cache memory run: ${result.errors} errors, ${result.non2xx} non-2xx`);
      reads += result.requests.total;
      after = await metrics(url);
    }
    const heap = 'duckgate_nodejs_heap_size_used_bytes';
    const rss = 'duckgate_process_resident_memory_bytes';
    return {
      boundBytes: after.record_cache_max_bytes!,
      cacheBytes: after.record_cache_bytes!,
      entries: after.record_cache_entries!,
      evictions: after.record_cache_evictions_total!,
      heapGrowthBytes: after[heap]! - before[heap]!,
      rssGrowthBytes: after[rss]! - before[rss]!,
      reads,
      calibration: calibrate(after.record_cache_max_bytes!),
    };
  });
}
