/**
 * `duckgate admin set-password`: sets the dashboard account's password on the control store
 * (safe while a server runs: sessions are checked against the store on every request, so every
 * session signed in with the old password ends at once).
 */
import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import { sanitise } from '../auth/audit-trail.js';
import { generatePassword, hashPassword, passwordProblem } from '../auth/passwords.js';
import type { Config } from '../config/index.js';
import { openControlStore } from '../store/index.js';

export const ADMIN_HELP = `Dashboard account (ADMIN_USERNAME, on the store in DATA_DIR, or STORE_URL):
  duckgate admin set-password                 prompt for a new password (twice, not echoed)
  duckgate admin set-password --password-stdin   read it from standard input
  duckgate admin set-password --generate      generate one and print it once
`;

export async function adminCommand(config: Config, args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { 'password-stdin': { type: 'boolean' }, generate: { type: 'boolean' } },
  });
  if (positionals[1] !== 'set-password') {
    process.stderr.write(`duckgate: unknown admin command "${positionals[1] ?? ''}"\n\n${ADMIN_HELP}`);
    return 1;
  }
  if (config.adminPassword !== undefined) {
    process.stderr.write('duckgate: ADMIN_PASSWORD is set, and the server resets the password to it at every start; change or unset ADMIN_PASSWORD instead\n');
    return 1;
  }
  const password = values.generate ? generatePassword() : await readPassword(values['password-stdin'] === true);
  if (password === undefined) return 1;
  const problem = passwordProblem(password);
  if (problem) {
    process.stderr.write(`duckgate: the password ${problem}\n`);
    return 1;
  }
  const control = await openControlStore(config, { applicationName: 'duckgate-cli' });
  try {
    // The change and who made it commit together.
    const event = sanitise({ kind: 'admin.password', actor: 'cli', target: `user:${config.adminUsername}` }, Date.now());
    await control.accounts.setPassword(config.adminUsername, await hashPassword(password), event);
  } finally {
    await control.close();
  }
  if (values.generate) process.stdout.write(`New password for '${config.adminUsername}' (shown only now):\n\n    ${password}\n\n`);
  process.stdout.write(`Password for '${config.adminUsername}' changed; every session signed in before has ended.\n`);
  return 0;
}

/** From standard input when it is not a terminal (or when asked), else a prompt without echo, twice. */
async function readPassword(fromStdin: boolean): Promise<string | undefined> {
  if (fromStdin || !process.stdin.isTTY) {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
  }
  const first = await prompt('New password: ');
  const second = await prompt('Repeat it: ');
  if (first !== second) {
    process.stderr.write('duckgate: the two passwords differ; nothing changed\n');
    return undefined;
  }
  return first;
}

function prompt(question: string): Promise<string> {
  process.stdout.write(question);
  // Typed characters go nowhere: the password never appears on the screen.
  const silent = new Writable({ write: (_chunk, _encoding, done) => done() });
  const rl = createInterface({ input: process.stdin, output: silent, terminal: true });
  return new Promise((resolve) => {
    rl.question('', (answer) => {
      rl.close();
      process.stdout.write('\n');
      resolve(answer);
    });
  });
}
