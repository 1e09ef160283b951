/**
 * Histogram intersection of two maps taken as distributions: Σ min(a/Σa, b/Σb), 1 when they put
 * their mass in the same cells in the same proportions, 0 when they share no cell. Chosen over
 * the IoU of the top-20% cells because it needs no sort (one pass, no allocation: this runs for
 * every decision), is continuous, and is not thrown by ties in flat maps. An all-zero map (a
 * constant map after min-max normalisation) counts as flat. Maps of different sizes: undefined.
 */
export function histogramIntersection(a: Float32Array, b: Float32Array): number | undefined {
  const n = a.length;
  if (n === 0 || b.length !== n) return undefined;
  let sumA = 0;
  let sumB = 0;
  for (let i = 0; i < n; i++) {
    sumA += a[i] as number;
    sumB += b[i] as number;
  }
  const flatA = !(sumA > 0);
  const flatB = !(sumB > 0);
  const scaleA = flatA ? 0 : 1 / sumA;
  const scaleB = flatB ? 0 : 1 / sumB;
  let shared = 0;
  for (let i = 0; i < n; i++) {
    const pa = flatA ? 1 / n : (a[i] as number) * scaleA;
    const pb = flatB ? 1 / n : (b[i] as number) * scaleB;
    shared += pa < pb ? pa : pb;
  }
  return shared > 1 ? 1 : shared;
}
