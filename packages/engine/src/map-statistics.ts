export interface MapStatistics {
  readonly min: number;
  readonly max: number;
  readonly mean: number;
  /** Share of the map's mass in the outer ring of cells: high values flag "looking at the border". */
  readonly borderMass: number;
  /** Normalised entropy of the map as a distribution, 0 (one peak) … 1 (flat). */
  readonly entropy: number;
}

export function mapStatistics(map: Float32Array, width: number, height: number): MapStatistics {
  let min = Infinity;
  let max = -Infinity;
  let sum = 0;
  for (const v of map) {
    if (v < min) min = v;
    if (v > max) max = v;
    sum += v;
  }
  // Mass and entropy are taken over the map shifted to be non-negative (EigenCAM can go below 0).
  const shift = Math.min(min, 0);
  const mass = sum - shift * map.length;
  let border = 0;
  let entropy = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const v = (map[y * width + x] as number) - shift;
      if (y === 0 || x === 0 || y === height - 1 || x === width - 1) border += v;
      if (mass > 0 && v > 0) entropy -= (v / mass) * Math.log(v / mass);
    }
  }
  // Both are shares of 1 by definition, but rounding takes a flat map's entropy to 1 + 1e-15 (and
  // the manifest schema, rightly, refuses anything above 1): clamp to the range they live in.
  return {
    min,
    max,
    mean: sum / map.length,
    borderMass: mass > 0 ? unitInterval(border / mass) : 0,
    entropy: map.length > 1 && mass > 0 ? unitInterval(entropy / Math.log(map.length)) : 0,
  };
}

const unitInterval = (x: number): number => Math.min(1, Math.max(0, x));

/** Min-max scaling to 0…1 (a constant map becomes all zeros). */
export function normaliseMap(map: Float32Array, stats: Pick<MapStatistics, 'min' | 'max'>): Float32Array {
  const range = stats.max - stats.min;
  const out = new Float32Array(map.length);
  if (range <= 0) return out;
  for (let i = 0; i < map.length; i++) out[i] = ((map[i] as number) - stats.min) / range;
  return out;
}
