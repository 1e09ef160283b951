import assert from 'node:assert/strict';
import { test } from 'node:test';
import { redisOutageLog } from '@gradcam/dev-services';

// The review service's composition root, where its Redis connection's errors are logged, run as in production
// against a real Redis reached through a proxy the test cuts for 10 s, as a network outage would.

test('a Redis outage is logged once per kind of error (then a count a minute), not at every reconnect, and its end once', { timeout: 90_000 }, async () => {
  const during = await redisOutageLog({ entry: 'services/review/src/main.ts', env: (port) => ({ GRADCAM_REVIEW_PORT: String(port), GRADCAM_REVIEW_TOKENS: 'alice:alice-main-test-token-0123' }) });
  // Each kind once (connect ECONNRESET, read ECONNRESET, …, not ready), not each reconnect (29 before).
  assert.ok(during.length > 0 && during.length <= 10, `${during.length} warnings in 10 s of outage:\n${during.join('\n')}`);
  assert.match(during.join('\n'), /redis connection error: /);
});
