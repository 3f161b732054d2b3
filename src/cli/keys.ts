/**
 * `duckgate keys ...` and `duckgate token`: key management straight on the control-plane store
 * (SQLite in DATA_DIR, or PostgreSQL with STORE_URL), safe while servers run on it: the store
 * announces each change, and every server drops that key from its cache.
 */
import { parseArgs } from 'node:util';
import { EnvironmentKeys } from '../auth/environment-keys.js';
import { renderPermissions } from '../auth/grants.js';
import { loadJwtSecret } from '../auth/jwt-secret.js';
import { KeyService, keyJson, type KeyRequest } from '../auth/key-service.js';
import { toPrincipal } from '../auth/managed-keys.js';
import { issueApiToken } from '../auth/tokens.js';
import type { Config } from '../config/index.js';
import { isApiError } from '../errors.js';
import { openControlStore } from '../store/index.js';
import type { KeyStore, StoredKey } from '../store/key-store.js';

export const KEYS_HELP = `Key management (on the store in DATA_DIR, or STORE_URL; works while servers run):
  duckgate keys create --label L [--description D] [--admin] [--permissions JSON]
                       [--expires-at ISO] [--rate-limit N] [--allowed-ips a,b]
  duckgate keys list
  duckgate keys revoke <key_id>
  duckgate keys regenerate <key_id> [--grace-seconds N]
  duckgate keys permissions <key_id>                 show
  duckgate keys permissions <key_id> --set JSON      replace (POST semantics)
  duckgate keys permissions <key_id> --merge JSON    merge (PUT semantics)
  duckgate token <key_id>                            mint a JWT for a key
Add --json for machine-readable output.
`;

type Output = (value: unknown, human: string) => void;

export async function keysCommand(config: Config, args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
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
    },
  });
  const out: Output = (value, human) => process.stdout.write(values.json ? `${JSON.stringify(value, null, 2)}\n` : `${human}\n`);
  const control = await openControlStore(config, { applicationName: 'duckgate-cli' });
  const { keys: store } = control;
  // Key changes made from the command line are admin actions too: the service writes each one's
  // audit event with it, into the same trail the server keeps.
  const service = new KeyService(store, { environmentAdminKeys: [config.adminApiKey, config.ducklingApiKey].filter(Boolean).length });
  try {
    const [group, action, id] = positionals;
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
        out(keys.map((key) => ({ ...keyJson(key), last_used_at: key.lastUsedAt })), keys.length === 0 ? 'No keys.' : keys.map(describe).join('\n'));
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
        process.stderr.write(`duckgate: unknown keys command "${action ?? ''}"\n\n${KEYS_HELP}`);
        return 1;
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

function required(value: string | undefined, name: string): string {
  if (!value) throw Object.assign(new Error(`missing <${name}>`), { name: 'UsageError' });
  return value;
}

function parseJson(flag: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw Object.assign(new Error(`${flag} is not valid JSON`), { name: 'UsageError' });
  }
}
