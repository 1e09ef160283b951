import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { captureDecisionField, indexEntryOfJob, indexEntrySchema, redisKeys } from '@gradcam/contracts';
import { startRedisWithClient } from '@gradcam/dev-services';
import { explainJobFixture } from '@gradcam/queue/test-fixtures';
import { acceptedIds } from './accepted-ids.ts';

const { redis, stop } = await startRedisWithClient();
after(stop);

test('an explained job whose id ingest never recorded is recorded as ingest would, with its capture decision counted once', async () => {
  const prefix = `a${Math.random().toString(36).slice(2, 10)}`;
  const keys = redisKeys(prefix);
  const job = explainJobFixture('never-recorded');
  const ids = acceptedIds(redis, prefix, 3600);
  assert.equal(await ids.recordExplained(job), true);
  assert.equal(await ids.recordExplained(job), false, 'a rerun of the job records nothing more');
  const entry = indexEntrySchema.parse(JSON.parse((await redis.get(keys.inference(job.inferenceId))) ?? ''));
  assert.deepEqual(entry, { folder: job.folder, model: job.model.name, explain: true, reason: job.capture.reason, acceptedAt: job.acceptedAt });
  const ttl = await redis.ttl(keys.inference(job.inferenceId));
  assert.ok(ttl > 3500 && ttl <= 3600, `expires with the index (${ttl} s)`);
  assert.deepEqual(await redis.hgetall(keys.captureDecisions), { [captureDecisionField(entry.model, true, entry.reason)]: '1' });
});

test("the entry recorded for a job keeps the accepted record's fingerprint, so the id sent again with other content is refused as ingest's own entry would (409 ID_REUSED)", async () => {
  const prefix = `a${Math.random().toString(36).slice(2, 10)}`;
  const keys = redisKeys(prefix);
  const job = { ...explainJobFixture('fingerprinted'), fingerprint: 'f1:0123456789abcdef.0123456789abcdef.0123456789abcdef.0123456789abcdef.0123456789abcdef' };
  assert.equal(await acceptedIds(redis, prefix, 3600).recordExplained(job), true);
  const entry = indexEntrySchema.parse(JSON.parse((await redis.get(keys.inference(job.inferenceId))) ?? ''));
  assert.equal(entry.fingerprint, job.fingerprint);
});

test('an entry ingest wrote is left as it is and nothing is counted', async () => {
  const prefix = `a${Math.random().toString(36).slice(2, 10)}`;
  const keys = redisKeys(prefix);
  const ids = acceptedIds(redis, prefix, 3600);
  const recorded = explainJobFixture('recorded');
  const ingests = JSON.stringify({ ...indexEntryOfJob(recorded), acceptedAt: recorded.acceptedAt - 1 });
  await redis.set(keys.inference('recorded'), ingests);
  assert.equal(await ids.recordExplained(recorded), false);
  assert.equal(await redis.get(keys.inference('recorded')), ingests);
  assert.equal(await redis.exists(keys.captureDecisions), 0);
});

test('an explained job whose id an attempt holds a claim on is recorded over the claim: that attempt may still fail, and its client resubmit once the completed job is gone', async () => {
  const prefix = `a${Math.random().toString(36).slice(2, 10)}`;
  const keys = redisKeys(prefix);
  const ids = acceptedIds(redis, prefix, 3600);
  const job = explainJobFixture('claimed');
  await redis.set(keys.inference('claimed'), 'claim:an-attempt-in-flight', 'PX', 60_000);
  assert.equal(await ids.recordExplained(job), true);
  assert.deepEqual(JSON.parse((await redis.get(keys.inference('claimed'))) ?? ''), indexEntryOfJob(job));
  assert.ok((await redis.ttl(keys.inference('claimed'))) > 3500, 'the entry\'s TTL, not the claim\'s');
  assert.deepEqual(await redis.hgetall(keys.captureDecisions), { [captureDecisionField(job.model.name, true, job.capture.reason)]: '1' });
});
