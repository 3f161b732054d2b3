/**
 * Brute-force protection for `POST /api/login`, with rate-limiter-flexible. Three counts, each of
 * failures only (a success gives its points back):
 *
 * - **per username and IP**, consecutive: 3 free attempts, then each further one must wait 1 s,
 *   2 s, 4 s … up to 60 s after the previous failure; sooner gets 429 with Retry-After. A success
 *   clears it. This is what slows one guesser down without touching anyone else.
 * - **per IP**: 20 failures per 15 minutes, whatever the usernames (password spraying).
 * - **per account**: 20 failures per 15 minutes from all addresses together, so an account sees at
 *   most 100 failures in any hour (ASVS 2.2.1) however many addresses a botnet has. Addresses the
 *   account has signed in from before (in the last 30 days) are exempt from this one count: a
 *   stranger can exhaust it, but not lock the real admin out of their usual address, and never
 *   for longer than 15 minutes from a new one.
 *
 * Points are taken *before* the password is checked and given back after a success, so a burst
 * of parallel guesses cannot all slip in before their failures are counted; and only one attempt
 * per username and IP runs at a time.
 *
 * The counts live where the limiter backend counts (`limiter-backend.ts`): with Redis, shared by
 * every replica (falling back to memory while Redis is down, as the auth-failure counter does). The known addresses live in the control-plane store, so they
 * survive a restart and every replica on the store shares them; only the in-flight attempts are
 * per process.
 */
