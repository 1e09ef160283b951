import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { freePort, startRedisWithClient, startServiceMain } from '@gradcam/dev-services';
import { ReviewPool } from '@gradcam/review-pool';
import { reviewItem as item } from './review-item-fixture.ts';

// The review service's composition root run as in production: what its /metrics tells Prometheus.

test("a model's time to review is exported at 0 once the pool holds an item of it, before its first verdict, so rate() counts that verdict", { timeout: 60_000 }, async () => {
  const { redis, server, stop } = await startRedisWithClient();
  const storage = await mkdtemp(join(tmpdir(), 'gradcam-review-metrics-'));
  const port = await freePort();
  const prefix = `t${Math.random().toString(36).slice(2, 10)}`;
  const review = startServiceMain('services/review/src/main.ts', {
    ...process.env,
    REDIS_URL: server.url,
    GRADCAM_QUEUE_PREFIX: prefix,
    GRADCAM_HOST: '127.0.0.1',
    GRADCAM_REVIEW_PORT: String(port),
    GRADCAM_REVIEW_TOKENS: 'alice:alice-metrics-test-token-0123',
    GRADCAM_STORAGE_DIR: storage,
    LOG_LEVEL: 'warn',
  });
  try {
    await review.untilReady(`http://127.0.0.1:${port}/healthz`);
    const scrape = async () => (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    assert.doesNotMatch(await scrape(), /gradcam_review_time_to_review_seconds_count\{/, 'no model yet');
    await new ReviewPool(redis, prefix).add(item('first', { model: 'mobilenet' }));
    const text = await scrape();
    assert.match(text, /^gradcam_review_time_to_review_seconds_count\{model="mobilenet"\} 0$/m);
    assert.match(text, /^gradcam_review_time_to_review_seconds_bucket\{le="\+Inf",model="mobilenet"\} 0$/m);
  } finally {
    await review.stop();
    await stop();
    await rm(storage, { recursive: true, force: true });
  }
});
