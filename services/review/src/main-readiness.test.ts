import assert from 'node:assert/strict';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { type AddressInfo, type Socket, createServer } from 'node:net';
import { test } from 'node:test';
import { freePort, s3Env, startRedisServer, startS3PermissionProxy, startS3Server, startServiceMain } from '@gradcam/dev-services';
import { probeKey } from '@gradcam/storage';

// The review service's composition root, where its /readyz check is wired, run as in production.


/** The environment review's main runs with here: its own port and Redis, and `store` (s3Env); `extra` adds or overrides. */
function serviceEnv(port: number, redisUrl: string, store: Record<string, string>, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    REDIS_URL: redisUrl,
    GRADCAM_HOST: '127.0.0.1',
    GRADCAM_REVIEW_PORT: String(port),
    GRADCAM_REVIEW_TOKENS: 'alice:alice-main-test-token-0123',
    ...store,
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    LOG_LEVEL: 'warn',
    ...extra,
  };
}

test('/readyz is ready on S3 credentials without s3:ListBucket (AWS answers 403 for a missing key there), its probe under GRADCAM_STORAGE_PREFIX', { timeout: 60_000 }, async () => {
  const redis = await startRedisServer();
  const s3 = await startS3Server({ buckets: ['review-bucket'] });
  const proxy = await startS3PermissionProxy(s3.endpoint, ['s3:ListBucket']);
  const port = await freePort();
  const env = serviceEnv(port, redis.url, s3Env(s3, 'review-bucket', proxy.endpoint), { GRADCAM_STORAGE_PREFIX: 'team-a/captures' });
  const review = startServiceMain('services/review/src/main.ts', env);
  try {
    await review.untilReady(`http://127.0.0.1:${port}/readyz`);
    const probe = await fetch(`${s3.endpoint}/review-bucket/${probeKey('team-a/captures')}`, { method: 'HEAD' });
    assert.equal(probe.status, 200, 'the probe is under the prefix');
    // Ready, and told once what fails without s3:ListBucket.
    await review.untilOutput('s3:ListBucket');
    assert.match(review.output(), /storage answers 403, not 404, for an object that is not there \(S3 credentials without s3:ListBucket\): no first verdict on an item can be saved/);
  } finally {
    await review.stop();
    await proxy.stop();
    await s3.stop();
    await redis.stop();
  }
});

test('an S3_BUCKET that does not exist: review says so at start in one line naming S3_BUCKET with a stable code, and /readyz says bucket not found', { timeout: 60_000 }, async () => {
  const redis = await startRedisServer();
  const s3 = await startS3Server({ buckets: ['review-bucket'] });
  const port = await freePort();
  const review = startServiceMain('services/review/src/main.ts', serviceEnv(port, redis.url, s3Env(s3, 'no-such-bucket')));
  try {
    // Said at start, with nothing polling /readyz.
    await review.untilOutput('storage cannot be used');
    assert.match(
      review.output(),
      /storage cannot be used \(STORAGE_BUCKET_NOT_FOUND\): S3_BUCKET: bucket \\"no-such-bucket\\" does not exist at http:\/\/127\.0\.0\.1:\d+; create it first/,
    );
    const answer = await fetch(`http://127.0.0.1:${port}/readyz`);
    assert.equal(answer.status, 503);
    assert.deepEqual(await answer.json(), { status: 'not-ready', reason: 'storage: bucket not found' });
  } finally {
    await review.stop();
    await s3.stop();
    await redis.stop();
  }
});

test('an S3_ENDPOINT that accepts connections and never answers: /readyz answers 503 within seconds, as ingest does, not after 15 s of the store\'s default retries', { timeout: 60_000 }, async () => {
  const redis = await startRedisServer();
  const sockets: Socket[] = [];
  // A hung proxy or a frozen server: the connection is taken, nothing is ever answered.
  const silent = createServer((socket) => void sockets.push(socket)).listen(0, '127.0.0.1');
  await once(silent, 'listening');
  const port = await freePort();
  const review = startServiceMain('services/review/src/main.ts', serviceEnv(port, redis.url, s3Env({ endpoint: `http://127.0.0.1:${(silent.address() as AddressInfo).port}`, region: 'us-east-1', accessKeyId: 'a', secretAccessKey: 'b' }, 'review-bucket'), { LOG_LEVEL: 'info' }));
  try {
    await review.untilOutput('review service on');
    // A Kubernetes probe gives up after its timeoutSeconds (1 by default, a few where set): an
    // answer after 15 s is no answer. Ingest's interactive timeouts answer in about 2 s (one second
    // of silence, two tries); 8 s leaves room for a loaded machine.
    // Redis is checked first, and its connection may still be coming up: asked again until the
    // answer is about storage, each answer within the deadline (a fetch past it throws).
    const reasons: string[] = [];
    for (let tries = 0; tries < 20 && !reasons.at(-1)?.startsWith('storage: '); tries++) {
      if (tries > 0) await sleep(250);
      const answer = await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(8_000) });
      assert.equal(answer.status, 503);
      reasons.push(((await answer.json()) as { reason: string }).reason);
    }
    assert.match(reasons.at(-1) ?? '', /^storage: /, reasons.join('; '));
  } finally {
    await review.stop();
    for (const socket of sockets) socket.destroy();
    silent.close();
    await redis.stop();
  }
});
