/**
 * A per-key async lock for one process. When an order's optimistic attempt loses a race for stock
 * (src/allocate/allocator.ts), it re-plans under this lock: decisions on orders that share a SKU
 * then run one after the other (snapshot -> solve -> reserve), so that in one instance they do not
 * keep falling into reservation conflicts; orders on disjoint SKUs still run concurrently.
 * A holder joins the queue of every key synchronously, in one step, so all queues agree on one
 * arrival order: no deadlock, first come first served. Across instances the store's atomic
 * reservation and the pipeline's re-plan on conflict remain the guarantee.
 */
export class KeyedLock {
  private readonly tails = new Map<string, Promise<void>>();

  async run<T>(keys: readonly string[], fn: () => Promise<T>): Promise<T> {
    let release!: () => void;
    const mine = new Promise<void>((r) => (release = r));
    const joined = [...new Set(keys)].map((key) => {
      const prev = this.tails.get(key) ?? Promise.resolve();
      const tail = prev.then(() => mine);
      this.tails.set(key, tail);
      return { key, prev, tail };
    });
    await Promise.all(joined.map((j) => j.prev));
    try {
      return await fn();
    } finally {
      release();
      // Forget a key once nobody queues behind us, so the map does not grow without bound.
      for (const j of joined) if (this.tails.get(j.key) === j.tail) this.tails.delete(j.key);
    }
  }

  /** Keys currently held or waited on (for tests and metrics). */
  get size(): number {
    return this.tails.size;
  }
}
