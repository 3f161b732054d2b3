/**
 * Issue 16: HTTPS without a proxy. A certificate made by `openssl` here, the server started with
 * TLS_CERT and TLS_KEY, HSTS on its answers, and SIGHUP serving a renewed certificate without a
 * restart (a broken one is refused and the old one kept).
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { copyFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { connect, type PeerCertificate } from 'node:tls';
import { describe, test } from 'node:test';
import { Agent } from 'undici';
import { runCli, startCli, stopCli } from '../helpers/process.js';
import { ADMIN_KEY, tempDir } from '../helpers/server.js';

const hasOpenssl = spawnSync('openssl', ['version']).status === 0;

/** A self-signed certificate for 127.0.0.1 (and its key) in `dir`, named `name`.crt / `name`.key. */
function makeCertificate(dir: string, name: string, commonName: string): { cert: string; key: string } {
  const cert = path.join(dir, `${name}.crt`);
  const key = path.join(dir, `${name}.key`);
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
    '-subj', `/CN=${commonName}`, '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', cert], { stdio: 'ignore' });
  return { cert, key };
}

/** The certificate the server presents now. */
async function servedCertificate(url: string, ca: string[]): Promise<PeerCertificate> {
  const { hostname, port } = new URL(url);
  const socket = connect({ host: hostname, port: Number(port), ca, servername: undefined });
  await once(socket, 'secureConnect');
  const certificate = socket.getPeerCertificate();
  socket.destroy();
  return certificate;
}

describe('TLS_CERT and TLS_KEY', { skip: hasOpenssl ? false : 'no openssl on PATH' }, () => {
  test('HTTPS with HSTS, and SIGHUP serves a renewed certificate', async () => {
    const dir = tempDir('duckgate-tls-');
    const first = makeCertificate(dir, 'first', 'duckgate-first');
    const second = makeCertificate(dir, 'second', 'duckgate-second');
    const live = { cert: path.join(dir, 'live.crt'), key: path.join(dir, 'live.key') };
    copyFileSync(first.cert, live.cert);
    copyFileSync(first.key, live.key);
    const ca = [first.cert, second.cert].map((file) => execFileSync('cat', [file], { encoding: 'utf8' }));
    const cli = await startCli({ DATA_DIR: tempDir(), ADMIN_API_KEY: ADMIN_KEY, TLS_CERT: live.cert, TLS_KEY: live.key, LOG_LEVEL: 'info', LOG_FORMAT: 'json' });
    const dispatcher = new Agent({ connect: { ca } });
    try {
      assert.match(cli.url, /^https:\/\/127\.0\.0\.1:\d+$/);
      const res = await fetch(`${cli.url}/health`, { headers: { 'x-api-key': ADMIN_KEY }, dispatcher } as RequestInit);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('strict-transport-security'), 'max-age=31536000');
      // Errors carry it too.
      const refused = await fetch(`${cli.url}/health`, { dispatcher } as RequestInit);
      assert.equal(refused.status, 401);
      assert.equal(refused.headers.get('strict-transport-security'), 'max-age=31536000');
      assert.equal((await servedCertificate(cli.url, ca)).subject.CN, 'duckgate-first');

      // Renewed in place (as certbot does), then SIGHUP.
      copyFileSync(second.cert, live.cert);
      copyFileSync(second.key, live.key);
      cli.child.kill('SIGHUP');
      await waitFor(() => cli.output().includes('TLS certificate and key reloaded'), cli.output);
      assert.equal((await servedCertificate(cli.url, ca)).subject.CN, 'duckgate-second');

      // A broken pair is refused; the server keeps serving the one it had.
      writeFileSync(live.key, 'not a key');
      cli.child.kill('SIGHUP');
      await waitFor(() => cli.output().includes('TLS files not reloaded'), cli.output);
      assert.equal((await servedCertificate(cli.url, ca)).subject.CN, 'duckgate-second');
      assert.equal((await fetch(`${cli.url}/health`, { headers: { 'x-api-key': ADMIN_KEY }, dispatcher } as RequestInit)).status, 200);
    } finally {
      await dispatcher.close();
      await stopCli(cli);
    }
  });

  test('one of the two, or an unreadable file, stops the start naming the variable', async () => {
    const dir = tempDir('duckgate-tls-');
    const pair = makeCertificate(dir, 'x', 'x');
    const onlyCert = await runCli(['serve'], { DATA_DIR: tempDir(), TLS_CERT: pair.cert });
    assert.match(onlyCert.stderr, /^Invalid configuration: TLS_KEY must be set with TLS_CERT/);
    const missing = await runCli(['serve'], { DATA_DIR: tempDir(), TLS_CERT: pair.cert, TLS_KEY: path.join(dir, 'nope.key') });
    assert.match(missing.stderr, /^Invalid configuration: TLS_KEY must name a readable PEM file \(ENOENT: .*nope\.key\)/);
    const wrongKey = makeCertificate(dir, 'y', 'y');
    const mismatched = await runCli(['serve'], { DATA_DIR: tempDir(), PORT: '0', TLS_CERT: pair.cert, TLS_KEY: wrongKey.key });
    assert.equal(mismatched.code, 1);
    assert.match(mismatched.stderr, /^duckgate: TLS_CERT and TLS_KEY do not form a usable pair: /);
    assert.doesNotMatch(mismatched.stdout, /first start/);
  });
});

async function waitFor(condition: () => boolean, output: () => string): Promise<void> {
  for (const started = Date.now(); !condition(); await new Promise((resolve) => setTimeout(resolve, 20))) {
    assert.ok(Date.now() - started < 10_000, `timed out:\n${output()}`);
  }
}
