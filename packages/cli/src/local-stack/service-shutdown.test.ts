import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { freePort, startRedisServer } from '@gradcam/dev-services';
import { startService, waitUntilReady } from './service-process.ts';

// What `gradcam up` meets when its Redis died: every service must still stop on SIGTERM, in
// seconds, rather than wait for ever on connections that cannot close. (The worker has its own
// deadline, GRADCAM_LOCK_DURATION_MS + 5 s, and is not started here: it loads a model.)
for (const [name, readyPath] of [['metrics-exporter', 'healthz'], ['review', 'readyz'], ['ingest', 'readyz']] as const) {
  test(`${name} exits soon after SIGTERM when Redis is gone`, async () => {
    const redis = await startRedisServer();
    const storage = await mkdtemp(join(tmpdir(), 'gradcam-shutdown-'));
    const port = await freePort();
    const service = startService({
      name,
      entry: `services/${name}/src/main.ts`,
      env: {
        ...process.env,
        REDIS_URL: redis.url,
        GRADCAM_HOST: '127.0.0.1',
        GRADCAM_INGEST_PORT: String(port),
        GRADCAM_EXPORTER_PORT: String(port),
        GRADCAM_REVIEW_PORT: String(port),
        GRADCAM_API_TOKENS: 'local-shutdown-test-token-0123456789',
        GRADCAM_REVIEW_TOKENS: 'tester:local-shutdown-review-token-0123',
        GRADCAM_STORAGE_DIR: storage,
        LOG_LEVEL: 'fatal',
      },
    });
    try {
      await waitUntilReady(service, `http://127.0.0.1:${port}/${readyPath}`, 30_000);
      await redis.stop('SIGKILL');
      // Let the clients notice and start reconnecting, as they would have for a while in a stack.
      await new Promise((resolve) => setTimeout(resolve, 500));
      const started = Date.now();
      service.child.kill('SIGTERM');
      const exit = await Promise.race([service.exited, new Promise<string>((resolve) => setTimeout(() => resolve('still running'), 15_000))]);
      assert.notEqual(exit, 'still running', `${name} did not exit within 15 s`);
      assert.ok(Date.now() - started < 10_000, `${name} took ${Date.now() - started} ms`);
    } finally {
      await service.stop('SIGKILL');
      await redis.stop();
      await rm(storage, { recursive: true, force: true });
    }
  });
}
