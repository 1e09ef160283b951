import { histogramIntersection } from './map-overlap.ts';
import type { ReviewInput, ReviewMap } from './review-input.ts';
import { type TopTwo, topTwo } from './top-two.ts';

/**
 * Where each suspicion component starts and saturates. A ramp, not a cliff, so the priority
 * ranks "a bit odd" below "very odd". Chosen for 7×7…8×8 target layers: one hot cell has entropy
 * ≈ 0, a compact blob of ~8 cells ≈ 0.5, a flat map 1.
 */
export const suspicionScales = {
  /** Entropy above this starts to count as diffuse (saturates at 1). */
  diffuseFrom: 0.9,
  /** Entropy below this starts to count as peaked (saturates at 0). */
  peakedFrom: 0.2,
  /**
   * The runner-up counts as a contender from this share of the top class's probability (p2/p1),
   * fully at a tie. Below it the top-2 maps are not compared at all, which also spares most
   * confident predictions the map comparison (the costliest part of the priority).
   */
  contenderFrom: 0.1,
} as const;

/** Each component 0 (nothing odd) … 1 (as odd as it gets); `score` is their maximum. */
export interface MapSuspicion {
  /** Border mass beyond what a flat map would put on the ring, scaled to 0…1. */
  readonly border: number;
  readonly diffuse: number;
  readonly peaked: number;
  /** 1 − overlap of the top-2 classes' maps, weighted by how close the runner-up is (p2/p1 ramp). */
  readonly disagreement: number;
  readonly score: number;
}

const clamp01 = (x: number): number => (x > 0 ? (x < 1 ? x : 1) : 0);

/**
 * Share of the cells on the outer ring: what a flat map puts there (49% of a 7×7 map), so only
 * border mass beyond it is suspicious.
 */
export function ringShare(width: number, height: number): number {
  if (width < 3 || height < 3) return 1;
  return (2 * width + 2 * height - 4) / (width * height);
}

function borderComponent(map: ReviewMap): number {
  const ring = ringShare(map.width, map.height);
  return ring >= 1 ? 0 : clamp01((map.borderMass - ring) / (1 - ring));
}

/**
 * Whether the map holds any mass. The engine reports entropy 0 for a map with none (all zero: the
 * method found nothing for the class), the same as for one hot cell; the normalised map tells them
 * apart, since a peak leaves its cell at 1 while a constant map normalises to all zeros (and a
 * constant map with mass has entropy 1). `histogramIntersection` takes such a map as flat, so it
 * is never "peaked" either.
 */
export function hasMass(map: ReviewMap): boolean {
  if (map.entropy > 0) return true;
  for (const v of map.normalized) if (v > 0) return true;
  return false;
}

const diffuseComponent = (entropy: number): number => clamp01((entropy - suspicionScales.diffuseFrom) / (1 - suspicionScales.diffuseFrom));
const peakedComponent = (map: ReviewMap): number =>
  map.entropy < suspicionScales.peakedFrom && hasMass(map) ? clamp01((suspicionScales.peakedFrom - map.entropy) / suspicionScales.peakedFrom) : 0;

/** The map of `classIndex` by `method` (the first listed when repeated). */
export function findMap(maps: readonly ReviewMap[], method: string, classIndex: number): ReviewMap | undefined {
  for (const map of maps) if (map.method === method && map.classIndex === classIndex) return map;
  return undefined;
}

/**
 * Overlap of the top-2 classes' maps by the first method that has both (histogram intersection),
 * or undefined when no method has both.
 */
export function topTwoOverlap(input: ReviewInput, firstClass: number, secondClass: number): { method: string; overlap: number } | undefined {
  if (firstClass < 0 || secondClass < 0) return undefined;
  for (const map of input.maps) {
    if (map.classIndex !== firstClass) continue;
    const other = findMap(input.maps, map.method, secondClass);
    const overlap = other && histogramIntersection(map.normalized, other.normalized);
    if (overlap !== undefined) return { method: map.method, overlap };
  }
  return undefined;
}

/**
 * How much the top-2 classes' maps disagree, weighted by how much of a contender the runner-up is.
 * Two classes looking at different places only matters when the runner-up was a real contender:
 * p2/p1 is ≈ 0.001 for a confident prediction, 1 for a tie; below the floor the maps are not even
 * compared.
 */
function disagreementComponent(input: ReviewInput, top: TopTwo): number {
  const contender = top.first > 0 ? clamp01((top.second / top.first - suspicionScales.contenderFrom) / (1 - suspicionScales.contenderFrom)) : 0;
  if (contender === 0 || input.maps.length < 2) return 0;
  const found = topTwoOverlap(input, top.firstClass, top.secondClass);
  return found ? clamp01((1 - found.overlap) * contender) : 0;
}

/**
 * How odd the heatmaps of the predicted class look (the worst of its maps, any method), and how
 * much the top-2 classes' maps disagree. No maps: all zero. `top` saves recomputing topTwo.
 */
export function mapSuspicion(input: ReviewInput, top: TopTwo = topTwo(input.probabilities)): MapSuspicion {
  let border = 0;
  let diffuse = 0;
  let peaked = 0;
  for (const map of input.maps) {
    if (map.classIndex !== input.predictedClass) continue;
    border = Math.max(border, borderComponent(map));
    diffuse = Math.max(diffuse, diffuseComponent(map.entropy));
    peaked = Math.max(peaked, peakedComponent(map));
  }
  const disagreement = disagreementComponent(input, top);
  return { border, diffuse, peaked, disagreement, score: Math.max(border, diffuse, peaked, disagreement) };
}

/** `mapSuspicion(input, top).score` without building the components (it runs for every decision). */
export function suspicionScore(input: ReviewInput, top: TopTwo): number {
  let score = 0;
  for (const map of input.maps) {
    if (map.classIndex !== input.predictedClass) continue;
    score = Math.max(score, borderComponent(map), diffuseComponent(map.entropy), peakedComponent(map));
  }
  return score >= 1 ? 1 : Math.max(score, disagreementComponent(input, top));
}
