import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ReviewItem } from '@gradcam/contracts';
import { alice, appTestKit, bob, errorAnswer as answer } from './app-test-kit.ts';
import { reviewItem as item } from './review-item-fixture.ts';

// POST /v1/reviews/{id}/renew and a release bound to a lease (`{ leaseExpiresAt }`) through
// app.inject(), on a real Redis and a real (filesystem) store: a closing page's release that lands
// after another tab of the same reviewer renewed the lease gives nothing back.
const { setup: appOn } = await appTestKit('renew-app');
const leaseMs = 60_000;
const setup = () => appOn({ leaseMs });
const itemOf = (response: { body: string }) => (JSON.parse(response.body) as { item: ReviewItem }).item;

test('renew gives the holder a new lease; a release bound to the lease before is refused, one bound to the new lease is taken', async () => {
  const { pool, app } = setup();
  const id = `app-renew-${Date.now()}`;
  await pool.add(item(id));
  // Leased a while ago (as by the tab that is leaving now): its lease ends before a renewed one would.
  const first = (await pool.lease('alice', leaseMs, { now: Date.now() - 5_000 }))?.leaseExpiresAt;
  assert.ok(first !== undefined);

  assert.deepEqual(answer(await app.inject({ method: 'POST', url: `/v1/reviews/${id}/renew`, headers: bob })), [409, 'REVIEW_NOT_LEASED'], 'not bob’s lease');
  assert.equal((await app.inject({ method: 'POST', url: `/v1/reviews/${id}/renew` })).statusCode, 401);
  const renewed = await app.inject({ method: 'POST', url: `/v1/reviews/${id}/renew`, headers: alice });
  assert.equal(renewed.statusCode, 200, renewed.body);
  const second = itemOf(renewed);
  assert.deepEqual([second.status, second.leasedBy], ['leased', 'alice']);
  assert.ok((second.leaseExpiresAt ?? 0) >= first + 5_000, `renewed from now: ${second.leaseExpiresAt} after ${first}`);

  // The leaving tab's release, landing late.
  const late = await app.inject({ method: 'POST', url: `/v1/reviews/${id}/release`, headers: alice, payload: { leaseExpiresAt: first } });
  assert.deepEqual(answer(late), [409, 'REVIEW_NOT_LEASED'], late.body);
  const held = await pool.get(id);
  assert.deepEqual([held?.status, held?.leasedBy, held?.leaseExpiresAt], ['leased', 'alice', second.leaseExpiresAt], 'still alice’s, as renewed');

  // A body that does not name the lease as asked is refused, never taken as an unbound release:
  // a wrong type, a misspelt key, JSON null.
  const json = { ...alice, 'content-type': 'application/json' };
  for (const payload of [JSON.stringify({ leaseExpiresAt: 'soon' }), JSON.stringify({ leaseExpiresAT: second.leaseExpiresAt }), 'null']) {
    const refused = await app.inject({ method: 'POST', url: `/v1/reviews/${id}/release`, headers: json, payload });
    assert.deepEqual(answer(refused), [400, 'REQUEST_INVALID'], `${payload}: ${refused.body}`);
  }
  assert.equal((await pool.get(id))?.status, 'leased', 'nothing was released');
  const released = await app.inject({ method: 'POST', url: `/v1/reviews/${id}/release`, headers: alice, payload: { leaseExpiresAt: second.leaseExpiresAt } });
  assert.equal(released.statusCode, 200, released.body);
  assert.equal(itemOf(released).status, 'pending');
  assert.deepEqual(answer(await app.inject({ method: 'POST', url: `/v1/reviews/${id}/renew`, headers: alice })), [409, 'REVIEW_NOT_LEASED'], 'released: lease it again instead');
});

test('a release without a lease gives back the lease held, renewed or not; renew is refused while a verdict is being kept', async () => {
  const { pool, app } = setup();
  const id = `app-renew-plain-${Date.now()}`;
  await pool.add(item(id));
  await pool.lease('alice', leaseMs);
  assert.equal((await app.inject({ method: 'POST', url: `/v1/reviews/${id}/renew`, headers: alice })).statusCode, 200);
  const released = await app.inject({ method: 'POST', url: `/v1/reviews/${id}/release`, headers: alice });
  assert.equal(released.statusCode, 200, released.body);
  assert.equal(itemOf(released).status, 'pending');

  await pool.lease('alice', leaseMs);
  const begun = await pool.beginVerdict(id, 'alice', 'supports', undefined);
  assert.equal(begun.state, 'begun');
  assert.deepEqual(answer(await app.inject({ method: 'POST', url: `/v1/reviews/${id}/renew`, headers: alice })), [409, 'REVIEW_VERDICT_IN_PROGRESS']);
});
