import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { type E2ePlan, stackEnvironment } from './pipeline-e2e.ts';

const plan: E2ePlan = {
  model: 'nsfw-mobilenet-v2',
  backend: 'wasm',
  records: 40,
  processes: 1,
  batch: 8,
  batchWaitMs: 50,
  renderThreads: 1,
  postBatch: 100,
  postConcurrency: 4,
  readyTimeoutSeconds: 300,
  stallTimeoutSeconds: 120,
};

test("the benchmark's stack stores into its temporary state dir, not the store this shell names", () => {
  const env = stackEnvironment(plan, '/tmp/gradcam-bench-stack-x');
  // Spread over the services' environment, so a shell's GRADCAM_STORAGE_DIR or S3 bucket never reaches them.
  assert.equal(env.GRADCAM_STORAGE_DIR, join('/tmp/gradcam-bench-stack-x', 'storage'));
  assert.equal(env.S3_BUCKET, '');
  assert.equal(env.S3_ENDPOINT, '');
});
