import { budget, decideReview, type ReviewDecision } from '@gradcam/sampling';
import { type ScheduledPhase, SyntheticEventSource } from './sampling-traffic.ts';

/** The budget's default adaptation window: phases are judged from one window after they begin. */
export const adaptationWindowMs = 600_000;
const hourMs = 3_600_000;
/**
 * Events made per timed stretch: small enough to sit in cache like a worker's just-computed maps,
 * large enough that the two clock reads per stretch cost nothing measurable.
 */
const chunkSize = 1024;

export interface PhaseOutcome {
  readonly name: string;
  readonly trafficPerHour: number;
  /** From one adaptation window after the phase began to its end. */
  readonly settledHours: number;
  readonly settledReviews: number;
  /** The first adaptation window of the phase: the transient, reported without a target. */
  readonly transientReviews: number;
  readonly thresholdAtEnd: number;
}

export interface ReplayResult {
  readonly events: number;
  /** Wall time of the decideReview calls alone (event generation is outside the timer). */
  readonly decideMs: number;
  /** This process's CPU time (user + system) over the same stretches: immune to other processes. */
  readonly decideCpuMs: number;
  readonly phases: readonly PhaseOutcome[];
  readonly reviewsPerSimulatedHour: readonly number[];
  /** Share of events whose top-2 maps the priority compared (runner-up a contender). */
  readonly mapComparisonShare: number;
  /** FNV-1a of the sampled events' indices: equal across runs when decisions are deterministic. */
  readonly checksum: number;
}

interface Tally {
  settled: number;
  transient: number;
  threshold: number;
}

/** Replays the scenario through a fresh budget policy, timing only the decisions. */
export function replay(phases: readonly ScheduledPhase[], seed: number, reviewsPerHour: number): ReplayResult {
  const source = new SyntheticEventSource(phases, seed);
  const policy = budget({ reviewsPerHour, adaptationWindowMs });
  const start = (phases[0] as ScheduledPhase).startMs;
  const tallies: Tally[] = phases.map(() => ({ settled: 0, transient: 0, threshold: 0 }));
  const hourly = new Array<number>(Math.ceil(((phases.at(-1) as ScheduledPhase).endMs - start) / hourMs)).fill(0);
  let checksum = 0x811c9dc5;
  let phaseIndex = 0;
  let index = 0;
  let decideNs = 0n;
  let decideCpuUs = 0;
  const decisions = new Array<ReviewDecision>(chunkSize);
  while (source.remaining > 0) {
    const inputs = source.chunk(chunkSize);
    const cpu0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    for (let j = 0; j < inputs.length; j++) decisions[j] = decideReview(policy, inputs[j]!);
    decideNs += process.hrtime.bigint() - t0;
    const cpu = process.cpuUsage(cpu0);
    decideCpuUs += cpu.user + cpu.system;

    for (let j = 0; j < inputs.length; j++, index++) {
      const now = inputs[j]!.now;
      const decision = decisions[j]!;
      while (now >= (phases[phaseIndex] as ScheduledPhase).endMs && phaseIndex < phases.length - 1) phaseIndex++;
      const tally = tallies[phaseIndex] as Tally;
      tally.threshold = decision.threshold ?? Number.NaN;
      if (!decision.sampled) continue;
      if (now < (phases[phaseIndex] as ScheduledPhase).startMs + adaptationWindowMs) tally.transient++;
      else tally.settled++;
      hourly[Math.floor((now - start) / hourMs)]!++;
      checksum = Math.imul(checksum ^ index, 0x01000193) >>> 0;
    }
  }
  return {
    events: index,
    decideMs: Number(decideNs) / 1e6,
    decideCpuMs: decideCpuUs / 1000,
    phases: phases.map((phase, i) => {
      const tally = tallies[i] as Tally;
      return {
        name: phase.name,
        trafficPerHour: phase.perHour,
        settledHours: (phase.endMs - phase.startMs - adaptationWindowMs) / hourMs,
        settledReviews: tally.settled,
        transientReviews: tally.transient,
        thresholdAtEnd: tally.threshold,
      };
    }),
    reviewsPerSimulatedHour: hourly,
    mapComparisonShare: source.contenders / index,
    checksum,
  };
}
