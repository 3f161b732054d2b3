/**
 * Verifying managed keys fast and exactly. A request costs one SHA-256 and one map lookup: found
 * keys (and unknown hashes) are cached in-process. Exactness comes from invalidation, not from
 * short lifetimes: every change made through this process clears the cache at once, and a change
 * made by another process on the same store (the CLI) is noticed by polling the store's change
 * marker, well within a second. Expiry is checked against the clock on every request.
 */
import { hasValidChecksum, hashApiKey } from './api-key.js';
import type { KeyMatch, KeyStore, StoredKey } from '../store/key-store.js';
import type { Principal } from './principal.js';
import type { ManagedKeyVerifier } from './resolve-principal.js';

export interface ManagedKeysOptions {
  /** Upper bound on cached hashes, so a flood of random well-formed keys cannot grow memory. */
  cacheSize?: number;
  /** How often to look for changes made by other processes. */
  pollMs?: number;
  /** `last_used_at` is written at most this often per key. */
  touchIntervalMs?: number;
  /** Pending `last_used_at` times are written together this often (one transaction, one fsync). */
  touchFlushMs?: number;
  onError?: (error: unknown) => void;
}

interface CachedHash {
  match: KeyMatch | null;
}

export class ManagedKeys implements ManagedKeyVerifier {
  private readonly byHash = new Map<string, CachedHash>();
  private readonly byId = new Map<string, StoredKey | null>();
  private readonly lastTouched = new Map<string, number>();
  private readonly pendingTouches = new Map<string, string>();
  private readonly flusher: NodeJS.Timeout;
  private readonly cacheSize: number;
  private readonly touchIntervalMs: number;
  private readonly onError: (error: unknown) => void;
  private marker: number | undefined;
  private poller: NodeJS.Timeout | undefined;

  constructor(private readonly store: KeyStore, options: ManagedKeysOptions = {}) {
    this.cacheSize = options.cacheSize ?? 50_000;
    this.touchIntervalMs = options.touchIntervalMs ?? 60_000;
    this.onError = options.onError ?? (() => {});
    // The store is synchronous and syncs every commit: writing a last-use time inside a request
    // would block every request for an fsync, so they are collected and written in one batch.
    this.flusher = setInterval(() => void this.flushTouches(), options.touchFlushMs ?? 5000);
    this.flusher.unref();
    const pollMs = options.pollMs ?? 250;
    if (pollMs > 0) {
      this.poller = setInterval(() => void this.pollExternalChanges(), pollMs);
      this.poller.unref();
    }
  }

  async verify(key: string): Promise<Principal | undefined> {
    // A mistyped or invented key fails its checksum and never reaches the store.
    if (!hasValidChecksum(key)) return undefined;
    const hash = hashApiKey(key);
    let cached = this.byHash.get(hash);
    if (!cached) {
      cached = { match: (await this.store.findKeyByHash(hash)) ?? null };
      this.remember(this.byHash, hash, cached);
    }
    const match = cached.match;
    if (!match || isPast(match.validUntil)) return undefined;
    this.touch(match.key.id);
    return toPrincipal(match.key, 'api-key', match.validUntil);
  }

  /** The principal of an active, unexpired key: what a token exchanged for it stands for now. */
  async principalById(id: string): Promise<Principal | undefined> {
    let key = this.byId.get(id);
    if (key === undefined) {
      key = (await this.store.getKey(id)) ?? null;
      this.remember(this.byId, id, key);
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

  /** Call after any change to keys: the very next request sees it. */
  invalidate(): void {
    this.byHash.clear();
    this.byId.clear();
  }

  /** Stops polling and writes the pending last-use times. */
  async close(): Promise<void> {
    if (this.poller) clearInterval(this.poller);
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

  private async pollExternalChanges(): Promise<void> {
    try {
      const marker = await this.store.externalChangeMarker();
      if (this.marker !== undefined && marker !== this.marker) this.invalidate();
      this.marker = marker;
    } catch (error) {
      this.onError(error);
    }
  }

  private touch(id: string): void {
    const now = Date.now();
    const last = this.lastTouched.get(id);
    if (last !== undefined && now - last < this.touchIntervalMs) return;
    this.lastTouched.set(id, now);
    this.pendingTouches.set(id, new Date(now).toISOString());
  }

  private remember<V>(map: Map<string, V>, key: string, value: V): void {
    if (map.size >= this.cacheSize) {
      // Evict the oldest entry (Map keeps insertion order): bounded, and cheap on the hot path.
      const oldest = map.keys().next().value;
      if (oldest !== undefined) map.delete(oldest);
    }
    map.set(key, value);
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
