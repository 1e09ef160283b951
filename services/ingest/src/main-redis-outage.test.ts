import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { freePort, startOutageProxy, startRedisServer, startServiceMain } from '@gradcam/dev-services';

// Ingest's composition root, where its Redis connection's errors are logged, run as in production
// against a real Redis reached through a proxy the test cuts, as a network outage would.

test('a Redis outage is logged once per kind of error (then a count a minute), not at every reconnect, and its end once', { timeout: 90_000 }, async () => {
  const redis = await startRedisServer();
  const proxy = await startOutageProxy(redis.port);
  const storage = await mkdtemp(join(tmpdir(), 'gradcam-ingest-outage-'));
  const port = await freePort();
  const env = {
    ...process.env,
    REDIS_URL: `redis://127.0.0.1:${proxy.port}`,
    GRADCAM_HOST: '127.0.0.1',
    GRADCAM_INGEST_PORT: String(port),
    GRADCAM_API_TOKENS: 'ingest-main-test-token-0123456789',
    GRADCAM_STORAGE_DIR: storage,
    LOG_LEVEL: 'info',
  };
  const ingest = startServiceMain('services/ingest/src/main.ts', env);
  const readyz = `http://127.0.0.1:${port}/readyz`;
  const warnings = () => ingest.output().split('\n').filter((line) => /"level":(40|50)/.test(line));
  let probing: NodeJS.Timeout | undefined;
  try {
    await ingest.untilReady(readyz);
    const before = warnings().length;
    proxy.cut();
    // Ten seconds of outage, /readyz probed every second as an orchestrator would.
    probing = setInterval(() => void fetch(readyz).catch(() => {}), 1_000);
    await new Promise((resolve) => setTimeout(resolve, 10_000));
    const during = warnings().slice(before);
    // Each kind once (connect ECONNRESET, read ECONNRESET, …, not ready), not each reconnect (55 before).
    assert.ok(during.length > 0 && during.length <= 10, `${during.length} warnings in 10 s of outage:\n${during.join('\n')}`);
    assert.match(during.join('\n'), /redis connection error: /);

    clearInterval(probing);
    proxy.restore();
    await ingest.untilReady(readyz);
    await ingest.untilOutput('Redis answers again');
  } finally {
    clearInterval(probing);
    await ingest.stop();
    await proxy.close();
    await redis.stop();
    await rm(storage, { recursive: true, force: true });
  }
});
