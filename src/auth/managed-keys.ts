/**
 * Verifying managed keys fast and exactly. A request costs one SHA-256 and one map lookup: found
 * keys (and unknown hashes) are cached in-process. Exactness comes from invalidation, not from
 * short lifetimes: a change made through this process drops the key's entries at once, and a change
 * made anywhere else on the store (another replica, the CLI) arrives through the store's change feed
 * (`store/changes.ts`) naming the key, whose entries alone are dropped. While that feed is lost, a
 * change could be missed, so nothing is served from or kept in the cache: every verification reads
 * through to the store until the feed is back. Expiry is checked against the clock on every request.
 */
import { hasValidChecksum, hashApiKey } from './api-key.js';
import type { KeyMatch, KeyStore, StoredKey } from '../store/key-store.js';
import type { Principal } from './principal.js';
import type { ManagedKeyVerifier } from './resolve-principal.js';

export interface ManagedKeysOptions {
  /** Upper bound on cached hashes, so a flood of random well-formed keys cannot grow memory. */
  cacheSize?: number;
  /** `last_used_at` is written at most this often per key. */
  touchIntervalMs?: number;
  /** Pending `last_used_at` times are written together this often (one transaction, one fsync). */
  touchFlushMs?: number;
  /**
   * Cache from the start (tests and benches that have no change feed). Unset, the cache is off
   * until `resumed` says the change feed is live.
   */
  cacheWithoutFeed?: boolean;
  onError?: (error: unknown) => void;
}

interface CachedHash {
  match: KeyMatch | null;
}

export class ManagedKeys implements ManagedKeyVerifier {
  private readonly byHash = new Map<string, CachedHash>();
  private readonly byId = new Map<string, StoredKey | null>();
  /** The hashes cached for each key id (current and grace), so a change to a key drops them all. */
  private readonly hashesById = new Map<string, Set<string>>();
  private readonly lastTouched = new Map<string, number>();
  private readonly pendingTouches = new Map<string, string>();
  private readonly flusher: NodeJS.Timeout;
  private readonly cacheSize: number;
  private readonly touchIntervalMs: number;
  private readonly onError: (error: unknown) => void;
  /** Moves with every eviction: a lookup that overlapped one does not cache what it read. */
  private epoch = 0;
  private caching: boolean;

  constructor(private readonly store: KeyStore, options: ManagedKeysOptions = {}) {
    this.cacheSize = options.cacheSize ?? 50_000;
    this.touchIntervalMs = options.touchIntervalMs ?? 60_000;
    this.onError = options.onError ?? (() => {});
    this.caching = options.cacheWithoutFeed === true;
    // The store is synchronous and syncs every commit: writing a last-use time inside a request
    // would block every request for an fsync, so they are collected and written in one batch.
    this.flusher = setInterval(() => void this.flushTouches(), options.touchFlushMs ?? 5000);
    this.flusher.unref();
  }

  async verify(key: string): Promise<Principal | undefined> {
    // A mistyped or invented key fails its checksum and never reaches the store.
    if (!hasValidChecksum(key)) return undefined;
    const hash = hashApiKey(key);
    let cached = this.caching ? this.byHash.get(hash) : undefined;
    if (!cached) {
      const epoch = this.epoch;
      cached = { match: (await this.store.findKeyByHash(hash)) ?? null };
      if (this.caching && epoch === this.epoch) this.rememberHash(hash, cached);
    }
    const match = cached.match;
    // A disabled key is refused like an unknown one, from the very next request (its cache entry is dropped on change).
    if (!match || match.key.disabledAt !== null || isPast(match.validUntil)) return undefined;
    this.touch(match.key.id);
    return toPrincipal(match.key, 'api-key', match.validUntil);
  }

  /** The principal of an active, unexpired key: what a token exchanged for it stands for now. */
  async principalById(id: string): Promise<Principal | undefined> {
    let key = this.caching ? this.byId.get(id) : undefined;
    if (key === undefined) {
      const epoch = this.epoch;
      key = (await this.store.getKey(id)) ?? null;
      if (this.caching && epoch === this.epoch) this.remember(this.byId, id, key);
    }
    if (!key || key.disabledAt !== null || isPast(key.expiresAt)) return undefined;
    this.touch(key.id);
    return toPrincipal(key, 'jwt');
  }

