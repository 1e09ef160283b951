const hourMs = 3_600_000;

/** Events after the first instant after which the time since it measures the rate (see `recent`). */
const settledEvents = 20;

/**
 * Events per hour over the last `windowMs`, from a ring of bucket counts: O(1) per event (plus the
 * buckets skipped after a quiet spell, at most all of them), a few hundred bytes. A sliding window
 * rather than an exponential average because it is exact one window after a change in traffic,
 * where an exponential average is still e^-1 off after one time constant.
 */
export class SlidingWindowRate {
  private readonly bucketMs: number;
  private readonly counts: Float64Array;
  private sum = 0;
  /** Absolute index (floor(now / bucketMs)) of the newest bucket. */
  private current = Number.NaN;
  private firstAt = Number.NaN;
  /** Events recorded at `firstAt` itself: a worker decides a whole batch at one timestamp. */
  private atFirst = 0;

  constructor(windowMs: number, buckets = 20) {
    if (!(windowMs > 0 && Number.isFinite(windowMs))) throw new RangeError(`windowMs must be > 0, got ${windowMs}`);
    this.bucketMs = windowMs / buckets;
    this.counts = new Float64Array(buckets);
  }

  record(now: number): void {
    this.advance(now);
    if (now === this.firstAt) this.atFirst += 1;
    const slot = this.current % this.counts.length;
    this.counts[slot] = (this.counts[slot] as number) + 1;
    this.sum += 1;
  }

  /** Undefined before the first event. */
  ratePerHour(now: number): number | undefined {
    return this.recent(now, this.counts.length)?.perHour;
  }

  /**
   * Events and rate over the newest `buckets` buckets only (the newest one partial): a short
   * look that sees a surge before the whole window does. Undefined before the first event.
   */
  recent(now: number, buckets: number): { readonly events: number; readonly perHour: number } | undefined {
    if (Number.isNaN(this.current)) return undefined;
    this.advance(now);
    const n = Math.min(Math.max(1, Math.floor(buckets)), this.counts.length);
    let events = this.sum;
    if (n < this.counts.length) {
      events = 0;
      for (let i = 0; i < n; i++) events += this.counts[(this.current - i) % this.counts.length] as number;
    }
    const newestStart = this.current * this.bucketMs;
    const span = Math.max(now, newestStart) - newestStart + (n - 1) * this.bucketMs;
    // Before the span has passed, only the time since the first event counts. A few events
    // close together could claim an enormous rate, so until `settledEvents` have come after the
    // first instant the time counts as at least one bucket. After that, the events since the
    // first instant over the time since it are a fair measure, where a whole bucket would
    // understate a fresh stream's rate (and a budget dividing by it would overspend its first
    // bucket several times over). The first instant's own events are left out: they mark when
    // counting began (a whole batch decided at one timestamp would otherwise claim a rate of
    // its size per millisecond).
    const since = now - this.firstAt;
    const after = this.sum - this.atFirst;
    if (since < span && after >= settledEvents && since > 0) return { events, perHour: (after / since) * hourMs };
    const covered = Math.min(span, Math.max(this.bucketMs, since));
    return { events, perHour: (events / covered) * hourMs };
  }

  private advance(now: number): void {
    const index = Math.floor(now / this.bucketMs);
    if (Number.isNaN(this.current)) {
      this.current = index;
      this.firstAt = now;
      return;
    }
    // A timestamp from the past (another producer's clock) counts in the newest bucket.
    if (index <= this.current) return;
    const steps = Math.min(index - this.current, this.counts.length);
    for (let i = 1; i <= steps; i++) {
      const slot = (this.current + i) % this.counts.length;
      this.sum -= this.counts[slot] as number;
      this.counts[slot] = 0;
    }
    this.current = index;
  }
}
