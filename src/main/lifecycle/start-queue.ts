// The start queue's bound: at most `concurrency` starts run at once (one per launcher), the
// rest wait in order. What p-queue did here, without its per-task bookkeeping (events,
// timeouts, abort signals, a priority queue): a start's only cost here is a counter, or a
// waiter in an array when every launcher is busy.
export class StartQueue {
  /** starts waiting for a slot, first come first served; each is handed a slot as one ends */
  private waiting: Array<() => void> = [];
  private running = 0;

  constructor(private readonly concurrency: number) {
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError(`StartQueue concurrency must be a positive integer, got ${concurrency}`);
  }

  /** starts waiting for a slot */
  get size(): number {
    return this.waiting.length;
  }

  /** starts running */
  get pending(): number {
    return this.running;
  }

  /** Runs `fn` once a slot is free; settles as it does. */
  async add<T>(fn: () => Promise<T>): Promise<T> {
    if (this.running < this.concurrency) this.running++;
    // The slot is handed over by the start that ends (release), never taken back here: a start
    // added meanwhile cannot run ahead of one that waited, nor above the bound.
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    try {
      return await fn();
    } finally {
      this.release();
    }
  }

  /** Forgets the starts still waiting (skiffd's shutdown): they never run, and their promises never settle. */
  clear(): void {
    this.waiting = [];
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next !== undefined) next();
    else this.running--;
  }
}
