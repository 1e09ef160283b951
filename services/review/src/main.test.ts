import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { freePort, startRedisServer } from '@gradcam/dev-services';
import { trickleRequest } from '@gradcam/http-service/testing';

// The review service's composition root run as `node services/review/src/main.ts`, as in
// production: its SIGTERM handling is wired there.
const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

test('SIGTERM while a reviewer\'s client still trickles its verdict: the service exits at its shutdown deadline (10 s), not when the client lets go', { timeout: 60_000 }, async () => {
  const redis = await startRedisServer();
  const storage = await mkdtemp(join(tmpdir(), 'gradcam-review-main-'));
  const port = await freePort();
  const env = {
    ...process.env,
    REDIS_URL: redis.url,
    GRADCAM_HOST: '127.0.0.1',
    GRADCAM_REVIEW_PORT: String(port),
    GRADCAM_REVIEW_TOKENS: 'alice:alice-main-test-token-0123',
    GRADCAM_STORAGE_DIR: storage,
    LOG_LEVEL: 'warn',
  };
  const child = spawn(process.execPath, ['--import', 'tsx', 'services/review/src/main.ts'], { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<string>((resolve) => child.once('exit', (code, signal) => resolve(`exit ${code} (${signal})`)));
  let client: ReturnType<typeof trickleRequest> | undefined;
  try {
    const deadline = Date.now() + 30_000;
    while ((await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.status, () => 0)) !== 200) {
      assert.ok(Date.now() < deadline, `review did not start\n${output}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    client = trickleRequest(port, '/v1/reviews/some-item', { headers: { authorization: 'Bearer alice-main-test-token-0123' }, everyMs: 200 });
    await new Promise((resolve) => setTimeout(resolve, 300));
    const stopping = Date.now();
    child.kill('SIGTERM');
    const exit = await Promise.race([exited, new Promise<string>((resolve) => setTimeout(() => resolve('still running'), 20_000))]);
    const tookMs = Date.now() - stopping;
    assert.equal(exit, 'exit 1 (null)', output);
    assert.ok(tookMs >= 9_000 && tookMs < 15_000, `exited after ${tookMs} ms`);
    assert.match(output, /SIGTERM: not closed after 10000 ms/);
  } finally {
    client?.stop();
    child.kill('SIGKILL');
    await exited;
    await redis.stop();
    await rm(storage, { recursive: true, force: true });
  }
});
