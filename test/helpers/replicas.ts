/**
 * duckgate replicas as child processes (`duckgate serve`), for the tests in test/replicas/: start
 * one with its own DATA_DIR, call it over HTTP, stop or kill it, and time how long something takes
 * to hold on it.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { rmSync } from 'node:fs';
import os from 'node:os';
import { CLI, ROOT } from './process.js';
import { tempDir } from './server.js';

/** Runnable processes per core (1-minute load average) above which latency bounds are CPU-bound. */
const OVERLOADED = 1.5;

export interface Replica {
  name: string;
  child: ChildProcess;
  url: string;
  dataDir: string;
  output(): string;
}

export async function startReplica(name: string, env: Record<string, string>): Promise<Replica> {
  const dataDir = tempDir(`duckgate-${name}-`);
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, 'serve'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', PORT: '0', LOG_LEVEL: 'warn', DATA_DIR: dataDir, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start:\n${output}`)), 90_000);
    child.stdout!.on('data', () => {
      const match = /listening on (http:\/\/\S+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with ${code}:\n${output}`));
    });
  });
  return { name, child, url, dataDir, output: () => output };
}

export async function stopReplica(replica: Replica, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (replica.child.exitCode === null && replica.child.signalCode === null) {
    const exited = once(replica.child, 'exit');
    replica.child.kill(signal);
    await exited;
  }
  rmSync(replica.dataDir, { recursive: true, force: true });
}

export interface Answer {
  status: number;
  body: unknown;
}

export async function call(replica: Replica, method: string, path: string, credential?: string, body?: unknown): Promise<Answer> {
  const response = await fetch(`${replica.url}${path}`, {
    method,
    headers: {
      ...(credential ? { authorization: `Bearer ${credential}` } : {}),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? (JSON.parse(text) as unknown) : undefined };
}

/** A metric's value on `replica` (NaN when absent). */
export async function metric(replica: Replica, admin: string, name: string): Promise<number> {
  const text = await fetch(`${replica.url}/metrics`, { headers: { authorization: `Bearer ${admin}` } }).then((r) => r.text());
  const match = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  return match ? Number(match[1]) : NaN;
}

export function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** Load per core now (1-minute average). */
export function loadPerCore(): number {
  return os.loadavg()[0]! / os.cpus().length;
}

/** 100 ms, or 500 ms on a machine whose cores are oversubscribed by other work. */
export function latencyBound(): number {
  return loadPerCore() < OVERLOADED ? 100 : 500;
}

/** Polls `check` until it is true; the milliseconds it took. */
export async function within(ms: number, check: () => Promise<boolean>, what: string): Promise<number> {
  const start = performance.now();
  while (!(await check())) {
    if (performance.now() - start > ms) assert.fail(`${what}: not within ${ms} ms`);
  }
  return performance.now() - start;
}
