/**
 * The README's examples, run as written against a live server, in order: if the product and its
 * manual disagree, this fails. A block runs when the line before its fence is `<!-- runs-in-test -->`.
 *
 * The server is the Quickstart's: `duckgate serve` on a fresh data directory, its first-start
 * banner's `export` line giving every block DUCKGATE_URL, DUCKGATE_KEY and DUCKGATE_PASSWORD, as a
 * newcomer pastes it. A comment `# → text` (shell, Python) or `// → text` (JavaScript, TypeScript)
 * promises that output: the block's standard output must contain it, `…` standing for anything.
 */
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ROOT } from '../helpers/process.js';
import { startCli, stopCli, type CliProcess } from '../helpers/process.js';
import { tempDir } from '../helpers/server.js';

interface Example {
  lang: string;
  code: string;
  line: number;
}

function readmeExamples(): Example[] {
  const lines = readFileSync(path.join(ROOT, 'README.md'), 'utf8').split('\n');
  const examples: Example[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (lines[i]!.trim() !== '<!-- runs-in-test -->') continue;
    const fence = /^```(\w+)$/.exec(lines[i + 1] ?? '');
    assert.ok(fence, `README.md:${i + 2}: a runs-in-test marker must be followed by a fenced block`);
    const end = lines.indexOf('```', i + 2);
    examples.push({ lang: fence[1]!, code: lines.slice(i + 2, end).join('\n'), line: i + 3 });
    i = end;
  }
  return examples;
}

/** An interpreter that has `requests` (pyenv's, or Debian's python3-requests under /usr/bin). */
function pythonWithRequests(): string | undefined {
  return ['python3', '/usr/bin/python3'].find((python) => spawnSync(python, ['-c', 'import requests']).status === 0);
}

/** What a block's comments promise it prints: `# → …` / `// → …`, as patterns (`…` is anything). */
export function promisedOutputs(example: Example): { text: string; pattern: RegExp }[] {
  const marker = example.lang === 'js' || example.lang === 'ts' ? /\/\/ → (.+)$/ : /^\s*# → (.+)$/;
  return example.code.split('\n').flatMap((line) => {
    const text = marker.exec(line)?.[1]?.trim();
    if (!text) return [];
    const pattern = text.split('…').map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('[\\s\\S]*?');
    return [{ text, pattern: new RegExp(pattern) }];
  });
}

/** The banner's `export NAME=value …` line as variables (values are bare or single-quoted). */
function bannerExports(output: string): Record<string, string> {
  const line = /^export (DUCKGATE_URL=.+)$/m.exec(output)?.[1];
  assert.ok(line, `no export line in the first-start banner:\n${output}`);
  return Object.fromEntries([...line.matchAll(/(\w+)=('([^']*)'|\S+)/g)].map((m) => [m[1]!, m[3] ?? m[2]!]));
}

const RUNNERS: Record<string, { file: string; command: (file: string) => string[] }> = {
  sh: { file: 'example.sh', command: (file) => ['bash', '-eo', 'pipefail', file] },
  js: { file: 'example.mjs', command: (file) => [process.execPath, file] },
  ts: { file: 'example.mts', command: (file) => [process.execPath, '--import', 'tsx', file] },
  python: { file: 'example.py', command: (file) => [pythonWithRequests() ?? 'python3', file] },
};

describe('README examples against a live server', () => {
  let server: CliProcess;
  let variables: Record<string, string> = {};
  // Inside the package, so `import 'duckgate/client'` resolves through package.json "exports".
  const workDir = path.join(ROOT, '.tmp', 'readme-examples');
  before(async () => {
    server = await startCli({ DATA_DIR: tempDir() });
    variables = bannerExports(server.output());
    assert.deepEqual(Object.keys(variables), ['DUCKGATE_URL', 'DUCKGATE_KEY', 'DUCKGATE_PASSWORD']);
    mkdirSync(workDir, { recursive: true });
    // The client example imports the built package: build it from the current sources first.
    const build = spawnSync(process.execPath, [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(build.status, 0, build.stdout + build.stderr);
  });
  after(async () => stopCli(server));

  const examples = readmeExamples();
  test('the README has examples in every language the issue names', () => {
    assert.deepEqual([...new Set(examples.map((e) => e.lang))].sort(), ['js', 'python', 'sh', 'ts']);
  });

  test('every block that shows output promises it, and the Quickstart comes first', () => {
    assert.ok(examples[0]!.code.includes('--fail-with-body'), 'the Quickstart block is the first one run');
    for (const example of examples) {
      if (/console\.log|print\(|^curl (?!.*(-o \/dev\/null|> \/dev\/null|\| grep))/m.test(example.code)) {
        assert.ok(promisedOutputs(example).length > 0, `README.md:${example.line}: prints output but promises none`);
      }
    }
  });

  test('a promise pattern matches what it says and nothing else', () => {
    const [promise] = promisedOutputs({ lang: 'sh', line: 1, code: '# → {"id":"…","n":1}' });
    assert.match('{"id":"abc","n":1}', promise!.pattern);
    assert.doesNotMatch('{"id":"abc","n":2}', promise!.pattern);
  });

  for (const example of examples) {
    const skip = example.lang === 'python' && !pythonWithRequests() ? 'no python3 with requests (Debian: python3-requests; .ci/run installs it)' : false;
    test(`README.md:${example.line} (${example.lang})`, { skip }, async () => {
      const runner = RUNNERS[example.lang];
      assert.ok(runner, `no runner for ${example.lang}`);
      const file = path.join(workDir, runner.file);
      writeFileSync(file, `${example.code}\n`);
      const [command, ...args] = runner.command(file);
      // Asynchronously: the server under test lives in this process and must keep answering.
      const run = await new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
        execFile(command!, args, {
          cwd: ROOT,
          encoding: 'utf8',
          timeout: 60_000,
          env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...variables },
        }, (error, stdout, stderr) => resolve({ status: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr }));
      });
      assert.equal(run.status, 0, `exit ${run.status}\n--- stdout\n${run.stdout}\n--- stderr\n${run.stderr}`);
      for (const promise of promisedOutputs(example)) {
        assert.match(run.stdout, promise.pattern, `README.md:${example.line}: promised "${promise.text}"\n--- stdout\n${run.stdout}`);
      }
      if (example.lang === 'python') assert.match(run.stdout, /'name': 'Ada'/);
      if (example.lang === 'ts') assert.match(run.stdout, /^Linus \{ users: \d+ \}/m);
      // The WebSocket example (Duckling's protocol) sums instead of creating.
      if (example.lang === 'js') assert.match(run.stdout, example.code.includes("type: 'auth'") ? /answer: 42 .*pong: true/ : /created: 1/);
    });
  }
});
