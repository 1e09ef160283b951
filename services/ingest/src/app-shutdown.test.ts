import assert from 'node:assert/strict';
import { test } from 'node:test';
import { answersAroundClose, assertShuttingDownAnswer } from '@gradcam/http-service/testing';
import { auth, useIngestHarness } from './test-support/ingest-harness.ts';

// While ingest drains on SIGTERM (app.close()), through a real keep-alive connection.
const h = useIngestHarness();

test("a request reaching ingest on a kept-alive connection while it closes is 503 SHUTTING_DOWN in ingest's error shape, with Retry-After and Connection: close", async () => {
  const { before: first, closing } = await answersAroundClose(h.app, '/v1/inferences/shut-1', auth);
  assert.equal(first.status, 404, first.body);
  assertShuttingDownAnswer(closing);
});
