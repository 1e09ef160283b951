import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ThreadCalls } from '@gradcam/thread-calls';
import { decodeImage } from './decode-image.ts';
import { createOverlayRenderer, type RenderReply, type RenderRequest } from './overlay-renderer.ts';
import { renderOverlay } from './render-overlay.ts';
import { readFixture } from './testing/test-images.ts';

const spec = { width: 224, height: 224, fit: 'cover' } as const;

/** A 7×7 map with a different hot cell per index, so each overlay differs. */
function mapWithHotCell(index: number): Float32Array {
  const map = new Float32Array(49).fill(0.1);
  map[index % 49] = 1;
  return map;
}

test('overlays rendered on worker threads are byte-identical to inline ones, and several run at once', async () => {
  const images = await Promise.all(['house-cat-locomotion.jpg', 'cartoon-open-peeps.jpg', 'sheep-pastoral.jpg'].map(async (f) => decodeImage(await readFixture(f))));
  const renderer = createOverlayRenderer(2);
  try {
    const jobs = Array.from({ length: 12 }, (_, i) => ({ image: images[i % 3]!, map: mapWithHotCell(i * 5), options: { alpha: 0.3 + (i % 4) * 0.1 } }));
    const threaded = await Promise.all(jobs.map((j) => renderer.render(j.image, j.map, 7, 7, spec, j.options)));
    const inline = await Promise.all(jobs.map((j) => renderOverlay(j.image, j.map, 7, 7, spec, j.options)));
    threaded.forEach((jpeg, i) => assert.ok(jpeg.equals(inline[i]!), `overlay ${i} differs`));
    // The image stays usable on the calling thread (it is copied, not moved, to the thread).
    assert.equal(images[0]!.data.length, images[0]!.width * images[0]!.height * 3);
  } finally {
    await renderer.close();
  }
});

test('a render thread passes errors back with their type and message; the pool keeps working', async () => {
  const image = await decodeImage(await readFixture('sheep-pastoral.jpg'));
  const renderer = createOverlayRenderer(1);
  try {
    await assert.rejects(renderer.render(image, mapWithHotCell(0), 7, 7, spec, { alpha: 2 }), (e: unknown) => e instanceof RangeError && /alpha must be within 0…1, got 2/.test(e.message));
    const broken = { ...image, width: image.width + 1 };
    await assert.rejects(renderer.render(broken, mapWithHotCell(0), 7, 7, spec), (e: unknown) => e instanceof RangeError && /DecodedImage is inconsistent/.test(e.message));
    const jpeg = await renderer.render(image, mapWithHotCell(3), 7, 7, spec);
    assert.ok(jpeg.equals(await renderOverlay(image, mapWithHotCell(3), 7, 7, spec)));
  } finally {
    await renderer.close();
  }
});

test('a malformed image is refused before it reaches a thread; a render in flight on the same thread is unharmed', async () => {
  const image = await decodeImage(await readFixture('sheep-pastoral.jpg'));
  const renderer = createOverlayRenderer(1);
  try {
    const valid = renderer.render(image, mapWithHotCell(4), 7, 7, spec);
    const malformed = [
      // eslint-disable-next-line @typescript-eslint/no-explicit-any -- what an untyped caller can pass
      renderer.render({ ...image, data: undefined as any }, mapWithHotCell(4), 7, 7, spec),
      // eslint-disable-next-line @typescript-eslint/no-explicit-any -- as above
      renderer.render(image, undefined as any, 7, 7, spec),
      renderer.render(image, new Float32Array(48), 7, 7, spec),
    ];
    for (const [i, call] of malformed.entries()) await assert.rejects(call, RangeError, `malformed call ${i}`);
    const jpeg = await valid;
    assert.ok(jpeg.equals(await renderOverlay(image, mapWithHotCell(4), 7, 7, spec)));
  } finally {
    await renderer.close();
  }
});

test('a render thread answers a request it cannot even read with an error, and stays up for the next', async () => {
  // Straight to the thread, past the renderer's checks: the thread must not die of it.
  const image = await decodeImage(await readFixture('house-cat-locomotion.jpg'));
  let exits = 0;
  const thread = new ThreadCalls<RenderRequest, RenderReply>({
    url: new URL('./overlay-thread-boot.mjs', import.meta.url),
    failure: (cause, code) => {
      exits++;
      return new Error(`thread died (${cause}, code ${code})`);
    },
  });
  try {
    const request = { width: image.width, height: image.height, format: image.format, data: image.data, map: mapWithHotCell(5), mapWidth: 7, mapHeight: 7, spec, options: undefined };
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- a request no typed caller could make
    const reply = await thread.call({ ...request, data: undefined as any });
    assert.ok('error' in reply, 'answered with an error');
    assert.match(reply.error.message, /undefined/);
    const good = await thread.call(request);
    assert.ok('jpeg' in good && Buffer.from(good.jpeg).equals(await renderOverlay(image, mapWithHotCell(5), 7, 7, spec)));
    assert.equal(exits, 0);
  } finally {
    await thread.close();
  }
});

test('close waits for the overlays in flight; no threads means rendering inline', async () => {
  const image = await decodeImage(await readFixture('house-cat-locomotion.jpg'));
  const renderer = createOverlayRenderer(1);
  const inFlight = [renderer.render(image, mapWithHotCell(1), 7, 7, spec), renderer.render(image, mapWithHotCell(2), 7, 7, spec)];
  await renderer.close();
  const settled = await Promise.allSettled(inFlight);
  assert.deepEqual(settled.map((s) => s.status), ['fulfilled', 'fulfilled']);
  await assert.rejects(renderer.render(image, mapWithHotCell(3), 7, 7, spec), /the overlay renderer is closed/);

  const inline = createOverlayRenderer(0);
  assert.equal(inline.render, renderOverlay);
  assert.throws(() => createOverlayRenderer(-1), RangeError);
  assert.throws(() => createOverlayRenderer(1.5), RangeError);
});
