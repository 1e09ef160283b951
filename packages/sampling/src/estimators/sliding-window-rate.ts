const hourMs = 3_600_000;

/** Events after the first instant after which the time since it measures the rate (see `recent`). */
const settledEvents = 20;
/** ln of the chance below which events after a quiet spell are taken for traffic back, not one more sparse event. */
const logImplausible = Math.log(1e-3);
/** The longest quiet spell counted before an event (a day): a model silent longer is read as one per day. */
export const maxQuietSpellMs = 24 * hourMs;

/**
 * Events per hour over the last `windowMs`, from a ring of bucket counts: O(1) per event (plus the
 * buckets skipped after a quiet spell, at most all of them), a few hundred bytes. A sliding window
 * rather than an exponential average because it is exact one window after a change in traffic,
 * where an exponential average is still e^-1 off after one time constant.
 *
 * Two kinds of gap restart the measure rather than bend it: traffic that comes back to an empty
 * window (a pause of a window or more) is measured as a fresh stream, from its own first events,
 * not over a whole window it was absent from most of, as soon as those events come too fast to
 * be one more event of sparse traffic (until then the quiet spell counts as covered: a model
 * whose events are a window or more apart is read at about one per spell, the whole spell counted
 * up to a day); and a timestamp more than a window behind
 * the newest bucket is a clock that was set back (an earlier stamp was ahead, a worker clock that
 * NTP corrected), so the window's clock is rebased onto it instead of every later event landing
 * in the newest bucket until real time caught up with the stamp.
 */
export class SlidingWindowRate {
  private readonly bucketMs: number;
  private readonly counts: Float64Array;
  private sum = 0;
  /** Absolute index (floor(now / bucketMs)) of the newest bucket. */
  private current = Number.NaN;
  /** Added to every `now`: moved when the clock is set back. */
  private offset = 0;
  /** The latest instant seen, in window time (now + offset). */
  private latest = Number.NEGATIVE_INFINITY;
  /** When counting began: the first event, or the first one into an empty window. In window time (now + offset). */
  private firstAt = Number.NaN;
  /** Events recorded at `firstAt` itself: a worker decides a whole batch at one timestamp. */
  private atFirst = 0;
  /** The latest event's instant, in window time; NaN before the first. Queries do not move it. */
  private lastEventAt = Number.NaN;
  /**
   * The quiet spell before `firstAt` (since the event before it, at most a day), counted as
   * time covered while the events since are plausible at about one per spell; 0 for the first
   * event ever (nothing is known of the time before it) and once they are not (`checkQuietSpell`).
   */
  private quietBefore = 0;
  private readonly windowMs: number;

  constructor(windowMs: number, buckets = 20) {
    if (!(windowMs > 0 && Number.isFinite(windowMs))) throw new RangeError(`windowMs must be > 0, got ${windowMs}`);
    this.windowMs = windowMs;
    this.bucketMs = windowMs / buckets;
    this.counts = new Float64Array(buckets);
  }

  record(at: number): void {
    const now = this.advance(at);
    // An empty window: the first event ever, or traffic back after a pause of a window or more.
    // Either way counting begins again here; with the old first instant kept, the time since it
    // would count as fully covered and the rate read as the few new events over a whole window
    // (621/h 10 s into 10 events/s after a 12 h pause, where a fresh count reads 35,640/h).
    // The quiet spell before it is kept too: a model whose events come more than a window apart
    // always finds the window empty, and read as one event per bucket it counted ≥ 120/h whatever
    // its traffic (1 event / 15 min at K = 10/h: 15 of 192 reviewed; 191 with the spell counted).
    if (this.sum === 0) {
      this.firstAt = now;
      this.atFirst = 0;
      this.quietBefore = Number.isNaN(this.lastEventAt) ? 0 : Math.min(maxQuietSpellMs, Math.max(0, now - this.lastEventAt));
    }
    if (!(now <= this.lastEventAt)) this.lastEventAt = now;
    if (now === this.firstAt) this.atFirst += 1;
    const slot = this.current % this.counts.length;
    this.counts[slot] = (this.counts[slot] as number) + 1;
    this.sum += 1;
    if (this.quietBefore > 0 && now !== this.firstAt) this.checkQuietSpell(now);
  }

