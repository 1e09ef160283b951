import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { after, before, test } from 'node:test';
import type { LocalStack } from '@gradcam/cli/local-stack';
import type { Browser, Page } from 'playwright-core';
import sharp from 'sharp';
import { inlineRecord, samplePhotos } from '../support/sample-records.ts';
import { waitFor } from '../support/wait-for.ts';
import { launchChromium } from './chromium.ts';
import { type ReviewLocalStack, startReviewLocalStack } from './review-local-stack.ts';

// Inputs a browser shows otherwise than the model saw them, through the real stack (ingest, worker
// with the real model, review) into a real Chromium: a TIFF, which Chromium cannot show at all, an
// animated GIF and a translucent PNG. The worker stores a JPEG preview of each beside its overlays,
// and the review page shows it in place of the stored file, which it links to.
const reviewToken = 'review-preview-token-0123456789';
const sheep = samplePhotos.find((p) => p.name === 'sheep-pastoral.jpg');
assert.ok(sheep, 'test/fixtures/images/sheep-pastoral.jpg');

let local: ReviewLocalStack;
let stack: LocalStack;
let browser: Browser;
let page: Page;
const pageErrors: string[] = [];

interface Packet {
  item: { inferenceId: string };
  manifest: { input: { format: string; preview?: { path: string; width: number; height: number; reason: string } }; explanations: { overlay: { path: string; width?: number; height?: number } }[] };
  urls: Record<string, string>;
}

const read = <T>(expression: string) => page.evaluate<T>(expression);
const axeSource = await readFile(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/** axe's serious and critical WCAG 2.1 A/AA violations on the page as it is (review-page-a11y.test.ts audits every other state). */
async function seriousViolations(): Promise<string[]> {
  if (!(await read<boolean>(`typeof window.axe === 'object'`))) await page.evaluate(axeSource);
  const tags = JSON.stringify(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']);
  const violations = await read<{ id: string; impact?: string; nodes: { target: string[] }[] }[]>(`axe.run(document, { runOnly: { type: 'tag', values: ${tags} }, resultTypes: ['violations'] }).then((r) => r.violations)`);
  return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.impact} ${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
}

/** The item shown once its input and overlay have loaded, or undefined while they have not. */
async function shownLoaded(): Promise<boolean> {
  return read<boolean>(`['input-image', 'overlay-base', 'overlay-image'].map((id) => document.getElementById(id)).every((img) => img.complete && img.naturalWidth > 0)`);
}

before(async () => {
  assert.ok(sheep);
  const photo = await sharp(sheep.bytes).resize(320).toBuffer();
  const negative = await sharp(photo).negate().toBuffer();
  const records = [
    { ...inlineRecord('preview-tiff', { bytes: await sharp(photo).tiff().toBuffer() }) },
    { ...inlineRecord('preview-gif', { bytes: await sharp([photo, negative], { join: { animated: true } }).gif().toBuffer() }) },
    { ...inlineRecord('preview-png', { bytes: await sharp(photo).ensureAlpha(0.6).png().toBuffer() }) },
    { ...inlineRecord('preview-jpeg', { bytes: photo }) },
  ];
  browser = await launchChromium();
  local = await startReviewLocalStack('review-preview', `pat:${reviewToken}`);
  stack = local.stack;
  const { client } = local;
  const posted = await client.postBatch(records);
  assert.equal(posted.accepted, records.length, JSON.stringify(posted.results));
  const statuses = await client.waitForAll(records.map((r) => r.id), 180_000);
  for (const [id, status] of statuses) assert.equal(status.status, 'done', `${id}: ${JSON.stringify(status.failure)}`);
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, deviceScaleFactor: 1, locale: 'en-US', timezoneId: 'UTC', reducedMotion: 'reduce' });
  page = await context.newPage();
  page.setDefaultTimeout(15_000);
  page.on('pageerror', (error) => pageErrors.push(error.message));
});

after(async () => {
  await browser?.close();
  await local?.close();
});

