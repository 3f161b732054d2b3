#!/usr/bin/env node
/**
 * `duckgate` command line: `serve` (what `npm start` runs), `keys`, `token`, `admin`, `--help`,
 * `--version`. Everything heavy (the server, DuckDB, the stores) is imported only by the command
 * that needs it, so `--version` and `--help` answer at once.
 */
import { VERSION } from '../version.js';
import { ADMIN_HELP, KEYS_HELP, SERVE_HELP, TOKEN_HELP, mainHelp } from './help.js';
import { suggest, UsageError } from './usage.js';

const COMMANDS = ['serve', 'keys', 'token', 'admin', 'sync', 'backup', 'help'] as const;
const HELP_OF: Record<string, string> = { serve: SERVE_HELP, keys: KEYS_HELP, token: TOKEN_HELP, admin: ADMIN_HELP };

/** A command's help; `sync` and `backup` keep theirs beside their code, loaded only when asked. */
async function helpOf(command: string): Promise<string | undefined> {
  if (command === 'sync') return (await import('./sync.js')).SYNC_HELP;
  if (command === 'backup') return (await import('./backup.js')).BACKUP_HELP;
  return HELP_OF[command];
}

async function fullHelp(): Promise<string> {
  return mainHelp(VERSION, [(await helpOf('sync'))!, (await helpOf('backup'))!]);
}

async function main(argv: string[]): Promise<number> {
  const command = argv.find((arg) => !arg.startsWith('-'));
  const wantsHelp = argv.includes('--help') || argv.includes('-h');
  if (command === undefined) {
    if (argv.includes('--version') || argv.includes('-v')) {
      process.stdout.write(`${VERSION}\n`);
      return 0;
    }
    const unknown = argv.find((arg) => arg !== '--help' && arg !== '-h');
    if (unknown) throw new UsageError(`unknown option ${unknown}${suggestOption(unknown, ['help', 'version'])}`);
    process.stdout.write(await fullHelp());
    return wantsHelp ? 0 : 2;
  }
  if (command === 'help') {
    const topic = argv[argv.indexOf('help') + 1];
    process.stdout.write((topic && (await helpOf(topic))) || (await fullHelp()));
    return 0;
  }
  if (!(COMMANDS as readonly string[]).includes(command)) {
    const near = suggest(command, COMMANDS);
    throw new UsageError(`unknown command "${command}"${near ? ` (did you mean "${near}"?)` : ''}`);
  }
  if (wantsHelp) {
    process.stdout.write((await helpOf(command))!);
    return 0;
  }
  if (command === 'serve') return (await import('./serve.js')).serveCommand(argv);
  if (command === 'keys' || command === 'token') return (await import('./keys.js')).keysCommand(argv);
  if (command === 'sync') {
    const [{ syncCommand }, { commandConfig }] = await Promise.all([import('./sync.js'), import('./config.js')]);
    return syncCommand(commandConfig(), argv, process.env);
  }
  if (command === 'backup') {
    const [{ backupCommand }, { commandConfig }] = await Promise.all([import('./backup.js'), import('./config.js')]);
    return backupCommand(commandConfig(), argv);
  }
  return (await import('./admin.js')).adminCommand(argv);
}

function suggestOption(given: string, names: string[]): string {
  const near = suggest(given.replace(/^-+/, ''), names);
  return near ? ` (did you mean --${near}?)` : '';
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof UsageError) {
      const help = error.command ? `npx duckgate ${error.command} --help` : 'npx duckgate --help';
      process.stderr.write(`duckgate: ${error.message}\nRun \`${help}\` for usage.\n`);
      process.exitCode = 2;
      return;
    }
    // A bad setting: its own one line, naming the variable (README: Configuration).
    if (error instanceof Error && error.name === 'ConfigError') {
      process.stderr.write(`${error.message}\n`);
      process.exitCode = 1;
      return;
    }
    // Start-up failures and refusals get one line, never a stack trace.
    process.stderr.write(`duckgate: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
