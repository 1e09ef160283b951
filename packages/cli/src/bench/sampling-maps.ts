import { mapStatistics, normaliseMap } from '@gradcam/engine';
import { blobMap } from '@gradcam/sampling/testing';
import type { Random } from '@gradcam/sampling/testing';

/** A 7×7 map (MobileNetV2's target layer) with the engine's own statistics. */
export interface SyntheticMap {
  readonly normalized: Float32Array;
  readonly borderMass: number;
  readonly entropy: number;
}

/** The predicted class's map and the runner-up's, by the same method. */
export interface SyntheticMapPair {
  readonly predicted: SyntheticMap;
  readonly runnerUp: SyntheticMap;
}

const size = 7;

function withStatistics(raw: Float32Array): SyntheticMap {
  const stats = mapStatistics(raw, size, size);
  return { normalized: normaliseMap(raw, stats), borderMass: stats.borderMass, entropy: stats.entropy };
}

function noisy(map: Float32Array, random: Random, amount: number): Float32Array {
  return map.map((v) => v + amount * random());
}

/**
 * Map shapes in the proportions a production model might show: mostly one object-sized blob
 * inside the frame; a few looking at the border, diffuse or on one cell. Runner-up maps look at
 * the same place 60% of the time, elsewhere otherwise.
 */
function predictedMap(random: Random): Float32Array {
  const r = random();
  if (r < 0.88) return noisy(blobMap(size, size, 1.5 + 3 * random(), 1.5 + 3 * random(), 0.8 + random()), random, 0.05);
  if (r < 0.92) {
    const edge = random() < 0.5 ? 0 : size - 1;
    return noisy(random() < 0.5 ? blobMap(size, size, edge, size * random(), 0.7 + 0.5 * random()) : blobMap(size, size, size * random(), edge, 0.7 + 0.5 * random()), random, 0.02);
  }
  if (r < 0.96) return noisy(new Float32Array(size * size).fill(0.6), random, 0.4);
  const peak = new Float32Array(size * size);
  peak[Math.floor(random() * peak.length)] = 1;
  return noisy(peak, random, 0.01);
}

export function syntheticMapPool(random: Random, count: number): SyntheticMapPair[] {
  return Array.from({ length: count }, () => {
    const predicted = predictedMap(random);
    const runnerUp =
      random() < 0.6 ? noisy(predicted, random, 0.2) : noisy(blobMap(size, size, size * random(), size * random(), 0.8 + random()), random, 0.05);
    return { predicted: withStatistics(predicted), runnerUp: withStatistics(runnerUp) };
  });
}

export const mapSize = size;
