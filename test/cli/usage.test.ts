/**
 * Issue 16: the command line says what was wrong and what was probably meant (exit 2 for usage,
 * 1 for a refused or failed run), names the directory it looked in, prints tables a person reads,
 * and has a --help for each command.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { describe, test } from 'node:test';
import { CLI, ROOT, runCli } from '../helpers/process.js';
import { tempDir } from '../helpers/server.js';

/** The CLI run from another directory than the checkout (as `npx duckgate` from anywhere). */
async function runElsewhere(args: string[], cwd: string): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, ['--import', path.join(ROOT, 'node_modules/tsx/dist/esm/index.mjs'), CLI, ...args], {
    cwd, env: { PATH: process.env.PATH ?? '' }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, stderr };
}

describe('usage mistakes: one line, a suggestion, exit 2', () => {
  const cases: [string[], RegExp][] = [
    [['serv'], /^duckgate: unknown command "serv" \(did you mean "serve"\?\)\nRun `npx duckgate --help` for usage\.\n$/],
    [['keys', 'lsit'], /^duckgate: unknown keys action "lsit" \(did you mean "list"\?\)\nRun `npx duckgate keys --help` for usage\.\n$/],
    [['keys', 'create', '--lable', 'pos'], /^duckgate: unknown option --lable \(did you mean --label\?\)\n/],
    [['keys', 'create'], /^duckgate: keys create needs --label: a name for the key, e\.g\. --label web-app\n/],
    [['keys', 'create', '--label'], /^duckgate: --label needs a value\n/],
    [['keys', 'permissions', 'key_x', '--set', '{}', '--merge', '{}'], /^duckgate: use --set \(replace every permission\) or --merge \(change the named collections\), not both\n/],
    [['keys', 'revoke'], /^duckgate: keys revoke needs a <key_id>/],
    [['admin', 'set-pasword'], /^duckgate: unknown admin action "set-pasword" \(did you mean "set-password"\?\)/],
    [['serve', '--prot', '4000'], /^duckgate: unknown option --prot \(did you mean --port\?\)\nRun `npx duckgate serve --help` for usage\.\n$/],
    [['--verison'], /^duckgate: unknown option --verison \(did you mean --version\?\)/],
  ];
  for (const [args, expected] of cases) {
    test(`duckgate ${args.join(' ')}`, async () => {
      const { code, stdout, stderr } = await runCli(args, { DATA_DIR: tempDir() });
      assert.equal(code, 2, stderr);
      assert.match(stderr, expected);
      assert.equal(stdout, '');
    });
  }

  test('set-password without a terminal points at --password-stdin, changing nothing', async () => {
    const { code, stderr } = await runCli(['admin', 'set-password'], { DATA_DIR: tempDir() });
    assert.equal(code, 2);
    assert.match(stderr, /^duckgate: standard input is not a terminal, so there is nothing to prompt on: pipe the password with --password-stdin/);
    assert.doesNotMatch(stderr, /too short|at least/);
  });
});

test('run from another directory, the key commands name the directory they looked in', async () => {
  const elsewhere = tempDir('duckgate-elsewhere-');
  for (const args of [['keys', 'list'], ['admin', 'set-password', '--generate']]) {
    const { code, stderr } = await runElsewhere(args, elsewhere);
    assert.equal(code, 1, stderr);
    assert.equal(stderr, `duckgate: no duckgate data directory at ${path.join(elsewhere, 'data')} (DATA_DIR defaults to ./data of the current directory): run this where the server runs, or set DATA_DIR to its data directory\n`);
  }
});

test('keys list is a table under a header; --json has every field', async () => {
  const env = { DATA_DIR: tempDir() };
  assert.equal((await runCli(['keys', 'list'], env)).stdout, 'No managed keys (environment keys are not listed here).\n');
  const created = await runCli(['keys', 'create', '--label', 'point of sale', '--permissions', '{"menu":["read","write"],"users":{"read":true,"exclude_fields":["age"]}}', '--json'], env);
  assert.equal(created.code, 0, created.stderr);
  const { key_id, prefix } = JSON.parse(created.stdout) as { key_id: string; prefix: string };
  await runCli(['keys', 'create', '--label', 'ops', '--admin'], env);
  const { code, stdout } = await runCli(['keys', 'list'], env);
  assert.equal(code, 0);
  const lines = stdout.trimEnd().split('\n');
  assert.match(lines[0]!, /^ID\s+PREFIX\s+LABEL\s+ACCESS\s+CREATED \(UTC\)\s+LAST USED\s+EXPIRES$/);
  assert.equal(lines.length, 3);
  const row = lines.find((line) => line.startsWith(key_id))!;
  assert.match(row, new RegExp(`^${key_id}\\s+${prefix}\\.\\.\\.\\s+point of sale\\s+menu: read write, users: read \\(exclude_fields\\)\\s+\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d\\s+never\\s+-$`));
  assert.match(lines.find((line) => line.includes(' ops '))!, /\sadmin\s/);
  // Columns line up: every row's PREFIX starts where the header's does.
  const column = lines[0]!.indexOf('PREFIX');
  for (const line of lines.slice(1)) assert.match(line.slice(column), /^dk_live_/);
  const json = JSON.parse((await runCli(['keys', 'list', '--json'], env)).stdout) as { key_id: string }[];
  assert.equal(json.length, 2);
});

describe('--help', () => {
  for (const [args, expected] of [
    [['--help'], /npx duckgate serve \[--port N\] \[--host H\][\s\S]*Exit codes:\n  0  done\n  1  failed[\s\S]*  2  usage/],
    [['serve', '--help'], /^Usage: npx duckgate serve \[--port N\] \[--host ADDRESS\]/],
    [['keys', '--help'], /^Key management[\s\S]*keys create --label L/],
    [['keys', 'create', '--help'], /^Key management/],
    [['token', '--help'], /^Usage: npx duckgate token <key_id>/],
    [['admin', '--help'], /^Dashboard account[\s\S]*--password-stdin/],
    [['help', 'keys'], /^Key management/],
  ] as [string[], RegExp][]) {
    test(`duckgate ${args.join(' ')}`, async () => {
      const { code, stdout } = await runCli(args);
      assert.equal(code, 0);
      assert.match(stdout, expected);
    });
  }

  test('--version prints the package version', async () => {
    const { code, stdout } = await runCli(['--version']);
    assert.equal(code, 0);
    assert.equal(stdout, `${(await import('../../src/version.js')).VERSION}\n`);
  });
});
