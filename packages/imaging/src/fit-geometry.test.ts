import { test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { computeFitGeometry } from './fit-geometry.ts';
import type { FitGeometry } from './fit-geometry.ts';

test('fill maps the whole image onto the whole canvas', () => {
  assert.deepEqual(computeFitGeometry(640, 427, { width: 224, height: 224, fit: 'fill' }), {
    canvasWidth: 224, canvasHeight: 224, resizedWidth: 224, resizedHeight: 224, offsetX: 0, offsetY: 0,
  });
});

test('cover scales the short side to fit and crops the long side centrally', () => {
  assert.deepEqual(computeFitGeometry(640, 427, { width: 224, height: 224, fit: 'cover' }), {
    canvasWidth: 224, canvasHeight: 224, resizedWidth: 336, resizedHeight: 224, offsetX: -56, offsetY: 0,
  });
  assert.deepEqual(computeFitGeometry(427, 640, { width: 224, height: 224, fit: 'cover' }), {
    canvasWidth: 224, canvasHeight: 224, resizedWidth: 224, resizedHeight: 336, offsetX: 0, offsetY: -56,
  });
});

test('contain scales the long side to fit and centres the image on the letterbox', () => {
  assert.deepEqual(computeFitGeometry(640, 427, { width: 224, height: 224, fit: 'contain' }), {
    canvasWidth: 224, canvasHeight: 224, resizedWidth: 224, resizedHeight: 149, offsetX: 0, offsetY: 37,
  });
  // Extreme aspect ratios keep at least one pixel.
  assert.equal(computeFitGeometry(100_000, 1, { width: 224, height: 224, fit: 'contain' }).resizedHeight, 1);
});

/** A textured raw image: any 1-pixel misplacement changes many values. */
function texture(width: number, height: number): Buffer {
  const data = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) data.set([(x * 37 + y * 11) & 255, (x * 7) & 255, (y * 13) & 255], (y * width + x) * 3);
  }
  return data;
}

async function placeWith(source: Buffer, width: number, height: number, g: FitGeometry, shift: number): Promise<Buffer> {
  let pipeline = sharp(source, { raw: { width, height, channels: 3 } }).resize(g.resizedWidth, g.resizedHeight, { fit: 'fill', kernel: 'linear' });
  const ox = g.offsetX + (g.resizedWidth === g.canvasWidth ? 0 : shift);
  const oy = g.offsetY + (g.resizedHeight === g.canvasHeight ? 0 : shift);
  if (ox < 0 || oy < 0) pipeline = pipeline.extract({ left: -ox, top: -oy, width: g.canvasWidth, height: g.canvasHeight });
  else {
    pipeline = pipeline.extend({
      left: ox, top: oy, right: g.canvasWidth - g.resizedWidth - ox, bottom: g.canvasHeight - g.resizedHeight - oy, background: '#000',
    });
  }
  return pipeline.raw().toBuffer();
}

function meanAbsDiff(a: Buffer, b: Buffer): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs(a[i]! - b[i]!);
  return sum / a.length;
}

test('places the image where sharp’s own cover/contain would, to the pixel', async () => {
  // Odd leftovers included (300×101, 641×480): those decide the rounding direction.
  const sizes = [[301, 100], [300, 101], [640, 427], [427, 640], [641, 480], [333, 500]] as const;
  for (const fit of ['cover', 'contain'] as const) {
    for (const [width, height] of sizes) {
      const source = texture(width, height);
      const native = await sharp(source, { raw: { width, height, channels: 3 } })
        .resize(224, 224, { fit, kernel: 'linear', background: '#000' })
        .raw()
        .toBuffer();
      const g = computeFitGeometry(width, height, { width: 224, height: 224, fit });
      const [left, exact, right] = await Promise.all([-1, 0, 1].map(async (shift) => meanAbsDiff(native, await placeWith(source, width, height, g, shift))));
      assert.ok(exact! < 3, `${fit} ${width}×${height}: mean difference ${exact} from sharp's placement`);
      assert.ok(exact! < left! && exact! < right!, `${fit} ${width}×${height}: a 1-pixel shift matches sharp better (${left}, ${exact}, ${right})`);
    }
  }
});

test('rejects an empty source', () => {
  assert.throws(() => computeFitGeometry(0, 10, { width: 224, height: 224, fit: 'cover' }), RangeError);
});
