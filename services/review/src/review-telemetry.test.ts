import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { startRedisWithClient } from '@gradcam/dev-services';
import { ReviewPool } from '@gradcam/review-pool';
import { createRegistry } from '@gradcam/telemetry';
import { reviewItem as item } from './review-item-fixture.ts';
import { createReviewTelemetry } from './review-telemetry.ts';

const { redis, stop } = await startRedisWithClient();
after(stop);

const count = (text: string, model: string) => new RegExp(`^gradcam_review_time_to_review_seconds_count\\{model="${model}"\\} (\\d+)$`, 'm').exec(text)?.[1];

test("each model of the pool has its time to review exported at 0 from the first scrape after its first item, so rate() counts the first verdict; a verdict's count is never reset", async () => {
  const pool = new ReviewPool(redis, `t${Math.random().toString(36).slice(2, 10)}`);
  const registry = createRegistry({ defaultMetrics: false });
  const telemetry = createReviewTelemetry(registry, { models: () => pool.models() });
  assert.doesNotMatch((await telemetry.scrape()).body, /gradcam_review_time_to_review_seconds_count\{/, 'no model made up');

  await pool.add(item('a', { model: 'm' }));
  await pool.add(item('b', { model: 'n' }));
  let text = (await telemetry.scrape()).body;
  assert.equal(count(text, 'm'), '0');
  assert.equal(count(text, 'n'), '0');
  assert.match(text, /^gradcam_review_time_to_review_seconds_bucket\{le="\+Inf",model="m"\} 0$/m);

  telemetry.verdict({ ...item('a', { model: 'm', sampledAt: 1_000 }), reviewedAt: 61_000 });
  // A verdict on a model this process had not read yet (added since its last scrape) is kept too.
  telemetry.verdict({ ...item('c', { model: 'o', sampledAt: 1_000 }), reviewedAt: 2_000 });
  await pool.add(item('c', { model: 'o' }));
  text = (await telemetry.scrape()).body;
  assert.equal(count(text, 'm'), '1');
  assert.equal(count(text, 'o'), '1', 'not reset to 0 by the scrape that reads the model');
  assert.match(text, /^gradcam_review_time_to_review_seconds_sum\{model="m"\} 60$/m);
  telemetry.request('/v1/reviews/:id', 200);
  assert.match((await telemetry.scrape()).body, /^gradcam_review_http_requests_total\{route="\/v1\/reviews\/:id",status="200"\} 1$/m);
});

test('a scrape is answered when the models cannot be read, and the error is told', async () => {
  const registry = createRegistry({ defaultMetrics: false });
  const errors: unknown[] = [];
  const telemetry = createReviewTelemetry(registry, { models: () => Promise.reject(new Error('redis down')), onModelsError: (error) => errors.push(error) });
  telemetry.verdict({ ...item('a', { model: 'm', sampledAt: 1_000 }), reviewedAt: 2_000 });
  const response = await telemetry.scrape();
  assert.match(response.body, /^gradcam_review_time_to_review_seconds_count\{model="m"\} 1$/m);
  assert.deepEqual(errors.map((e) => (e as Error).message), ['redis down']);
});
