/**
 * Keeps this process's caches of the control plane true to the store: each change the store's feed
 * announces (made by another replica, the CLI, or this process) drops exactly what is cached about
 * it (a key's entries by id and hash, a logged-out token's id joins the revoked set); while the feed
 * is lost, the caches stand aside and every check reads through to the store, until the feed is
 * live again and they start over. The caller hears of each loss and recovery once (metrics, log).
 */
import type { ChangeFeed } from '../store/changes.js';
import type { CredentialCaches } from './credential-cache.js';
import type { ManagedKeys } from './managed-keys.js';
import type { RevokedTokens } from './revoked-tokens.js';

export interface StoreSyncTargets {
  keys: ManagedKeys;
  revoked: RevokedTokens;
  /** The credential cache: a logged-out token's cached verification goes by its id. */
  caches?: Pick<CredentialCaches, 'removeByTokenId'>;
  /** An account's password changed (sessions read the account from the store on every request). */
  account?: (username: string) => void;
}

export interface StoreSyncEvents {
  /** The feed went down after having been live: caches are off. */
  lost?: (error: unknown) => void;
  /** The feed is live (the first time, or again): caches start over. */
  resumed?: (afterLoss: boolean) => void;
}

/** Follows `feed` until the returned function is called. */
export function followStoreChanges(feed: ChangeFeed, targets: StoreSyncTargets, events: StoreSyncEvents = {}): () => void {
  let wasLive = false;
  let live = false;
  return feed.watch({
    changed(change) {
      switch (change.kind) {
        case 'key':
          return targets.keys.forgetKey(change.keyId);
        case 'token':
          targets.caches?.removeByTokenId(change.jti);
          return targets.revoked.add(change.jti, change.expiresAt);
        case 'account':
          return targets.account?.(change.username);
      }
    },
    lost(error) {
      targets.keys.stopCaching();
      targets.revoked.stopTrusting();
      if (live) events.lost?.(error);
      live = false;
    },
    resumed() {
      targets.keys.startCaching();
      void targets.revoked.resume();
      live = true;
      events.resumed?.(wasLive);
      wasLive = true;
    },
  });
}
