import { type ReviewInput, type ReviewMap, suspicionScales } from '@gradcam/sampling';
import { seededRandom, syntheticPrediction, type Random } from '@gradcam/sampling/testing';
import { mapSize, type SyntheticMap, syntheticMapPool, type SyntheticMapPair } from './sampling-maps.ts';

const hourMs = 3_600_000;

/** Base traffic for 3 h, ×10 for 2 h, then back for 3 h. */
export const stepScenario: readonly { readonly name: string; readonly hours: number; readonly relativeRate: number }[] = [
  { name: 'before', hours: 3, relativeRate: 1 },
  { name: 'step ×10', hours: 2, relativeRate: 10 },
  { name: 'after', hours: 3, relativeRate: 1 },
];

export interface ScheduledPhase {
  readonly name: string;
  readonly startMs: number;
  readonly endMs: number;
  readonly events: number;
  readonly perHour: number;
}

/** Splits exactly `events` over the scenario's phases in proportion to rate × duration. */
export function schedulePhases(events: number, start: number): ScheduledPhase[] {
  const units = stepScenario.reduce((sum, p) => sum + p.hours * p.relativeRate, 0);
  let at = start;
  let assigned = 0;
  return stepScenario.map((p, i) => {
    const count = i === stepScenario.length - 1 ? events - assigned : Math.round((events * p.hours * p.relativeRate) / units);
    assigned += count;
    const phase = { name: p.name, startMs: at, endMs: at + p.hours * hourMs, events: count, perHour: count / p.hours };
    at = phase.endMs;
    return phase;
  });
}

/**
 * Timestamps of a Poisson process holding exactly each phase's count: n sorted uniforms per phase,
 * drawn as normalised cumulative exponential spacings (the same law as Poisson arrivals given n).
 */
export function arrivalTimes(phases: readonly ScheduledPhase[], random: Random): Float64Array {
  const out = new Float64Array(phases.reduce((sum, p) => sum + p.events, 0));
  let offset = 0;
  for (const phase of phases) {
    let sum = 0;
    for (let i = 0; i < phase.events; i++) {
      sum += -Math.log(1 - random());
      out[offset + i] = sum;
    }
    sum += -Math.log(1 - random());
    const span = phase.endMs - phase.startMs;
    for (let i = 0; i < phase.events; i++) out[offset + i] = phase.startMs + ((out[offset + i] as number) / sum) * span;
    offset += phase.events;
  }
  return out;
}

export const benchModel = 'nsfw-mobilenet-v2';

/**
 * The map as the worker has it, just computed: written into a buffer of this chunk slot (not the
 * pool's own array, which would make the bench a test of cache misses on maps no worker would be
 * looking at, nor a new allocation per event, whose garbage would be collected inside the timed
 * decisions).
 */
function syntheticReviewMap(classIndex: number, map: SyntheticMap, buffer: Float32Array): ReviewMap {
  buffer.set(map.normalized);
  return { method: 'gradcam', classIndex, width: mapSize, height: mapSize, normalized: buffer, borderMass: map.borderMass, entropy: map.entropy };
}

/**
 * Synthetic stored explanations, made in chunks so a million of them never sit in memory at once
 * (and so making them stays outside the timed decisions). Each has the probabilities of a
 * content-moderation model and two Grad-CAM maps: the predicted class's and the runner-up's.
 */
export class SyntheticEventSource {
  private readonly random: Random;
  private readonly times: Float64Array;
  private readonly pool: readonly SyntheticMapPair[];
  /** Two map buffers per chunk slot, reused chunk after chunk: a chunk is decided before the next is made. */
  private readonly buffers: Float32Array[] = [];
  private next = 0;
  /** Events whose runner-up is a contender, for which the priority compares the two maps. */
  contenders = 0;

  constructor(phases: readonly ScheduledPhase[], seed: number) {
    this.random = seededRandom(seed);
    this.times = arrivalTimes(phases, this.random);
    this.pool = syntheticMapPool(this.random, 4096);
  }

  get remaining(): number {
    return this.times.length - this.next;
  }

  /** The next `size` events; their maps' buffers are overwritten by the next call. */
  chunk(size: number): ReviewInput[] {
    const count = Math.min(size, this.remaining);
    const out = new Array<ReviewInput>(count);
    for (let j = 0; j < count; j++, this.next++) {
      const { predictedClass, probabilities } = syntheticPrediction(this.random);
      let runnerUp = predictedClass === 0 ? 1 : 0;
      for (let c = 0; c < probabilities.length; c++) if (c !== predictedClass && (probabilities[c] as number) > (probabilities[runnerUp] as number)) runnerUp = c;
      if ((probabilities[runnerUp] as number) > suspicionScales.contenderFrom * (probabilities[predictedClass] as number)) this.contenders++;
      const pair = this.pool[Math.floor(this.random() * this.pool.length)] as SyntheticMapPair;
      while (this.buffers.length < 2 * (j + 1)) this.buffers.push(new Float32Array(mapSize * mapSize));
      out[j] = {
        id: `evt-${this.next.toString(36)}`,
        model: benchModel,
        predictedClass,
        probabilities,
        maps: [
          syntheticReviewMap(predictedClass, pair.predicted, this.buffers[2 * j] as Float32Array),
          syntheticReviewMap(runnerUp, pair.runnerUp, this.buffers[2 * j + 1] as Float32Array),
        ],
        now: this.times[this.next] as number,
      };
    }
    return out;
  }
}
