import { errors } from '../../errors.js';
import { atDeadline, isPast } from '../deadline.js';

interface Waiter {
  grant: () => void;
  /** Set when the waiter gave up (its deadline passed): the lock skips it. */
  gone: boolean;
}

/**
 * A FIFO async mutex. The writer connection runs one logical write at a time, so schema evolution
 * (ALTER TABLE) and the insert that needed it can never interleave with another write. A waiter
 * with a deadline leaves the queue when it passes (408), so a stalled writer cannot collect an
 * unbounded backlog of requests that have long been answered.
 */
export class Mutex {
  private locked = false;
  private readonly queue: Waiter[] = [];

  async run<T>(task: () => Promise<T>, deadline?: number): Promise<T> {
    await this.lock(deadline);
    try {
      return await task();
    } finally {
      this.unlock();
    }
  }

  private lock(deadline: number | undefined): Promise<void> {
    if (isPast(deadline)) return Promise.reject(errors.queryTimeout());
    if (!this.locked) {
      this.locked = true;
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { grant: () => (cancel(), resolve()), gone: false };
      const cancel = atDeadline(deadline, () => {
        waiter.gone = true;
        reject(errors.queryTimeout());
      });
      this.queue.push(waiter);
    });
  }

  private unlock(): void {
    for (let next = this.queue.shift(); next !== undefined; next = this.queue.shift()) {
      if (next.gone) continue;
      next.grant();
      return;
    }
    this.locked = false;
  }
}