  /** What a token for key `id` exchanged at `generation` stands for now: nothing once the key was regenerated. */
  async principalForToken(id: string, generation: string): Promise<Principal | undefined> {
    const principal = await this.principalById(id);
    return principal?.generation === generation ? principal : undefined;
  }

  /** Key `id` changed (here or anywhere on the store): its entries go, the very next request reads it. */
  forgetKey(id: string): void {
    this.epoch++;
    this.byId.delete(id);
    const hashes = this.hashesById.get(id);
    if (hashes) for (const hash of hashes) this.byHash.delete(hash);
    this.hashesById.delete(id);
  }

  /** Drops everything cached. */
  invalidate(): void {
    this.epoch++;
    this.byHash.clear();
    this.byId.clear();
    this.hashesById.clear();
  }

  /** The change feed is down: changes may be missed, so read through to the store until `resumed`. */
  stopCaching(): void {
    this.caching = false;
    this.invalidate();
  }

  /** The change feed is live again: what was cached before is suspect, so start from nothing. */
  startCaching(): void {
    this.invalidate();
    this.caching = true;
  }

  /** Entries cached now (hashes and ids), for tests and metrics. */
  get cachedEntries(): number {
    return this.byHash.size + this.byId.size;
  }

  /** Stops the touch timer and writes the pending last-use times. */
  async close(): Promise<void> {
    clearInterval(this.flusher);
    await this.flushTouches();
  }

  private async flushTouches(): Promise<void> {
    // Forget keys not used for a whole interval, so this map is bounded by the keys in active use.
    const stale = Date.now() - this.touchIntervalMs;
    for (const [id, at] of this.lastTouched) if (at < stale) this.lastTouched.delete(id);
    if (this.pendingTouches.size === 0) return;
    const batch = new Map(this.pendingTouches);
    this.pendingTouches.clear();
    await this.store.touchKeys(batch).catch(this.onError);
  }

  private touch(id: string): void {
    const now = Date.now();
    const last = this.lastTouched.get(id);
    if (last !== undefined && now - last < this.touchIntervalMs) return;
    this.lastTouched.set(id, now);
    this.pendingTouches.set(id, new Date(now).toISOString());
  }

  private rememberHash(hash: string, entry: CachedHash): void {
    const evicted = this.remember(this.byHash, hash, entry);
    if (evicted !== undefined) this.unindex(evicted.key, evicted.value.match?.key.id);
    const id = entry.match?.key.id;
    if (id === undefined) return;
    let hashes = this.hashesById.get(id);
    if (!hashes) this.hashesById.set(id, (hashes = new Set()));
    hashes.add(hash);
  }

  private unindex(hash: string, id: string | undefined): void {
    if (id === undefined) return;
    const hashes = this.hashesById.get(id);
    hashes?.delete(hash);
    if (hashes?.size === 0) this.hashesById.delete(id);
  }

  /** Sets `key`; answers the entry evicted to make room, if any. */
  private remember<V>(map: Map<string, V>, key: string, value: V): { key: string; value: V } | undefined {
    let evicted: { key: string; value: V } | undefined;
    if (map.size >= this.cacheSize && !map.has(key)) {
      // Evict the oldest entry (Map keeps insertion order): bounded, and cheap on the hot path.
      const oldest = map.keys().next().value;
      if (oldest !== undefined) {
        evicted = { key: oldest, value: map.get(oldest)! };
        map.delete(oldest);
      }
    }
    map.set(key, value);
    return evicted;
  }
}

/** `validUntil` (ISO) is when the presented key stops working; by default the key's own expiry. */
export function toPrincipal(key: StoredKey, authMethod: Principal['authMethod'], validUntil: string | null = key.expiresAt): Principal {
  return {
    id: key.id,
    kind: 'managed-key',
    isAdmin: key.isAdmin,
    access: key.isAdmin ? { kind: 'all' } : { kind: 'scoped', permissions: key.permissions },
    label: key.label,
    authMethod,
    generation: String(key.generation),
    keyPrefix: key.prefix,
    rateLimit: key.rateLimit,
    allowedIps: key.allowedIps,
    validUntil: validUntil === null ? null : Date.parse(validUntil),
  };
}

function isPast(iso: string | null): boolean {
  return iso !== null && Date.parse(iso) <= Date.now();
}
