import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type EngineCall, createEngineCallDeadline, overdueEngineCallMessage } from './engine-call-deadline.ts';

// The deadline around the engine, with engine stand-ins: one that never settles (a hung GPU call),
// one that answers, one that throws. No Redis, storage or model: the unit is the timer alone.
const call: EngineCall = { images: 8, model: 'nsfw-mobilenet-v2@1.0.0', methods: ['gradcam', 'scorecam'] };

test('an engine call that never settles is reported overdue once, after the timeout, and is neither resolved nor rejected', async () => {
  const overdue: { call: EngineCall; at: number }[] = [];
  const started = Date.now();
  const deadline = createEngineCallDeadline(200, (c) => overdue.push({ call: c, at: Date.now() - started }));
  let settled = false;
  void deadline(call, () => new Promise<never>(() => {})).finally(() => (settled = true));
  await new Promise((r) => setTimeout(r, 600));
  assert.equal(overdue.length, 1, 'reported once');
  assert.deepEqual(overdue[0]?.call, call, 'with what the call was given');
  assert.ok((overdue[0]?.at ?? 0) >= 190, `not before the timeout: ${overdue[0]?.at} ms`);
  // Its jobs must not complete or fail in this process: the input may be innocent.
  assert.equal(settled, false);
});

test('an engine call that settles in time passes its result or its error through, and is never reported', async () => {
  const overdue: EngineCall[] = [];
  const deadline = createEngineCallDeadline(150, (c) => overdue.push(c));
  assert.equal(await deadline(call, async () => 'maps'), 'maps');
  await assert.rejects(deadline(call, () => Promise.reject(new Error('unsupported op'))), /unsupported op/);
  assert.equal(await deadline(call, () => new Promise((r) => setTimeout(() => r('slow maps'), 50))), 'slow maps');
  await new Promise((r) => setTimeout(r, 300));
  assert.deepEqual(overdue, [], 'each deadline was cleared when its call settled');
});

test('the fatal line names the batch size, the model and the methods, and says the jobs are not failed', () => {
  const message = overdueEngineCallMessage(call, 600_000);
  assert.match(message, /a batch of 8 images of nsfw-mobilenet-v2@1\.0\.0, methods gradcam, scorecam, unsettled after 600 s/);
  assert.match(message, /without completing or failing its jobs/);
  assert.match(overdueEngineCallMessage({ ...call, images: 1 }, 1_000), /a batch of 1 image of /);
});
