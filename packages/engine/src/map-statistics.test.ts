import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mapStatisticsSchema } from '@gradcam/contracts';
import { mapStatistics } from './map-statistics.ts';

test('a flat map has entropy exactly 1 and border mass within 0…1, as the manifest schema requires', () => {
  // Rounding took the entropy of these sizes to 1.000000000000001…1.0000000000000124.
  for (const side of [7, 8, 14, 28]) {
    const stats = mapStatistics(new Float32Array(side * side).fill(0.37), side, side);
    assert.equal(stats.entropy, 1, `${side}×${side}`);
    assert.ok(stats.borderMass >= 0 && stats.borderMass <= 1, `${side}×${side} border mass ${stats.borderMass}`);
  }
  assert.doesNotThrow(() => mapStatisticsSchema.parse({ width: 7, height: 7, ...mapStatistics(new Float32Array(49).fill(2), 7, 7) }));
});

test('one peak has entropy 0; a map all in the outer ring has border mass 1', () => {
  const peak = new Float32Array(49);
  peak[24] = 5;
  assert.deepEqual(mapStatistics(peak, 7, 7), { min: 0, max: 5, mean: 5 / 49, borderMass: 0, entropy: 0 });
  const ring = new Float32Array(9).fill(1);
  ring[4] = 0;
  assert.equal(mapStatistics(ring, 3, 3).borderMass, 1);
});
