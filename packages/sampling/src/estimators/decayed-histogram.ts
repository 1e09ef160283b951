/** An observation stamped further than this before the latest one means the clock was set back. */
const clockStepMs = 60_000;

export interface DecayedHistogramOptions {
  /** Equal-width bins over [0, 1]; default 2048. */
  readonly bins?: number;
  /** An observation's weight halves every halfLifeMs; Infinity keeps every one at full weight. */
  readonly halfLifeMs: number;
}

/**
 * Streaming quantiles of values in [0, 1] with exponential forgetting: O(1) per observation, a
 * fixed 16 KiB (2048 bins), deterministic. Rather than decaying every bin at each observation, new
 * observations get a growing weight 2^((t − origin)/halfLife) (the same ratios); the bins are
 * rescaled once that weight would pass 2^200, which keeps the arithmetic far from overflow. Within a
 * bin values are taken as uniform, so the error is at most one bin width (1/2048) in value and
 * small in rank where the density is smooth.
 *
 * Time only goes forward: an observation stamped more than a minute before the latest one is
 * taken as a clock set back (the latest was stamped ahead, and the clock corrected), and the
 * histogram's clock is rebased so that it counts as the latest. Otherwise it, and every one after
 * it until real time caught up, would weigh 2^(−step/half-life) of the one stamped ahead: nothing
 * at all after 200 half-lives, the rescale having moved the origin up to the stamp ahead.
 */
export class DecayedHistogram {
  private readonly counts: Float64Array;
  private readonly bins: number;
  private readonly halfLifeMs: number;
  private total = 0;
  private origin: number | undefined;
  /** The latest observation's time (ms, the clock of `add`, rebased as `origin` is). */
  private latest = Number.NEGATIVE_INFINITY;
  /** The weight of the current second since origin, cached: 2^x costs more than the rest of add. */
  private weightSecond = 0;
  private secondWeight = 1;

  constructor(options: DecayedHistogramOptions) {
    this.bins = options.bins ?? 2048;
    this.halfLifeMs = options.halfLifeMs;
    if (!(Number.isInteger(this.bins) && this.bins > 0)) throw new RangeError(`bins must be a positive integer, got ${this.bins}`);
    if (!(this.halfLifeMs > 0)) throw new RangeError(`halfLifeMs must be > 0, got ${this.halfLifeMs}`);
    this.counts = new Float64Array(this.bins);
  }

  /** Decayed number of observations: the sum of the weights, the latest observation's weighing 1. */
  get weight(): number {
    return this.weightAt(this.latest);
  }

  /**
   * Decayed number of observations at `now` (not before the latest observation): what the
   * histogram holds in units of an observation made now, so a model idle for ten half-lives holds
   * a thousandth of what it held. 0 while empty.
   */
  weightAt(now: number): number {
    if (this.origin === undefined || this.halfLifeMs === Infinity) return this.total;
    // The weights step once a second (see add), so "now" is taken to its second as well.
    const second = Math.floor((Math.max(now, this.latest) - this.origin) / 1000);
    // Asked right after an add (the budget does, per event): the cached weight, no power.
    if (second === this.weightSecond) return this.total / this.secondWeight;
    return this.total * 2 ** (-(second * 1000) / this.halfLifeMs);
  }

  add(value: number, now: number): void {
    if (this.origin === undefined) this.origin = now;
    else if (now < this.latest - clockStepMs) {
      // The clock was set back: shift the past back with it, so `now` is the latest instant again.
      this.origin -= this.latest - now;
      this.latest = now;
    }
    if (now > this.latest) this.latest = now;
    // Weights step once per second of `now` (2^(1 s / half-life) apart: < 0.02% for half-lives
    // over an hour), so the power is taken once a second rather than per observation.
    let second = Math.floor((now - this.origin) / 1000);
    if (second !== this.weightSecond) {
      if (this.halfLifeMs !== Infinity && (second * 1000) / this.halfLifeMs > 200) {
        this.rescale(this.origin + second * 1000);
        second = 0;
      }
      this.weightSecond = second;
      this.secondWeight = this.halfLifeMs === Infinity ? 1 : 2 ** ((second * 1000) / this.halfLifeMs);
    }
    const w = this.secondWeight;
    // NaN and out-of-range values land in the end bins rather than being dropped: every
    // observation counts toward the total the quantiles are shares of.
    const scaled = value * this.bins;
    const bin = scaled >= this.bins ? this.bins - 1 : scaled > 0 ? Math.floor(scaled) : 0;
    this.counts[bin] = (this.counts[bin] as number) + w;
    this.total += w;
  }

  /**
   * The value v with a `share` (0…1) of the decayed weight at or above it; undefined while empty.
   * share ≥ 1 → 0, share ≤ 0 → 1. Scans from the top, so it costs the bins above v.
   */
  upperQuantile(share: number): number | undefined {
    if (this.total <= 0) return undefined;
    if (share >= 1) return 0;
    if (!(share > 0)) return 1;
    const target = share * this.total;
    let above = 0;
    for (let bin = this.bins - 1; bin >= 0; bin--) {
      const count = this.counts[bin] as number;
      if (above + count >= target) {
        const inBin = count > 0 ? (target - above) / count : 0;
        return (bin + 1 - inBin) / this.bins;
      }
      above += count;
    }
    return 0;
  }

  /** The q-quantile (0…1) of the decayed distribution; undefined while empty. */
  quantile(q: number): number | undefined {
    return this.upperQuantile(1 - q);
  }

  /** Moves the origin to `at`: every bin divided by the weight an observation at `at` would have. */
  private rescale(at: number): void {
    const factor = 2 ** (-((at - (this.origin as number)) / this.halfLifeMs));
    for (let i = 0; i < this.bins; i++) this.counts[i] = (this.counts[i] as number) * factor;
    this.total *= factor;
    this.origin = at;
  }
}
