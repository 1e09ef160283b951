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

// `from=20260101`, a date as a user types it, was read as epoch ms (1970-01-01T05:37:40.101Z):
// a 200 with the wrong window, and nothing said. So was `from=1767225600` (epoch seconds).
test('a compact date YYYYMMDD is that UTC day, as 2026-01-02 is; a bare number is epoch ms only with 13 digits, and any other is refused saying why', async () => {
  const { pool, app } = setup();
  for (const [id, iso] of [['before', '2026-01-01T23:59:59.999Z'], ['start', '2026-01-02T00:00:00.000Z'], ['end', '2026-01-02T23:59:59.999Z'], ['after', '2026-01-03T00:00:00.000Z']] as const) {
    await pool.add(item(id, { sampledAt: Date.parse(iso) }));
  }
  const call = (query: string) => app.inject({ method: 'GET', url: `/v1/reviews?${query}`, headers: alice });
  const listed = async (query: string) => {
    const response = await call(query);
    assert.equal(response.statusCode, 200, `${query}: ${response.body}`);
    return (JSON.parse(response.body) as { items: { inferenceId: string }[] }).items.map((i) => i.inferenceId);
  };
  assert.deepEqual(await listed('from=20260102&to=20260102'), ['end', 'start'], 'the whole UTC day, both ends inclusive');
  assert.deepEqual(await listed('from=20260102&to=20260102'), await listed('from=2026-01-02&to=2026-01-02'));
  assert.deepEqual(await listed('from=20260103'), ['after']);
  assert.deepEqual(await listed(`to=${Date.parse('2026-01-01T23:59:59.999Z')}`), ['before'], '13 digits are epoch ms, as before');
  const refused: [string, RegExp][] = [
    ['from=1767312000', /^from: 1767312000 looks like epoch seconds .*send 1767312000000/],
    ['to=20261301', /^to: 20261301 is not a date/],
    ['from=20260230', /^from: 20260230 is not a date/],
    ['from=1000001', /^from: .*epoch ms has 13 digits/],
    ['to=-1', /^to: .*epoch ms has 13 digits/],
    ['from=176731200000', /^from: .*epoch ms has 13 digits/],
    ['from=01767312000000', /^from: .*epoch ms has 13 digits/],
  ];
  for (const [query, message] of refused) {
    const response = await call(`${query}&format=csv`);
    assert.deepEqual(errorAnswer(response), [400, 'REQUEST_INVALID'], `${query}: ${response.body}`);
    const said = (JSON.parse(response.body) as { error: { message: string } }).error.message;
    assert.match(said, message);
    assert.match(said, /20260102/, `${query}: the message lists the compact date among the forms taken: ${said}`);
  }
});

// `from` after `to` (the two swapped, or a day typed wrong) matched nothing and answered 200 with
// no items, or an export of its header alone: a client could not tell it from a window with nothing sampled.
test('from after to is 400 naming both as times and saying to swap them; from and to on the same day are that day', async () => {
  const { pool, app } = setup();
  await pool.add(item('in-2026', { sampledAt: Date.parse('2026-06-01T00:00:00.000Z') }));
  for (const query of ['from=2026-12-31&to=2026-01-01', 'from=20261231&to=20260101&format=csv', `from=${Date.parse('2026-06-01T00:00:00.001Z')}&to=${Date.parse('2026-06-01T00:00:00.000Z')}`]) {
    const response = await app.inject({ method: 'GET', url: `/v1/reviews?${query}`, headers: alice });
    assert.deepEqual(errorAnswer(response), [400, 'REQUEST_INVALID'], `${query}: ${response.body}`);
    assert.match((JSON.parse(response.body) as { error: { message: string } }).error.message, /^from \(\d{4}-\d\d-\d\dT[\d:.]+Z\) is after to \(\d{4}-\d\d-\d\dT[\d:.]+Z\): no item can match; swap them$/, query);
  }
  const sameDay = await app.inject({ method: 'GET', url: '/v1/reviews?from=2026-06-01&to=2026-06-01', headers: alice });
  assert.equal(sameDay.statusCode, 200, sameDay.body);
  assert.deepEqual((JSON.parse(sameDay.body) as { items: { inferenceId: string }[] }).items.map((i) => i.inferenceId), ['in-2026']);
});
