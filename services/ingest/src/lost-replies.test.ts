import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { redisKeys } from '@gradcam/contracts';
import type { OutageProxy } from '@gradcam/dev-services';
import type { Redis } from 'ioredis';
import { type IngestBehindProxy, type IngestHarness, createIngestBehindProxy } from './test-support/ingest-harness.ts';

// A connection that drops after Redis ran a command and before its reply arrived: ioredis
// reconnects and sends the command again, so each script runs a second time over its own writes
// and must answer as the first run did.

let env: IngestBehindProxy;
let h: IngestHarness;
let redis: Redis;
let cutter: OutageProxy;
before(async () => {
  env = await createIngestBehindProxy();
  ({ h, redis, proxy: cutter } = env);
});
after(() => env.close());

const post = (id: string) => env.post(id);
const keys = () => redisKeys(h.queue.opts.prefix as string);

test('a claim whose reply was lost is still this request\'s claim: 202, not 409 with the id held for a minute', async () => {
  cutter.cutAfterReply(keys().inference('lost-claim-1'));
  const response = await post('lost-claim-1');
  assert.deepEqual(cutter.repliesCut, [keys().inference('lost-claim-1')], 'the claim ran and its reply was dropped');
  assert.equal(response.statusCode, 202, response.body);
  assert.equal(await h.queue.getJobState('lost-claim-1'), 'waiting');
  assert.ok((await redis.get(keys().inference('lost-claim-1')))?.startsWith('{'), 'recorded');
});

test('a commit whose reply was lost, run again over the entry it wrote, answers recorded: 202, not 409 "another request is accepting it"', async () => {
  const counted = async () => Number(await redis.hget(keys().captureDecisions, 'nsfw-mobilenet-v2|explain|all'));
  const before = await counted();
  cutter.cutAfterReply(keys().captureDecisions);
  const response = await post('lost-commit-1');
  assert.deepEqual(cutter.repliesCut.at(-1), keys().captureDecisions, 'the commit ran and its reply was dropped');
  assert.equal(response.statusCode, 202, response.body);
  assert.equal(await counted(), before + 1, 'its decision counted once');
  const again = await post('lost-commit-1');
  assert.equal(again.statusCode, 200, again.body);
});
