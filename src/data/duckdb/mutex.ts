/**
 * A FIFO async mutex. The writer connection runs one logical write at a time, so schema evolution
 * (ALTER TABLE) and the insert that needed it can never interleave with another write.
 */
export class Mutex {
  private tail: Promise<void> = Promise.resolve();

  async run<T>(task: () => Promise<T>): Promise<T> {
    const previous = this.tail;
    let release!: () => void;
    this.tail = new Promise<void>((resolve) => (release = resolve));
    await previous;
    try {
      return await task();
    } finally {
      release();
    }
  }
}
