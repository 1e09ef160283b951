/** One scan of the event stream for a set of ids: each id's count of deleted entries (purgeJobsEvents). */
export type PurgeScan = (ids: readonly string[]) => Promise<ReadonlyMap<string, number>>;

export interface JobEventsPurgerOptions {
  /** Ids purged by one scan at most (they travel in each script's ARGV); the rest wait for the next. 1,000 unless given. */
  readonly maxIdsPerScan?: number;
}

interface Waiter {
  readonly resolve: (count: number) => void;
  readonly reject: (error: unknown) => void;
}

/** Ids purged by one scan unless told otherwise: ARGV of some 40 KB with 36-character ids. */
export const defaultMaxIdsPerScan = 1_000;

/**
 * Lets concurrent erasures in one process share scans of the event stream. A scan reads the whole
 * stream (some 100 scripts on a full one), whatever the number of ids it looks for: 1,000 erasures
 * each scanning alone would cost 1,000 full scans. Here one scan runs at a time; ids asked for
 * while it runs wait, and the next scan purges them together (up to maxIdsPerScan each).
 *
 * A request resolves once a scan that began after it was made has finished, so every entry naming
 * its id that was written before the request is covered (an id asked for again while a scan of it
 * runs waits for the next scan: that one may have started before the entry was written). It
 * rejects with that scan's error if the scan fails: each of its waiters' erasures fails as one
 * would alone, and the next request starts a fresh scan (a retry purges again; the purge is
 * idempotent). Nothing to close: a scan in flight finishes on its own.
 */
export class JobEventsPurger {
  readonly #scan: PurgeScan;
  readonly #maxIdsPerScan: number;
  /** Ids waiting for the next scan, in the order asked, with who waits on each. */
  #pending = new Map<string, Waiter[]>();
  #scanning = false;

  constructor(scan: PurgeScan, options: JobEventsPurgerOptions = {}) {
    this.#scan = scan;
    this.#maxIdsPerScan = options.maxIdsPerScan ?? defaultMaxIdsPerScan;
    if (!(Number.isInteger(this.#maxIdsPerScan) && this.#maxIdsPerScan > 0)) throw new RangeError(`maxIdsPerScan must be a positive integer, not ${this.#maxIdsPerScan}`);
  }

  /**
   * The entries naming `id` deleted by the scan that served this request. Requests for the same
   * id served by one scan: the first is told the count, the others 0 (each tells what it deleted).
   */
  purge(id: string): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      const waiters = this.#pending.get(id);
      if (waiters) waiters.push({ resolve, reject });
      else this.#pending.set(id, [{ resolve, reject }]);
      if (!this.#scanning) {
        this.#scanning = true;
        // Begun on the next microtask: requests made in the same tick share the first scan too.
        queueMicrotask(() => void this.#drain());
      }
    });
  }

  /** Scans until no id waits; never rejects (each scan's outcome goes to its waiters). */
  async #drain(): Promise<void> {
    while (this.#pending.size > 0) {
      const batch = new Map<string, Waiter[]>();
      for (const [id, waiters] of this.#pending) {
        if (batch.size === this.#maxIdsPerScan) break;
        batch.set(id, waiters);
      }
      for (const id of batch.keys()) this.#pending.delete(id);
      try {
        const counts = await this.#scan([...batch.keys()]);
        for (const [id, waiters] of batch) waiters.forEach((waiter, at) => waiter.resolve(at === 0 ? (counts.get(id) ?? 0) : 0));
      } catch (error) {
        for (const waiters of batch.values()) for (const waiter of waiters) waiter.reject(error);
      }
    }
    this.#scanning = false;
  }
}
