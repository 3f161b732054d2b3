/**
 * The README's examples, run as written against a live server, in order: if the product and its
 * manual disagree, this fails. A block runs when the line before its fence is `<!-- runs-in-test -->`.
 */
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ROOT } from '../helpers/process.js';
import { ADMIN_KEY, startTestServer, type TestServer } from '../helpers/server.js';

/** The dashboard password the README's login example signs in with. */
const ADMIN_PASSWORD = 'a-readme-admin-password';

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

const RUNNERS: Record<string, { file: string; command: (file: string) => string[] }> = {
  sh: { file: 'example.sh', command: (file) => ['bash', '-eo', 'pipefail', file] },
  js: { file: 'example.mjs', command: (file) => [process.execPath, file] },
  ts: { file: 'example.mts', command: (file) => [process.execPath, '--import', 'tsx', file] },
  python: { file: 'example.py', command: (file) => [pythonWithRequests() ?? 'python3', file] },
};

describe('README examples against a live server', () => {
  let server: TestServer;
  // Inside the package, so `import 'duckgate/client'` resolves through package.json "exports".
  const workDir = path.join(ROOT, '.tmp', 'readme-examples');
  before(async () => {
    server = await startTestServer({ ADMIN_PASSWORD });
    mkdirSync(workDir, { recursive: true });
    // The client example imports the built package: build it from the current sources first.
    const build = spawnSync(process.execPath, [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(build.status, 0, build.stdout + build.stderr);
  });
  after(async () => server.stop());

  const examples = readmeExamples();
  test('the README has examples in every language the issue names', () => {
    assert.deepEqual([...new Set(examples.map((e) => e.lang))].sort(), ['js', 'python', 'sh', 'ts']);
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
          env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', DUCKGATE_URL: server.url, DUCKGATE_KEY: ADMIN_KEY, DUCKGATE_PASSWORD: ADMIN_PASSWORD },
        }, (error, stdout, stderr) => resolve({ status: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr }));
      });
      assert.equal(run.status, 0, `exit ${run.status}\n--- stdout\n${run.stdout}\n--- stderr\n${run.stderr}`);
      if (example.lang === 'python') assert.match(run.stdout, /'name': 'Ada'/);
      if (example.lang === 'ts') assert.match(run.stdout, /^Linus \{ users: \d+ \}/m);
      // The WebSocket example (Duckling's protocol) sums instead of creating.
      if (example.lang === 'js') assert.match(run.stdout, example.code.includes("type: 'auth'") ? /answer: 42 .*pong: true/ : /created: 1/);
    });
  }
});
