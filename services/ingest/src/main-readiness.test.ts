import assert from 'node:assert/strict';
import { test } from 'node:test';
import { freePort, s3Env, startRedisServer, startS3PermissionProxy, startS3Server, startServiceMain } from '@gradcam/dev-services';

// Ingest's composition root, run as in production: its start-up warning is wired there.


/** The environment ingest's main runs with here: its own port and Redis, and `store` (s3Env); `extra` adds or overrides. */
function serviceEnv(port: number, redisUrl: string, store: Record<string, string>, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    REDIS_URL: redisUrl,
    GRADCAM_HOST: '127.0.0.1',
    GRADCAM_INGEST_PORT: String(port),
    GRADCAM_API_TOKENS: 'ingest-main-test-token-0123456789',
    ...store,
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    LOG_LEVEL: 'warn',
    ...extra,
  };
}

test('on S3 credentials without s3:ListBucket ingest is ready, and says once at start what fails without it', { timeout: 60_000 }, async () => {
  const redis = await startRedisServer();
  const s3 = await startS3Server({ buckets: ['ingest-bucket'] });
  const proxy = await startS3PermissionProxy(s3.endpoint, ['s3:ListBucket']);
  const port = await freePort();
  const env = serviceEnv(port, redis.url, s3Env(s3, 'ingest-bucket', proxy.endpoint), { GRADCAM_STORAGE_PREFIX: 'captures' });
  const ingest = startServiceMain('services/ingest/src/main.ts', env);
  try {
    await ingest.untilReady(`http://127.0.0.1:${port}/readyz`);
    await ingest.untilOutput('s3:ListBucket');
    assert.match(ingest.output(), /storage answers 403, not 404, for an object that is not there \(S3 credentials without s3:ListBucket\): a record referencing a missing image is answered 500 INTERNAL instead of 422 IMAGE_NOT_FOUND/);
    assert.equal(ingest.output().split('s3:ListBucket): ').length, 2, 'said once');
  } finally {
    await ingest.stop();
    await proxy.stop();
    await s3.stop();
    await redis.stop();
  }
});

test('an S3_BUCKET that does not exist: ingest says so at start in one line naming S3_BUCKET with a stable code, and /readyz says bucket not found', { timeout: 60_000 }, async () => {
  const redis = await startRedisServer();
  const s3 = await startS3Server({ buckets: ['ingest-bucket'] });
  const port = await freePort();
  const ingest = startServiceMain('services/ingest/src/main.ts', serviceEnv(port, redis.url, s3Env(s3, 'no-such-bucket')));
  try {
    // Said at start, with nothing polling /readyz.
    await ingest.untilOutput('storage cannot be used');
    assert.match(
      ingest.output(),
      /storage cannot be used \(STORAGE_BUCKET_NOT_FOUND\): S3_BUCKET: bucket \\"no-such-bucket\\" does not exist at http:\/\/127\.0\.0\.1:\d+; create it first/,
    );
    const answer = await fetch(`http://127.0.0.1:${port}/readyz`);
    assert.equal(answer.status, 503);
    assert.deepEqual(await answer.json(), { status: 'not-ready', reason: 'storage: bucket not found' });
  } finally {
    await ingest.stop();
    await s3.stop();
    await redis.stop();
  }
});
