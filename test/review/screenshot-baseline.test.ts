import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import sharp from 'sharp';
import { compareToBaseline } from './screenshot-baseline.ts';

// A checkout without the baseline PNG must fail the screenshot test, not pass it by writing one.

let dir: string;
const png = (r: number) => sharp({ create: { width: 8, height: 8, channels: 3, background: { r, g: 0, b: 0 } } }).png().toBuffer();

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'screenshot-baseline-test-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('a missing baseline is a failure that says how to write it, and nothing is written', async () => {
  const baseline = join(dir, 'missing.png');
  const result = await compareToBaseline(await png(0), baseline);
  assert.equal(result.outcome, 'missing');
  assert.match(result.message, /UPDATE_SCREENSHOTS=1 node scripts\/test\.mjs test\/review\/review-page\.test\.ts/);
  assert.equal(existsSync(baseline), false);
});

test('with update the baseline is written; then the same image matches and another differs', async () => {
  const baseline = join(dir, 'written.png');
  assert.equal((await compareToBaseline(await png(0), baseline, { update: true })).outcome, 'created');
  assert.equal((await compareToBaseline(await png(0), baseline)).outcome, 'matched');
  assert.equal((await compareToBaseline(await png(255), baseline)).outcome, 'differs');
});
