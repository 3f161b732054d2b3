/**
 * The dashboard's one account (ADMIN_USERNAME), its password, and a login attempt's verdict.
 *
 * There is no default password. With ADMIN_PASSWORD set, that password is the account's (its hash
 * is refreshed at start when it changed); without it, a random one is generated at first start,
 * shown once, and only its hash kept (`duckgate admin set-password` changes it later).
 *
 * An unknown username is checked against a dummy hash with the same parameters, so it takes as
 * long as a wrong password and gets the same answer: the response tells nothing about which
 * usernames exist.
 */
import type { AccountStore, AdminAccount } from '../store/account-store.js';
import { sanitise } from './audit-trail.js';
import type { LoginThrottle } from './login-throttle.js';
import { generatePassword, hashPassword, verifyPassword } from './passwords.js';

export type LoginOutcome =
  | { kind: 'success'; account: AdminAccount }
  | { kind: 'invalid' }
  | { kind: 'throttled'; retryAfterSeconds: number };

export interface AdminLoginOptions {
  /** ADMIN_USERNAME: the only account that can sign in. */
  username: string;
  accounts: AccountStore;
  throttle: LoginThrottle;
}

export class AdminLogin {
  private constructor(private readonly options: AdminLoginOptions, private readonly dummyHash: string) {}

  static async create(options: AdminLoginOptions): Promise<AdminLogin> {
    return new AdminLogin(options, await hashPassword(generatePassword()));
  }

  async attempt(username: string, password: string, ip: string): Promise<LoginOutcome> {
    const admission = await this.options.throttle.begin(username, ip);
    if (!admission.allowed) return { kind: 'throttled', retryAfterSeconds: admission.retryAfterSeconds };
    let account: AdminAccount | undefined;
    let matches = false;
    try {
      account = username === this.options.username ? await this.options.accounts.getAccount(username) : undefined;
      matches = await verifyPassword(account?.passwordHash ?? this.dummyHash, password);
    } finally {
      await this.options.throttle.finish(admission.ticket, matches && account !== undefined);
    }
    return matches && account ? { kind: 'success', account } : { kind: 'invalid' };
  }
}

/**
 * Makes sure `username` has a password at start: ADMIN_PASSWORD's when set (rehashed only when it
 * changed, so sessions survive restarts), otherwise a generated one the first time, which is
 * returned so the caller can show it once.
 */
export async function ensureAdminAccount(accounts: AccountStore, username: string, configuredPassword: string | undefined): Promise<{ generatedPassword?: string; passwordChanged?: boolean }> {
  const account = await accounts.getAccount(username);
  if (configuredPassword !== undefined) {
    if (!account || !(await verifyPassword(account.passwordHash, configuredPassword))) {
      // A changed ADMIN_PASSWORD changes the password (and ends every session): audited as any change.
      const event = sanitise({ kind: 'admin.password', actor: 'config', target: `user:${username}`, details: { source: 'ADMIN_PASSWORD' } }, Date.now());
      await accounts.setPassword(username, await hashPassword(configuredPassword), event);
      return { passwordChanged: true };
    }
    return {};
  }
  if (account) return {};
  const generatedPassword = generatePassword();
  // Another process (a second server, the CLI) may have created it meanwhile: then keep theirs.
  const created = await accounts.createAccount(username, await hashPassword(generatedPassword));
  return created ? { generatedPassword } : {};
}
