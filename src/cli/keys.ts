/**
 * `duckgate keys ...` and `duckgate token`: key management straight on the control-plane store
 * (SQLite in DATA_DIR, or PostgreSQL with STORE_URL), safe while servers run on it: the store
 * announces each change, and every server drops that key from its cache.
 */
import { EnvironmentKeys } from '../auth/environment-keys.js';
import { renderPermissions } from '../auth/grants.js';
import { loadJwtSecret } from '../auth/jwt-secret.js';
import { KeyService, keyJson, type KeyRequest } from '../auth/key-service.js';
import { toPrincipal } from '../auth/managed-keys.js';
import { issueApiToken } from '../auth/tokens.js';
import type { Config } from '../config/index.js';
import { isApiError } from '../errors.js';
import { openControlStore } from '../store/index.js';
import { assertStoreExists, commandConfig } from './config.js';
import { parseOptions, suggest, UsageError } from './usage.js';
import type { KeyStore, StoredKey } from '../store/key-store.js';

type Output = (value: unknown, human: string) => void;

const ACTIONS = ['create', 'list', 'revoke', 'regenerate', 'permissions'] as const;

export async function keysCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseOptions(args[0] === 'token' ? 'token' : 'keys', args, {
      json: { type: 'boolean' },
      label: { type: 'string' },
      description: { type: 'string' },
      admin: { type: 'boolean' },
      permissions: { type: 'string' },
      'expires-at': { type: 'string' },
      'rate-limit': { type: 'string' },
      'allowed-ips': { type: 'string' },
      'grace-seconds': { type: 'string' },
      set: { type: 'string' },
      merge: { type: 'string' },
  });
  const [group, action, id] = positionals;
  // Usage first, before any store is opened: a mistake costs nothing and says what was meant.
  if (group === 'token') {
    if (!action) throw new UsageError('token needs a <key_id> (see `npx duckgate keys list`)', 'token');
  } else {
    if (action === undefined) throw new UsageError(`keys needs an action: ${ACTIONS.join(', ')}`, 'keys');
    if (!(ACTIONS as readonly string[]).includes(action)) {
      const near = suggest(action, ACTIONS);
      throw new UsageError(`unknown keys action "${action}"${near ? ` (did you mean "${near}"?)` : ''}`, 'keys');
    }
    if (action === 'create' && (values.label === undefined || values.label.trim() === '')) {
      throw new UsageError('keys create needs --label: a name for the key, e.g. --label web-app', 'keys');
    }
    if (['revoke', 'regenerate', 'permissions'].includes(action) && !id) {
      throw new UsageError(`keys ${action} needs a <key_id> (see \`npx duckgate keys list\`)`, 'keys');
    }
    if (values.set !== undefined && values.merge !== undefined) {
      throw new UsageError('use --set (replace every permission) or --merge (change the named collections), not both', 'keys');
    }
  }
  const config = commandConfig();
  assertStoreExists(config);
  const out: Output = (value, human) => process.stdout.write(values.json ? `${JSON.stringify(value, null, 2)}\n` : `${human}\n`);
  const control = await openControlStore(config, { applicationName: 'duckgate-cli' });
  const { keys: store } = control;
  // Key changes made from the command line are admin actions too: the service writes each one's
  // audit event with it, into the same trail the server keeps.
  const service = new KeyService(store, { environmentAdminKeys: [config.adminApiKey, config.ducklingApiKey].filter(Boolean).length });
  try {
    if (group === 'token') return await mintToken(config, store, action, out);
    switch (action) {
      case 'create': {
        const request: KeyRequest = {
          label: values.label,
          description: values.description,
          is_admin: values.admin === true,
          collection_permissions: values.permissions === undefined ? undefined : parseJson('--permissions', values.permissions),
          expires_at: values['expires-at'],
          rate_limit: values['rate-limit'] === undefined ? undefined : Number(values['rate-limit']),
          allowed_ips: values['allowed-ips']?.split(',').map((ip) => ip.trim()).filter(Boolean),
        };
        const issued = await service.create(request, 'cli');
        out({ key: issued.key, ...keyJson(issued.stored) },
          `Created ${issued.stored.id} (${issued.stored.label})\n\n    ${issued.key}\n\nStore this key now: it is shown only once.`);
        return 0;
      }
      case 'list': {
        const keys = await service.list();
        out(keys.map((key) => ({ ...keyJson(key), last_used_at: key.lastUsedAt })), keys.length === 0 ? 'No managed keys (environment keys are not listed here).' : keyTable(keys));
        return 0;
      }
      case 'revoke':
        await service.revoke(required(id, 'key_id'), 'cli');
        out({ status: 'success', message: 'Key revoked successfully' }, `Revoked ${id}.`);
        return 0;
      case 'regenerate': {
        const issued = await service.regenerate(required(id, 'key_id'), Number(values['grace-seconds'] ?? 0), 'cli');
        out({ key: issued.key, ...keyJson(issued.stored), grace_until: issued.graceUntil },
          `Regenerated ${id}\n\n    ${issued.key}\n\nThe old key ${issued.graceUntil ? `works until ${issued.graceUntil}` : 'no longer works'}. Store the new one now: it is shown only once.`);
        return 0;
      }
      case 'permissions': {
        const keyId = required(id, 'key_id');
        if (values.set !== undefined) {
          const { stored } = await service.setPermissions(keyId, parseJson('--set', values.set), 'cli');
          out({ status: 'updated', key_id: keyId, collection_permissions: renderPermissions(stored.permissions) }, describe(stored));
        } else if (values.merge !== undefined) {
          const { stored, changes } = await service.updatePermissions(keyId, parseJson('--merge', values.merge), 'cli');
          out({ status: 'updated', key_id: keyId, collection_permissions: renderPermissions(stored.permissions), changes },
            [...changes, describe(stored)].join('\n'));
        } else {
          const stored = await service.get(keyId);
          out({ key_id: keyId, collection_permissions: renderPermissions(stored.permissions) }, describe(stored));
        }
        return 0;
      }
      default:
        throw new UsageError(`unknown keys action "${action ?? ''}"`, 'keys');
    }
  } catch (error) {
    if (!isApiError(error)) throw error;
    process.stderr.write(`duckgate: ${error.message}\n`);
    return 1;
  } finally {
    await control.close();
  }
}

