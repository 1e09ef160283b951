import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { startRedisWithClient } from '@gradcam/dev-services';
import { answersAroundClose, assertShuttingDownAnswer } from '@gradcam/http-service/testing';
import { ReviewPool } from '@gradcam/review-pool';
import { FsBlobStore } from '@gradcam/storage';
import { createApp } from './app.ts';
import { ReviewDesk } from './review-desk.ts';

// While the review service drains on SIGTERM (app.close()), through a real keep-alive connection.
const { redis, stop } = await startRedisWithClient();
const rootDir = await mkdtemp(join(tmpdir(), 'gradcam-review-shutdown-'));
after(async () => {
  await stop();
  await rm(rootDir, { recursive: true, force: true });
});

test('a request reaching the service on a kept-alive connection while it closes is 503 SHUTTING_DOWN in the API error shape, with Retry-After and Connection: close', async () => {
  const pool = new ReviewPool(redis, `t${Math.random().toString(36).slice(2, 10)}`);
  const store = new FsBlobStore({ rootDir, publicBaseUrl: 'http://127.0.0.1:1', signingSecret: 'review-shutdown-secret' });
  const desk = new ReviewDesk({ pool, store, leaseMs: 60_000, undoMs: 120_000, presignSeconds: 60 });
  const app = createApp({ desk, pool, reviewers: new Map(), checkReady: async () => {}, onResponse: () => {}, scrape: async () => ({ contentType: 'text/plain', body: '' }) });
  try {
    const { before, closing } = await answersAroundClose(app, '/healthz');
    assert.equal(before.status, 200);
    assertShuttingDownAnswer(closing);
  } finally {
    await store.close();
  }
});
