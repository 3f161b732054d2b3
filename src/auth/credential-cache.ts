/**
 * The cache seam for credentials: what a replica remembers about keys (and, later, tokens) between
 * requests, in named namespaces, each entry tagged with what it is about so that a change drops
 * exactly the entries it affects (by key hash, by key id, by token id), never the whole cache.
 *
 * One implementation, in this process's memory, chosen in one place (`credentialCaches`). Redis is
 * the change *channel* between replicas (see `store/redis-changes.ts`), not a cache: a shared cache
 * would cost a network round trip on every request, the very cost the cache exists to avoid (a key
 * lookup in PostgreSQL is one indexed read of the same order), and it would be a second shared
 * state able to go stale on its own (a writer that dies between evicting and caching, a Redis that
 * loses a removal). Each replica keeps its own entries and evicts them when the channel announces a
 * change; while the channel is lost it caches nothing (`auth/store-sync.ts`). The decision is in
 * docs/decisions.md ("Credential cache: in memory, Redis is the channel").
 */

/** What an entry is about: a change to any of these drops it. */
export interface CacheTags {
  keyHash?: string;
  keyId?: string;
  tokenId?: string;
}

/**
 * Taken before reading the store, handed back to `set`: an entry read before a removal that
 * overlapped the read is not cached (it may be what the removal was about).
 */
export type CacheTicket = number;

export interface NamespacedCache<V> {
  readonly namespace: string;
  get(name: string): V | undefined;
  ticket(): CacheTicket;
  /** Caches `value` under `name` unless a removal happened since `ticket`; whether it did. */
  set(name: string, value: V, tags: CacheTags, ticket?: CacheTicket): boolean;
  /** Each answers how many entries went. */
  removeByKeyHash(hash: string): number;
  removeByKeyId(id: string): number;
  removeByTokenId(jti: string): number;
  clear(): void;
  readonly size: number;
}

export interface CredentialCaches {
  readonly kind: 'memory';
  /** The namespace `name`, created on first use (the same object afterwards). */
  namespace<V>(name: string): NamespacedCache<V>;
  /** Across every namespace; each answers how many entries went. */
  removeByKeyHash(hash: string): number;
  removeByKeyId(id: string): number;
  removeByTokenId(jti: string): number;
  /** Entries in every namespace. */
  readonly size: number;
  clear(): void;
}

export interface CredentialCacheOptions {
  /** Upper bound on entries per namespace, so a flood of random well-formed keys cannot grow memory. */
  maxEntriesPerNamespace?: number;
}

/** The one place the cache implementation is chosen. */
export function credentialCaches(options: CredentialCacheOptions = {}): CredentialCaches {
  const maxEntries = options.maxEntriesPerNamespace ?? 50_000;
  const namespaces = new Map<string, MemoryCache<unknown>>();
  const everywhere = (remove: (cache: MemoryCache<unknown>) => number) => {
    let removed = 0;
    for (const cache of namespaces.values()) removed += remove(cache);
    return removed;
  };
  return {
    kind: 'memory',
    namespace<V>(name: string): NamespacedCache<V> {
      let cache = namespaces.get(name);
      if (!cache) namespaces.set(name, (cache = new MemoryCache<unknown>(name, maxEntries)));
      return cache as NamespacedCache<V>;
    },
    removeByKeyHash: (hash) => everywhere((cache) => cache.removeByKeyHash(hash)),
    removeByKeyId: (id) => everywhere((cache) => cache.removeByKeyId(id)),
    removeByTokenId: (jti) => everywhere((cache) => cache.removeByTokenId(jti)),
    get size() {
      let total = 0;
      for (const cache of namespaces.values()) total += cache.size;
      return total;
    },
    clear() {
      for (const cache of namespaces.values()) cache.clear();
    },
  };
}

type TagKind = keyof CacheTags;
const TAG_KINDS: readonly TagKind[] = ['keyHash', 'keyId', 'tokenId'];

interface Entry<V> {
  value: V;
  tags: CacheTags;
}

class MemoryCache<V> implements NamespacedCache<V> {
  /** Insertion order is age order: the oldest entry is evicted first when full. */
  private readonly entries = new Map<string, Entry<V>>();
  private readonly index: Record<TagKind, Map<string, Set<string>>> = { keyHash: new Map(), keyId: new Map(), tokenId: new Map() };
  /** Moves with every removal (see `CacheTicket`). */
  private removals = 0;

  constructor(readonly namespace: string, private readonly maxEntries: number) {}

  get(name: string): V | undefined {
    return this.entries.get(name)?.value;
  }

  ticket(): CacheTicket {
    return this.removals;
  }

  set(name: string, value: V, tags: CacheTags, ticket?: CacheTicket): boolean {
    if (ticket !== undefined && ticket !== this.removals) return false;
    this.delete(name);
    if (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.delete(oldest);
    }
    this.entries.set(name, { value, tags: { ...tags } });
    for (const kind of TAG_KINDS) {
      const tag = tags[kind];
      if (tag === undefined) continue;
      let names = this.index[kind].get(tag);
      if (!names) this.index[kind].set(tag, (names = new Set()));
      names.add(name);
    }
    return true;
  }

  removeByKeyHash(hash: string): number {
    return this.removeTagged('keyHash', hash);
  }

  removeByKeyId(id: string): number {
    return this.removeTagged('keyId', id);
  }

  removeByTokenId(jti: string): number {
    return this.removeTagged('tokenId', jti);
  }

  clear(): void {
    this.removals++;
    this.entries.clear();
    for (const kind of TAG_KINDS) this.index[kind].clear();
  }

  get size(): number {
    return this.entries.size;
  }

  private removeTagged(kind: TagKind, tag: string): number {
    // Counted even when nothing is cached: a read in flight may be about to cache what changed.
    this.removals++;
    const names = this.index[kind].get(tag);
    if (!names) return 0;
    let removed = 0;
    for (const name of [...names]) if (this.delete(name)) removed++;
    return removed;
  }

  private delete(name: string): boolean {
    const entry = this.entries.get(name);
    if (!entry) return false;
    this.entries.delete(name);
    for (const kind of TAG_KINDS) {
      const tag = entry.tags[kind];
      if (tag === undefined) continue;
      const names = this.index[kind].get(tag);
      names?.delete(name);
      if (names?.size === 0) this.index[kind].delete(tag);
    }
    return true;
  }
}
