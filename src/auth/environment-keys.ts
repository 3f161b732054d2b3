/**
 * Keys set in the environment (seeds 000 and 001). They are compared in constant time: each
 * presented value is hashed once and the digest compared with every configured key's digest,
 * without stopping at the first match, so timing says nothing about which key (if any) matched.
 *
 * Each key also has a `generation` tag, which tokens exchanged for it carry: rotate the key and its
 * tokens die. The tag is an HMAC of the key under a tag key derived from the JWT secret with HKDF
 * (never the signing secret itself: one key, one purpose). During a secret rotation the tag under
 * `JWT_SECRET_PREVIOUS` is accepted too, exactly as that secret still verifies signatures, so
 * rotating the secret does not kill tokens that rotating the key would not.
 */
import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import type { SigningSecrets } from './jwt.js';
import type { Principal } from './principal.js';
import { sha256Hex } from './sha256.js';

export interface EnvironmentKeySettings {
  adminApiKey?: string;
  validApiKeys: string[];
  ducklingApiKey?: string;
  /** The JWT secrets the tag keys are derived from (the previous one only verifies old tags). */
  secrets?: SigningSecrets;
}

interface Entry {
  /** SHA-256 of the key. */
  digest: Buffer;
  principal: Principal;
  /** Tags a token may carry: the current one (the principal's `generation`), then the previous secret's. */
  generations: readonly string[];
}

/** HKDF's `info`: binds the derived key to this one use, so it can never double as another key. */
const TAG_KEY_INFO = 'duckgate environment-key generation tag v1';

/** The key under which environment keys are tagged, derived from a JWT secret. */
export function deriveTagKey(secret: Uint8Array): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, new Uint8Array(0), TAG_KEY_INFO, 32));
}

export class EnvironmentKeys {
  private readonly entries: Entry[];

  /** Entries keep CONTRACT.md §2's resolution order: ADMIN_API_KEY, VALID_API_KEYS, DUCKLING_API_KEY. */
  constructor(settings: EnvironmentKeySettings) {
    const secrets = settings.secrets ?? { secret: new Uint8Array(32) };
    const tagKeys = [secrets.secret, ...(secrets.previousSecret ? [secrets.previousSecret] : [])].map(deriveTagKey);
    const entries: Entry[] = [];
    if (settings.adminApiKey) {
      entries.push(entry(settings.adminApiKey, tagKeys, { id: 'env:admin', label: 'ADMIN_API_KEY', isAdmin: true }));
    }
    settings.validApiKeys.forEach((key, index) => {
      entries.push(entry(key, tagKeys, { id: `env:client:${index + 1}`, label: `VALID_API_KEYS #${index + 1}`, isAdmin: false }));
    });
    if (settings.ducklingApiKey) {
      entries.push(entry(settings.ducklingApiKey, tagKeys, { id: 'env:duckling', label: 'DUCKLING_API_KEY', isAdmin: true }));
    }
    this.entries = entries;
  }

  /** The principal of a configured key by its id (`env:admin`, ...). */
  byId(id: string): Principal | undefined {
    return this.entries.find((e) => e.principal.id === id)?.principal;
  }

  /**
   * The principal a token exchanged for key `id` stands for, when the token's `generation` is a
   * tag of the key configured now (under the current or the previous JWT secret); undefined once
   * the key was rotated or removed.
   */
  forToken(id: string, generation: string): Principal | undefined {
    const found = this.entries.find((e) => e.principal.id === id);
    return found && found.generations.includes(generation) ? found.principal : undefined;
  }

  /** Which keys are configured (ids, setting names, roles): nothing about their values. */
  list(): { id: string; label: string; isAdmin: boolean }[] {
    return this.entries.map((e) => ({ id: e.principal.id, label: e.principal.label, isAdmin: e.principal.isAdmin }));
  }

  get size(): number {
    return this.entries.length;
  }

  get hasAdminKey(): boolean {
    return this.entries.some((e) => e.principal.isAdmin);
  }

  /** The principal of the matching key, or undefined. Time does not depend on which key matches. */
  match(presented: string): Principal | undefined {
    const digest = Buffer.from(sha256Hex(presented), 'hex');
    let found: Principal | undefined;
    for (const candidate of this.entries) {
      if (timingSafeEqual(candidate.digest, digest) && found === undefined) found = candidate.principal;
    }
    return found;
  }
}

function entry(key: string, tagKeys: readonly Buffer[], who: Pick<Principal, 'id' | 'label' | 'isAdmin'>): Entry {
  const generations = tagKeys.map((tagKey) => createHmac('sha256', tagKey).update(key, 'utf8').digest('base64url').slice(0, 16));
  return {
    digest: Buffer.from(sha256Hex(key), 'hex'),
    principal: { ...who, kind: 'environment-key', access: { kind: 'all' }, authMethod: 'api-key', generation: generations[0]! },
    generations,
  };
}
