import assert from 'node:assert/strict';
import { test } from 'node:test';
import { alice, appTestKit, errorAnswer } from './app-test-kit.ts';
import { reviewItem as item } from './review-item-fixture.ts';

// The listing's from/to as a script or a browser sends them (found by an export probe), through
// app.inject() on a real Redis. A `+` typed into a URL is a space once decoded, so the README's own
// example `from=2026-01-02T00:00:00+02:00`, pasted into curl or a browser, was refused with
// "from: Invalid input", which said neither what was wrong nor what is taken.
const { setup } = await appTestKit('list-bounds');

test('a from/to that is not taken says which forms are, and that a "+" in a URL is a space', async () => {
  const { app } = setup();
  const plusAsSpace = await app.inject({ method: 'GET', url: '/v1/reviews?from=2026-01-02T00:00:00+02:00', headers: alice });
  assert.deepEqual(errorAnswer(plusAsSpace), [400, 'REQUEST_INVALID']);
  const message = (JSON.parse(plusAsSpace.body) as { error: { message: string } }).error.message;
  assert.match(message, /^from: /);
  assert.match(message, /^from: a "\+" in a URL reads as a space: send the offset as %2B/, message);
  assert.match(message, /epoch ms/, message);
  const noZone = await app.inject({ method: 'GET', url: '/v1/reviews?to=2026-01-02T00:00:00&format=csv', headers: alice });
  assert.deepEqual(errorAnswer(noZone), [400, 'REQUEST_INVALID']);
  const noZoneMessage = (JSON.parse(noZone.body) as { error: { message: string } }).error.message;
  assert.match(noZoneMessage, /^to: .*a date-time without a zone/, noZoneMessage);
  assert.doesNotMatch(noZoneMessage, /reads as a space/, 'the hint about "+" only where a space stands for it');
});

test('the offset sent as %2B is taken, and the bounds are inclusive to the millisecond', async () => {
  const { pool, app } = setup();
  const at = Date.parse('2026-01-01T22:00:00.000Z');
  for (const [id, sampledAt] of [['before', at - 1], ['at', at], ['after', at + 1]] as const) await pool.add(item(id, { sampledAt }));
  const listed = async (query: string) => (JSON.parse((await app.inject({ method: 'GET', url: `/v1/reviews?${query}`, headers: alice })).body) as { items: { inferenceId: string }[] }).items.map((i) => i.inferenceId);
  assert.deepEqual(await listed('from=2026-01-02T00:00:00%2B02:00&to=2026-01-02T00:00:00%2B02:00'), ['at']);
  assert.deepEqual(await listed(`from=${at}`), ['after', 'at']);
  assert.deepEqual(await listed('to=2026-01-01T21:59:59.999Z'), ['before']);
});
