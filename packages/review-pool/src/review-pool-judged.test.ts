import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { startRedisWithClient } from '@gradcam/dev-services';
import { ReviewPoolError } from './review-pool-error.ts';
import { ReviewPool } from './review-pool.ts';
import { testItem as item } from './test-item.ts';

// A verdict sent after the same reviewer's verdict on the item was kept (a page that got no answer
// for the first, then chose again): told apart from a lease that ran out, with the kept verdict.
const { redis, stop } = await startRedisWithClient();
after(stop);

const pool = () => new ReviewPool(redis, `t${Math.random().toString(36).slice(2, 10)}`);

test('another verdict, or another comment, from the reviewer who judged the item is REVIEW_ALREADY_JUDGED carrying the kept item; nothing changes', async () => {
  const p = pool();
  await p.add(item('j', 0.5));
  await p.lease('alice', 60_000, { now: 10_000 });
  const kept = await p.complete('j', 'alice', 'supports', 'first', 10_100);
  for (const [verdict, comment] of [['unsure', undefined], ['supports', 'second'], ['supports', undefined]] as const) {
    const refusal = await p.beginVerdict('j', 'alice', verdict, comment, 10_200).then(
      () => assert.fail(`${verdict}/${comment ?? ''} was taken`),
      (error: unknown) => error,
    );
    assert.ok(refusal instanceof ReviewPoolError, String(refusal));
    assert.equal(refusal.code, 'REVIEW_ALREADY_JUDGED');
    assert.match(refusal.message, /alice's verdict on "j" is kept already: "supports"/);
    assert.deepEqual(refusal.item, kept, 'the kept item, for the caller to say what is kept');
  }
  assert.deepEqual(await p.get('j', 10_300), kept, 'nothing changed');
  assert.deepEqual(await p.verdictCounts(), { 'm|2|supports': 1 });
  // The very same verdict is answered as kept; any other reviewer is not the lease holder.
  assert.equal((await p.beginVerdict('j', 'alice', 'supports', 'first', 10_400)).state, 'done');
  await assert.rejects(p.beginVerdict('j', 'bob', 'unsure', undefined, 10_500), { code: 'REVIEW_NOT_LEASED' });
});
