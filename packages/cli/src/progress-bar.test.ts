import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { ProgressBar } from './progress-bar.ts';

test('img/s counts explained images only; failed ones are counted apart', async () => {
  // A terminal as far as the bar can tell: a stream that says it is a TTY.
  const stream = Object.assign(new PassThrough(), { isTTY: true }) as unknown as NodeJS.WriteStream;
  let written = '';
  (stream as unknown as PassThrough).on('data', (chunk: Buffer) => (written = chunk.toString()));
  const bar = new ProgressBar(10, stream);
  await new Promise((resolve) => setTimeout(resolve, 1000));
  bar.tick(0, 5);
  await new Promise((resolve) => setImmediate(resolve));
  assert.match(written, / 5\/10 +0\.0 img\/s .* 5 failed/, JSON.stringify(written));
  bar.tick(2, 0);
  await new Promise((resolve) => setImmediate(resolve));
  const rate = Number(/([\d.]+) img\/s/.exec(written)?.[1]);
  assert.ok(rate > 0 && rate <= 2, `${rate} img/s for 2 explained images in over a second`);
});

test('the bar drawn before anything finished says no ETA yet, not "eta 0s"', async () => {
  const stream = Object.assign(new PassThrough(), { isTTY: true }) as unknown as NodeJS.WriteStream;
  let written = '';
  (stream as unknown as PassThrough).on('data', (chunk: Buffer) => (written = chunk.toString()));
  new ProgressBar(9, stream).tick(0, 0);
  await new Promise((resolve) => setImmediate(resolve));
  assert.match(written, / 0\/9 +0\.0 img\/s +eta …/, JSON.stringify(written));
});
