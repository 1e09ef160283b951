import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../backends/select-backend.ts';
import { scoreCamMasks } from './score-cam.ts';

/** Mass-weighted centre (x, y) of a row-major width × height map. */
function centroid(map: ArrayLike<number>, width: number, height: number): [number, number] {
  let sx = 0;
  let sy = 0;
  let sum = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const v = map[y * width + x] as number;
      sx += v * x;
      sy += v * y;
      sum += v;
    }
  }
  return [sx / sum, sy / sum];
}

describe('Score-CAM masks', () => {
  before(() => selectBackend('wasm'));

  test('the mask of one activation cell is centred on the input pixels that cell covers, as overlays place it', async () => {
    // 7×7 activations of a 224×224 input: cell (column 3, row 3) covers pixels [96, 128) on both
    // axes, centre 111.5; cell (1, 5) covers x [32, 64) and y [160, 192), centre (47.5, 175.5).
    const before = tf.memory().numTensors;
    const cells = new Float32Array(7 * 7 * 2);
    cells[(3 * 7 + 3) * 2] = 1; // channel 0: one-hot at (3, 3)
    cells[(5 * 7 + 1) * 2 + 1] = 1; // channel 1: one-hot at column 1, row 5
    const selected = tf.tensor3d(cells, [7, 7, 2]);
    const masks = scoreCamMasks(selected, 224, 224);
    const data = await masks.data();
    tf.dispose([selected, masks]);
    assert.equal(tf.memory().numTensors, before);
    const [centre, corner] = [data.subarray(0, 224 * 224), data.subarray(224 * 224)];
    const expect = (got: [number, number], want: [number, number], what: string) =>
      assert.ok(Math.hypot(got[0] - want[0], got[1] - want[1]) < 0.01, `${what}: centroid (${got.join(', ')}), expected (${want.join(', ')})`);
    expect(centroid(centre, 224, 224), [111.5, 111.5], 'cell (3, 3)');
    expect(centroid(corner, 224, 224), [47.5, 175.5], 'cell (1, 5)');
    // The centre cell of an odd grid: its mask is the same mirrored (x → 223 − x, y → 223 − y),
    // with the four middle pixels at (1 − 1/64)², half a pixel from the cell centre on each axis
    // (the placement imaging's upsampleBilinear gives the overlays).
    for (let y = 0; y < 224; y++) {
      for (let x = 0; x < 224; x++) {
        const [v, mirrored] = [centre[y * 224 + x] as number, centre[(223 - y) * 224 + (223 - x)] as number];
        assert.ok(Math.abs(v - mirrored) < 1e-6, `mask at (${x}, ${y}) is ${v}, mirrored ${mirrored}`);
      }
    }
    for (const [x, y] of [[111, 111], [112, 111], [111, 112], [112, 112]] as const) {
      assert.ok(Math.abs((centre[y * 224 + x] as number) - (63 / 64) ** 2) < 1e-5, `mask at (${x}, ${y}) is ${centre[y * 224 + x]}`);
    }
  });
});
