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
import { credentialCaches, type CredentialCaches, type NamespacedCache } from './credential-cache.js';
import type { KeyMatch, KeyStore, StoredKey } from '../store/key-store.js';
import type { Principal } from './principal.js';
import type { ManagedKeyVerifier } from './resolve-principal.js';

export interface ManagedKeysOptions {
  /** Where entries are cached (the seam in `credential-cache.ts`); by default a memory one of its own. */
  caches?: CredentialCaches;
  /** Upper bound on cached hashes (without `caches`), so a flood of random well-formed keys cannot grow memory. */
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
  /** Presented key hash -> what it matched (null: nothing), tagged with the hash and the key id. */
  private readonly byHash: NamespacedCache<CachedHash>;
  /** Key id -> the key (null: none), tagged with the key id. */
  private readonly byId: NamespacedCache<StoredKey | null>;
  private readonly lastTouched = new Map<string, number>();
  private readonly pendingTouches = new Map<string, string>();
  private readonly flusher: NodeJS.Timeout;
  private readonly touchIntervalMs: number;
  private readonly onError: (error: unknown) => void;
  private caching: boolean;

  constructor(private readonly store: KeyStore, options: ManagedKeysOptions = {}) {
    const caches = options.caches ?? credentialCaches({ maxEntriesPerNamespace: options.cacheSize });
    this.byHash = caches.namespace<CachedHash>('key-hash');
    this.byId = caches.namespace<StoredKey | null>('key-id');
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
      const ticket = this.byHash.ticket();
      cached = { match: (await this.store.findKeyByHash(hash)) ?? null };
      if (this.caching) this.byHash.set(hash, cached, { keyHash: hash, keyId: cached.match?.key.id }, ticket);
    }
    const match = cached.match;
    if (!match || isPast(match.validUntil)) return undefined;
    this.touch(match.key.id);
    return toPrincipal(match.key, 'api-key', match.validUntil);
  }

  /** The principal of an active, unexpired key: what a token exchanged for it stands for now. */
  async principalById(id: string): Promise<Principal | undefined> {
    let key = this.caching ? this.byId.get(id) : undefined;
    if (key === undefined) {
      const ticket = this.byId.ticket();
      key = (await this.store.getKey(id)) ?? null;
      if (this.caching) this.byId.set(id, key, { keyId: id }, ticket);
    }
    if (!key || isPast(key.expiresAt)) return undefined;
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
    this.byId.removeByKeyId(id);
    this.byHash.removeByKeyId(id);
  }

  /** Drops everything cached. */
  invalidate(): void {
    this.byHash.clear();
    this.byId.clear();
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