import { createHash } from 'node:crypto';
import { RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { KnownAddressStore } from '../store/account-store.js';
import { failureKey } from './auth-failures.js';
import { limiterBackend, type LimiterBackend } from './limiter-backend.js';

export interface LoginThrottleLimits {
  /** Consecutive failures per username and IP before delays start. */
  freeAttempts: number;
  /** Longest delay between attempts, seconds. */
  maxDelaySeconds: number;
  /** Failures per IP per window. */
  perIp: number;
  /** Failures per account per window (all IPs). */
  perAccount: number;
  windowSeconds: number;
  /** How long an address that signed in successfully stays exempt from the account count. */
  knownAddressDays: number;
}

export const DEFAULT_LOGIN_LIMITS: LoginThrottleLimits = {
  freeAttempts: 3,
  maxDelaySeconds: 60,
  perIp: 20,
  perAccount: 20,
  windowSeconds: 900,
  knownAddressDays: 30,
};

export interface LoginThrottleOptions {
  /** Where the addresses the admin signed in from are kept (the control-plane store). */
  knownAddresses: KnownAddressStore;
  limits?: Partial<LoginThrottleLimits>;
  /** Where the counts live (default: this process's memory). */
  backend?: LimiterBackend;
  /** A store failure while remembering an address (the login itself still succeeds). */
  onError?: (error: unknown) => void;
}

/** An attempt that may go ahead; hand it back to `finish` with its outcome. */
export interface LoginTicket {
  readonly pair: string;
  readonly ip: string;
  /** The counters' key for the username: a digest, since a password typed as the username must not be kept. */
  readonly account: string;
  /** As typed; remembered with the address only after a successful sign-in (then it is the account's name). */
  readonly username: string;
}

export type LoginAdmission = { allowed: true; ticket: LoginTicket } | { allowed: false; retryAfterSeconds: number };

const KNOWN_ADDRESSES_PER_ACCOUNT = 100;

export class LoginThrottle {
  private readonly limits: LoginThrottleLimits;
  private readonly perIp: RateLimiterAbstract;
  private readonly perAccount: RateLimiterAbstract;
  private readonly consecutive: RateLimiterAbstract;
  private readonly delay: RateLimiterAbstract;
  private readonly inFlight = new Set<string>();
  private readonly knownAddresses: KnownAddressStore;
  private readonly onError: (error: unknown) => void;

  constructor(options: LoginThrottleOptions) {
    this.limits = { ...DEFAULT_LOGIN_LIMITS, ...options.limits };
    this.knownAddresses = options.knownAddresses;
    this.onError = options.onError ?? (() => {});
    const backend = options.backend ?? limiterBackend();
    const make = (name: string, points: number, duration: number): RateLimiterAbstract => backend.fixedWindow(`login:${name}`, points, duration);
    const { perIp, perAccount, windowSeconds } = this.limits;
    this.perIp = make('ip', perIp, windowSeconds);
    this.perAccount = make('account', perAccount, windowSeconds);
    // Consecutive failures are forgotten after an hour of quiet.
    this.consecutive = make('pair', 1_000_000, 3600);
    // Used only through block(): a blocked key has consumed more than its one point.
    this.delay = make('delay', 1, 1);
  }

  /** Whether an attempt for `username` from `ip` may be checked now; takes its points if so. */
  async begin(username: string, ip: string): Promise<LoginAdmission> {
    const ipKey = failureKey(ip);
    // Counter keys live in memory or Redis for up to an hour: never the typed name itself, which
    // may be a password typed into the wrong field.
    const account = createHash('sha256').update(username, 'utf8').digest('base64url').slice(0, 22);
    const pair = `${ipKey}|${account}`;
    if (this.inFlight.has(pair)) return { allowed: false, retryAfterSeconds: 1 };

    const delayed = await this.delay.get(pair);
    if (delayed && delayed.consumedPoints > 1 && delayed.msBeforeNext > 0) return refused(delayed.msBeforeNext);

    const byIp = await take(this.perIp, ipKey);
    if (byIp) return refused(byIp.msBeforeNext);
    const byAccount = await take(this.perAccount, account);
    if (byAccount && !(await this.isKnownAddress(username, ipKey))) {
      await this.perIp.reward(ipKey, 1);
      return refused(byAccount.msBeforeNext);
    }
    this.inFlight.add(pair);
    return { allowed: true, ticket: { pair, ip: ipKey, account, username } };
  }

  /** Records the outcome of an admitted attempt. */
  async finish(ticket: LoginTicket, succeeded: boolean): Promise<void> {
    try {
      if (succeeded) {
        await Promise.all([
          this.perIp.reward(ticket.ip, 1),
          this.perAccount.reward(ticket.account, 1),
          this.consecutive.delete(ticket.pair),
          this.delay.delete(ticket.pair),
        ]);
        await this.rememberAddress(ticket.username, ticket.ip);
        return;
      }
      const failures = (await this.consecutive.consume(ticket.pair, 1)).consumedPoints;
      if (failures >= this.limits.freeAttempts) {
        const seconds = Math.min(this.limits.maxDelaySeconds, 2 ** (failures - this.limits.freeAttempts));
        await this.delay.block(ticket.pair, seconds);
      }
    } finally {
      this.inFlight.delete(ticket.pair);
    }
  }

  /** Asked only once the account cap is reached, so a normal login costs no lookup. */
  private async isKnownAddress(username: string, ipKey: string): Promise<boolean> {
    try {
      return await this.knownAddresses.isKnownLoginAddress(username, ipKey, this.knownSince());
    } catch (error) {
      // Without the store the exemption cannot be proven: the cap applies, as to a stranger.
      this.onError(error);
      return false;
    }
  }

  private async rememberAddress(username: string, ipKey: string): Promise<void> {
    try {
      await this.knownAddresses.rememberLoginAddress(username, ipKey, new Date().toISOString(), {
        since: this.knownSince(),
        maxPerAccount: KNOWN_ADDRESSES_PER_ACCOUNT,
      });
    } catch (error) {
      this.onError(error);
    }
  }

  private knownSince(): string {
    return new Date(Date.now() - this.limits.knownAddressDays * 86_400_000).toISOString();
  }
}

/** Takes one point; the library's verdict when none was left, undefined when one was taken. */
async function take(limiter: RateLimiterAbstract, key: string): Promise<RateLimiterRes | undefined> {
  try {
    await limiter.consume(key, 1);
    return undefined;
  } catch (rejection) {
    if (rejection instanceof RateLimiterRes) return rejection;
    throw rejection;
  }
}

function refused(msBeforeNext: number): LoginAdmission {
  return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(msBeforeNext / 1000)) };
}