async function mintToken(config: Config, store: KeyStore, keyId: string | undefined, out: Output): Promise<number> {
  const id = required(keyId, 'key_id');
  const secret = loadJwtSecret(config.jwtSecret, config.dataDir);
  const environmentKeys = new EnvironmentKeys({ ...config, secrets: { secret } });
  const key = id.startsWith('env:') ? undefined : await store.getKey(id);
  const principal = id.startsWith('env:') ? environmentKeys.byId(id) : key && toPrincipal(key, 'api-key');
  if (!principal) {
    process.stderr.write(`duckgate: API key '${id}' not found\n`);
    return 1;
  }
  const { token, expiresIn } = await issueApiToken({ secret }, principal, config.tokenExpiresIn);
  out({ token, expires_in: expiresIn }, token);
  return 0;
}

function describe(key: StoredKey): string {
  const permissions = key.isAdmin ? 'admin' : JSON.stringify(renderPermissions(key.permissions));
  return `${key.id}  ${key.prefix}...  ${key.label}  ${permissions}  created ${key.createdAt}  last used ${key.lastUsedAt ?? 'never'}`;
}

/** `keys list`: one row per key under a header, columns padded to their widest cell. */
export function keyTable(keys: readonly StoredKey[]): string {
  const rows = keys.map((key) => [
    key.id,
    `${key.prefix}...`,
    key.label,
    key.isAdmin ? 'admin' : permissionSummary(key),
    key.createdAt.slice(0, 16).replace('T', ' '),
    key.lastUsedAt ? key.lastUsedAt.slice(0, 16).replace('T', ' ') : 'never',
    key.expiresAt ? key.expiresAt.slice(0, 16).replace('T', ' ') : '-',
  ]);
  const header = ['ID', 'PREFIX', 'LABEL', 'ACCESS', 'CREATED (UTC)', 'LAST USED', 'EXPIRES'];
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)));
  const line = (cells: string[]) => cells.map((cell, column) => cell.padEnd(widths[column]!)).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

/** `users: read write (fields), posts: read`: the levels per collection, `(fields)` when field rules apply. */
function permissionSummary(key: StoredKey): string {
  const rendered = renderPermissions(key.permissions) as Record<string, unknown>;
  const parts = Object.entries(rendered).map(([collection, grant]) => {
    if (Array.isArray(grant)) return `${collection}: ${grant.join(' ')}`;
    const rules = grant as Record<string, unknown>;
    const levels = ['read', 'write', 'delete'].filter((level) => rules[level] === true);
    const fields = Object.entries(rules).filter(([name, value]) => name.endsWith('_fields') && Array.isArray(value) && value.length > 0).map(([name]) => name);
    return `${collection}: ${levels.join(' ')}${fields.length > 0 ? ` (${fields.join(', ')})` : ''}`;
  });
  return parts.length === 0 ? 'none' : parts.join(', ');
}

function required(value: string | undefined, name: string): string {
  if (!value) throw new UsageError(`missing <${name}>`, 'keys');
  return value;
}

function parseJson(flag: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new UsageError(`${flag} is not valid JSON`, 'keys');
  }
}
