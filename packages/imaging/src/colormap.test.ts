import { test } from 'node:test';
import assert from 'node:assert/strict';
import { colormapLut, colormapNames } from './colormap.ts';
import type { ColormapName } from './colormap.ts';

function entry(lut: Uint8Array, i: number): number[] {
  return [lut[i * 3]!, lut[i * 3 + 1]!, lut[i * 3 + 2]!];
}

function assertNear(actual: number[], expected: number[], tolerance: number, what: string): void {
  const off = actual.some((v, c) => Math.abs(v - expected[c]!) > tolerance);
  assert.ok(!off, `${what}: got [${actual.join(', ')}], expected ≈[${expected.join(', ')}]`);
}

test('every colormap is 256 RGB entries', () => {
  for (const name of colormapNames) assert.equal(colormapLut(name).length, 768, name);
});

test('jet runs dark blue → cyan/green/yellow → dark red', () => {
  const lut = colormapLut('jet');
  assert.deepEqual(entry(lut, 0), [0, 0, 128]);
  assertNear(entry(lut, 128), [128, 255, 127], 2, 'jet middle');
  assert.deepEqual(entry(lut, 255), [128, 0, 0]);
});

test('turbo matches Google’s published Turbo table', () => {
  // Entries of the published 256-entry table, ×255 and rounded; 100 falls between two stops.
  const lut = colormapLut('turbo');
  assert.deepEqual(entry(lut, 0), [48, 18, 59]);
  assertNear(entry(lut, 100), [63, 246, 138], 2, 'turbo 100');
  assert.deepEqual(entry(lut, 128), [164, 252, 60]);
  assert.deepEqual(entry(lut, 255), [122, 4, 3]);
});

test('viridis matches matplotlib within a few levels', () => {
  const lut = colormapLut('viridis');
  assertNear(entry(lut, 0), [68, 1, 84], 5, 'viridis 0');
  assertNear(entry(lut, 128), [33, 145, 140], 5, 'viridis 0.5');
  assertNear(entry(lut, 255), [253, 231, 37], 5, 'viridis 1');
});

test('returns a copy: changing it does not change later lookups', () => {
  const first = colormapLut('turbo');
  first.fill(0);
  assert.notDeepEqual(entry(colormapLut('turbo'), 255), [0, 0, 0]);
});

test('rejects an unknown name', () => {
  assert.throws(() => colormapLut('rainbow' as ColormapName), RangeError);
});
