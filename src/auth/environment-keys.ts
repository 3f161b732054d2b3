/**
 * Keys set in the environment (seeds 000 and 001). They are compared in constant time: each
 * presented value is hashed once and the digest compared with every configured key's digest,
 * without stopping at the first match, so timing says nothing about which key (if any) matched.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { Principal } from './principal.js';

export interface EnvironmentKeySettings {
  adminApiKey?: string;
  validApiKeys: string[];
  ducklingApiKey?: string;
  /**
   * Server secret for each key's `generation` tag (an HMAC of the key): a token exchanged for an
   * environment key dies when that key is rotated, and the tag reveals nothing about the key.
   */
  tagSecret?: Uint8Array;
}

interface Entry {
  digest: Buffer;
  principal: Principal;
}

export class EnvironmentKeys {
  private readonly entries: Entry[];

  /** Entries keep CONTRACT.md §2's resolution order: ADMIN_API_KEY, VALID_API_KEYS, DUCKLING_API_KEY. */
  constructor(settings: EnvironmentKeySettings) {
    const entries: Entry[] = [];
    const secret = settings.tagSecret ?? new Uint8Array(32);
    if (settings.adminApiKey) {
      entries.push(entry(settings.adminApiKey, secret, { id: 'env:admin', label: 'ADMIN_API_KEY', isAdmin: true }));
    }
    settings.validApiKeys.forEach((key, index) => {
      entries.push(entry(key, secret, { id: `env:client:${index + 1}`, label: `VALID_API_KEYS #${index + 1}`, isAdmin: false }));
    });
    if (settings.ducklingApiKey) {
      entries.push(entry(settings.ducklingApiKey, secret, { id: 'env:duckling', label: 'DUCKLING_API_KEY', isAdmin: true }));
    }
    this.entries = entries;
  }

  /** The principal of a configured key by its id (`env:admin`, ...), for tokens exchanged for it. */
  byId(id: string): Principal | undefined {
    return this.entries.find((e) => e.principal.id === id)?.principal;
  }

  get size(): number {
    return this.entries.length;
  }

  get hasAdminKey(): boolean {
    return this.entries.some((e) => e.principal.isAdmin);
  }

  /** The principal of the matching key, or undefined. Time does not depend on which key matches. */
  match(presented: string): Principal | undefined {
    const digest = sha256(presented);
    let found: Principal | undefined;
    for (const candidate of this.entries) {
      if (timingSafeEqual(candidate.digest, digest) && found === undefined) found = candidate.principal;
    }
    return found;
  }
}

function entry(key: string, secret: Uint8Array, who: Pick<Principal, 'id' | 'label' | 'isAdmin'>): Entry {
  const generation = createHmac('sha256', secret).update(key, 'utf8').digest('base64url').slice(0, 16);
  return {
    digest: sha256(key),
    principal: { ...who, kind: 'environment-key', access: { kind: 'all' }, authMethod: 'api-key', generation },
  };
}

function sha256(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}