  /** Events in the window at `now`. */
  events(now: number): number {
    if (!Number.isNaN(this.current)) this.advance(now);
    return this.sum;
  }

  /** Undefined before the first event. */
  ratePerHour(now: number): number | undefined {
    return this.recent(now, this.counts.length)?.perHour;
  }

  /**
   * Events and rate over the newest `buckets` buckets only (the newest one partial): a short
   * look that sees a surge before the whole window does. Undefined before the first event.
   */
  recent(at: number, buckets: number): { readonly events: number; readonly perHour: number } | undefined {
    if (Number.isNaN(this.current)) return undefined;
    const now = this.advance(at);
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
    // Traffic back after a quiet spell counts that spell as covered too, for as long as its events
    // are plausible at one per spell (`quietBefore`, see `record`): a lone event, or a batch at
    // one instant, is then read as one per spell and not as a fresh stream's first bucket.
    const since = now - this.firstAt;
    const after = this.sum - this.atFirst;
    if (since < span && after >= settledEvents && since > 0) return { events, perHour: (after / since) * hourMs };
    // A lone event (or a batch at one instant) after a spell longer than the span counts the whole
    // spell, up to a day: one per spell. Capped at the window, a model with 4 events an hour read
    // each lone one as 6/h and, with two in a window read as 12/h, was given about half of K: the
    // window alone cannot read a rate below one per window. With the spell counted in full, the
    // reading is (events in the window) / max(window, time since the event before), whose inverse
    // averages 1/rate for Poisson traffic, so a budget's shares add up to K. The whole window only:
    // the step guard's short look is left as it was.
    if (after === 0 && n === this.counts.length && this.quietBefore > span) return { events, perHour: (events / this.quietBefore) * hourMs };
    const covered = Math.min(span, Math.max(this.bucketMs, since, this.quietBefore));
    return { events, perHour: (events / covered) * hourMs };
  }

  /**
   * Drops the quiet spell from the time covered once the events after the first instant are
   * implausible for traffic of one event per spell: `after` of them within `since` of it, whose
   * Poisson chance (mean since / quietBefore) is below 1/1000. Traffic back at 10 events/s is
   * read as a fresh stream from its second event (0.1 s after a 10 min spell: 1.7e-4), as before;
   * events 1 s apart from the third. Sticky until the window empties again.
   */
  private checkQuietSpell(now: number): void {
    const after = this.sum - this.atFirst;
    // Judged against a spell of at most a window, as before spells were counted in full: a day's
    // spell would take a second event a minute later for a fresh stream.
    const mean = Math.abs(now - this.firstAt) / Math.min(this.quietBefore, this.windowMs);
    // mean^after / after! bounds the chance of ≥ after events from above (it is that term × e^mean).
    let logChance = after * Math.log(mean);
    for (let i = 2; i <= after && logChance >= logImplausible; i++) logChance -= Math.log(i);
    if (logChance < logImplausible) this.quietBefore = 0;
  }

  /** Moves the window to `at` and returns it in window time (at + offset). */
  private advance(at: number): number {
    let now = at + this.offset;
    let index = Math.floor(now / this.bucketMs);
    if (Number.isNaN(this.current)) {
      this.current = index;
      this.latest = now;
      return now;
    }
    if (this.current - index >= this.counts.length) {
      // More than a window behind the newest bucket: not a late event but a clock set back
      // (a stamp ahead of real time, then the correction). The window's clock is rebased so that
      // this instant is the latest one seen and time goes on from there; the counts stay.
      // Without it every event until real time caught up landed in the newest bucket, and the
      // rate grew without bound (+6 h: 8,640,120/h where the traffic was 36,000/h).
      this.offset += this.latest - now;
      now = this.latest;
      index = Math.floor(now / this.bucketMs);
    }
    if (now > this.latest) this.latest = now;
    // A timestamp from the past (another producer's clock, within a window) counts in the newest bucket.
    if (index <= this.current) return now;
    const steps = Math.min(index - this.current, this.counts.length);
    for (let i = 1; i <= steps; i++) {
      const slot = (this.current + i) % this.counts.length;
      this.sum -= this.counts[slot] as number;
      this.counts[slot] = 0;
    }
    this.current = index;
    return now;
  }
}
