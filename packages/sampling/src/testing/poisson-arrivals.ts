import type { Random } from './seeded-random.ts';

export interface TrafficPhase {
  readonly name: string;
  readonly durationMs: number;
  readonly perHour: number;
}

/**
 * Event timestamps of a Poisson process whose rate changes by phase (e.g. a 10× step): the
 * exponential gaps of real independent traffic, not a metronome.
 */
export class PoissonArrivals {
  private phaseIndex = 0;
  private phaseEnd: number;
  private at: number;

  private readonly phases: readonly TrafficPhase[];
  private readonly random: Random;

  constructor(
    phases: readonly TrafficPhase[],
    random: Random,
    start: number,
  ) {
    this.phases = phases;
    this.random = random;
    this.at = start;
    this.phaseEnd = start + (phases[0]?.durationMs ?? 0);
  }

  /** The phase the last timestamp fell in. */
  get phase(): TrafficPhase {
    return this.phases[this.phaseIndex] as TrafficPhase;
  }

  /** The next timestamp (epoch ms), or undefined after the last phase. */
  next(): number | undefined {
    for (;;) {
      const phase = this.phases[this.phaseIndex];
      if (!phase) return undefined;
      const gap = (-Math.log(1 - this.random()) / phase.perHour) * 3_600_000;
      if (this.at + gap < this.phaseEnd) {
        this.at += gap;
        return this.at;
      }
      // Memorylessness: restarting the draw at the phase boundary keeps the process exact.
      this.at = this.phaseEnd;
      this.phaseIndex++;
      this.phaseEnd += this.phases[this.phaseIndex]?.durationMs ?? 0;
    }
  }
}