test('the status API links each input preview the worker stored; a JPEG input has none', async () => {
  const status = async (id: string) => {
    const response = await fetch(`${stack.ingestUrl}/v1/inferences/${id}`, { headers: { authorization: `Bearer ${stack.token}` } });
    assert.equal(response.status, 200);
    return (await response.json()) as { manifest: Packet['manifest']; urls: Record<string, string> };
  };
  for (const [id, reason] of [['preview-tiff', 'format'], ['preview-gif', 'animation'], ['preview-png', 'transparency']] as const) {
    const { manifest, urls } = await status(id);
    const preview = manifest.input.preview;
    assert.equal(preview?.reason, reason, id);
    const link = urls[preview.path];
    assert.ok(link, `${id}: a link to ${preview.path}`);
    const served = await fetch(link);
    assert.equal(served.status, 200);
    assert.equal(served.headers.get('content-type'), 'image/jpeg');
    const shown = await sharp(Buffer.from(await served.arrayBuffer())).metadata();
    assert.deepEqual([shown.format, shown.width, shown.height], ['jpeg', preview.width, preview.height]);
  }
  assert.equal((await status('preview-jpeg')).manifest.input.preview, undefined);
});

test('the review page shows each input through its preview, says why, and links the file as stored', async () => {
  await page.goto(stack.reviewUrl);
  await page.getByLabel('Reviewer token').fill(reviewToken);
  const seen = new Map<string, string>();
  for (let shown = 0; shown < 4; shown++) {
    const [response] = await Promise.all([
      page.waitForResponse((r) => new URL(r.url()).pathname === '/v1/reviews/next'),
      shown === 0 ? page.getByRole('button', { name: 'Start reviewing' }).click() : page.keyboard.press('s'),
    ]);
    assert.equal(response.status(), 200);
    const { item, manifest, urls } = (await response.json()) as Packet;
    await page.locator('#details code', { hasText: item.inferenceId }).waitFor();
    // A TIFF shown as stored never loads in Chromium: this waits in vain without the preview.
    await waitFor(`the images of ${item.inferenceId} loaded`, async () => ((await shownLoaded()) ? true : undefined), 15_000, 50);
    const src = await read<string>(`document.getElementById('input-image').src`);
    const meta = ((await page.locator('#input-meta').textContent()) ?? '').trim();
    const { preview } = manifest.input;
    if (preview) {
      assert.equal(src, urls[preview.path], `${item.inferenceId} shows its preview`);
      assert.equal(await read<string>(`document.getElementById('overlay-base').src`), src, 'and under the overlay');
      const original = page.locator('#input-meta a');
      assert.equal(await original.getAttribute('href'), urls.image, 'the file as stored is linked');
      assert.equal(await original.getAttribute('target'), '_blank', 'in another tab: leaving the page would give the item back');
      assert.match(meta, new RegExp(`shown as a JPEG preview .*the ${manifest.input.format.toUpperCase()} as stored \\(opens in a new tab\\)$`));
      const sizes = await read<number[]>(`[document.getElementById('input-image').naturalWidth, document.getElementById('overlay-image').naturalWidth]`);
      assert.equal(sizes[0], sizes[1], 'the preview and the overlay line up');
      assert.deepEqual(await seriousViolations(), [], `${item.inferenceId}: the preview's note and link`);
    } else {
      assert.equal(src, urls.image, `${item.inferenceId} shows the stored file`);
      assert.equal(await page.locator('#input-meta a').count(), 0);
    }
    seen.set(item.inferenceId, meta);
    await page.waitForTimeout(450);
  }
  assert.deepEqual([...seen.keys()].sort(), ['preview-gif', 'preview-jpeg', 'preview-png', 'preview-tiff']);
  assert.match(seen.get('preview-tiff') ?? '', /browsers do not show TIFF/);
  assert.match(seen.get('preview-gif') ?? '', /first frame/);
  assert.match(seen.get('preview-png') ?? '', /transparency on white/);
  assert.deepEqual(pageErrors, []);
});
