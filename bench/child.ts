/** The parent's side of a forked `server-child.ts`: start it, ask it things, close it. */
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { READ_CONNECTIONS, type ChildSpec, type Command, type Reply } from './protocol.js';

const CHILD_SCRIPT = fileURLToPath(new URL('./server-child.ts', import.meta.url));
const START_TIMEOUT_MS = 5 * 60_000;
const EXIT_TIMEOUT_MS = 30_000;

type ReplyOf<T extends Reply['type']> = Extract<Reply, { type: T }>;

export class BenchChild {
  private waiting: { resolve: (reply: Reply) => void; reject: (error: Error) => void } | undefined;
  /** Commands go one at a time; each waits for the previous reply. */
  private queue: Promise<unknown> = Promise.resolve();
  private exited = false;

  private constructor(
    readonly spec: ChildSpec,
    private readonly proc: ChildProcess,
    readonly url: string | undefined,
    readonly detail: Record<string, string | number | boolean>,
  ) {
    proc.on('message', (reply: Reply) => this.settle(reply));
    proc.once('exit', (code, signal) => {
      this.exited = true;
      this.waiting?.reject(new Error(`${spec.role} child exited (${signal ?? code}) while a command was pending`));
      this.waiting = undefined;
    });
  }

  /** `nodeArgs`: extra Node flags for the child, e.g. `--cpu-prof`. */
  static async start(spec: ChildSpec, nodeArgs: string[] = []): Promise<BenchChild> {
    // tsx is loaded in the child too; stderr is shared so a crash is visible as it happens.
    const child = fork(CHILD_SCRIPT, [JSON.stringify(spec)], {
      execArgv: ['--import', 'tsx', ...nodeArgs],
      env: { ...process.env, UV_THREADPOOL_SIZE: String(READ_CONNECTIONS) },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const ready = await new Promise<Reply>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${spec.role} child did not start within ${START_TIMEOUT_MS / 1000} s`)), START_TIMEOUT_MS);
      child.once('message', (reply: Reply) => {
        clearTimeout(timer);
        resolve(reply);
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`${spec.role} child exited (${signal ?? code}) before it was ready`));
      });
    });
    if (ready.type !== 'ready') {
      child.kill();
      throw new Error(`${spec.role} child failed to start:\n${ready.type === 'error' ? ready.message : JSON.stringify(ready)}`);
    }
    return new BenchChild(spec, child, ready.url, ready.detail);
  }

  get pid(): number | undefined {
    return this.proc.pid;
  }

  async request<T extends Reply['type']>(command: Command, expect: T): Promise<ReplyOf<T>> {
    const run = this.queue.then(async () => {
      if (this.exited) throw new Error(`${this.spec.role} child has exited`);
      const reply = await new Promise<Reply>((resolve, reject) => {
        this.waiting = { resolve, reject };
        this.proc.send(command);
      });
      if (reply.type === 'error') throw new Error(`${this.spec.role} child: ${reply.message}`);
      if (reply.type !== expect) throw new Error(`${this.spec.role} child answered ${reply.type} to ${command.type}`);
      return reply as ReplyOf<T>;
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** User + system CPU the child has used so far, µs (all its threads, DuckDB's included). */
  async cpuMicros(): Promise<number> {
    const { user, system } = await this.request({ type: 'cpu' }, 'cpu');
    return user + system;
  }

  /** Asks the child to close its server and engine (so the DuckDB file is released), then waits for it to exit. */
  async close(): Promise<void> {
    if (this.exited) return;
    const exit = once(this.proc, 'exit');
    await this.request({ type: 'close' }, 'closed');
    await Promise.race([exit, new Promise((resolve) => setTimeout(resolve, EXIT_TIMEOUT_MS).unref())]);
    if (!this.exited) {
      this.proc.kill('SIGKILL');
      await exit;
    }
  }

  /** Last resort on failure: no reply expected. */
  kill(): void {
    if (!this.exited) this.proc.kill('SIGKILL');
  }

  private settle(reply: Reply): void {
    const waiting = this.waiting;
    this.waiting = undefined;
    waiting?.resolve(reply);
  }
}
