/**
 * `duckgate admin set-password`: sets the dashboard account's password on the control store
 * (safe while a server runs: sessions are checked against the store on every request, so every
 * session signed in with the old password ends at once).
 */
import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import { sanitise } from '../auth/audit-trail.js';
import { generatePassword, hashPassword, passwordProblem } from '../auth/passwords.js';
import { openControlStore } from '../store/index.js';
import { assertStoreExists, commandConfig } from './config.js';
import { parseOptions, suggest, UsageError } from './usage.js';

export async function adminCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseOptions('admin', args, { 'password-stdin': { type: 'boolean' }, generate: { type: 'boolean' } });
  if (positionals[1] !== 'set-password') {
    const near = positionals[1] === undefined ? 'set-password' : suggest(positionals[1], ['set-password']);
    throw new UsageError(`${positionals[1] === undefined ? 'admin needs an action' : `unknown admin action "${positionals[1]}"`}${near ? ` (did you mean "${near}"?)` : ''}`, 'admin');
  }
  if (values.generate && values['password-stdin']) throw new UsageError('use --generate or --password-stdin, not both', 'admin');
  // Without a terminal there is no prompt to type into: say how to give the password instead of
  // reading an empty one and calling it too short.
  if (!values.generate && !values['password-stdin'] && !process.stdin.isTTY) {
    throw new UsageError('standard input is not a terminal, so there is nothing to prompt on: pipe the password with --password-stdin (printf %s "$NEW_PASSWORD" | npx duckgate admin set-password --password-stdin), or use --generate', 'admin');
  }
  const config = commandConfig();
  assertStoreExists(config);
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

/** From standard input when asked, else a prompt without echo, twice. */
async function readPassword(fromStdin: boolean): Promise<string | undefined> {
  if (fromStdin) {
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
