import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { parseCapturePolicy } from '@gradcam/config';
import { redisKeys } from '@gradcam/contracts';
import { type RedisServer, type S3Permission, type S3Server, startRedisServer, startS3PermissionProxy, startS3Server } from '@gradcam/dev-services';
import { closeConnection, connectionReady, createExplainQueue, createProducerConnection } from '@gradcam/queue';
import { probeKey } from '@gradcam/storage';
import { createRegistry } from '@gradcam/telemetry';
import { createIngestStore } from './ingest-store.ts';
import { testToken } from './test-support/ingest-harness.ts';
import { createIngestApp } from './wire-ingest.ts';

// Ingest on a real S3 API (s3rver), as a deployment with its own bucket, prefix and IAM policy
// meets it; a proxy plays AWS's answers for credentials that lack a permission.

let redis: RedisServer;
let s3: S3Server;
before(async () => {
  redis = await startRedisServer();
  s3 = await startS3Server({ buckets: ['captures-bucket'] });
});
after(async () => {
  await s3.stop();
  await redis.stop();
});

/** Ingest on `bucket` through an endpoint whose credentials lack `without`. */
async function s3Ingest(options: { bucket?: string; without?: readonly S3Permission[]; storagePrefix?: string } = {}) {
  const bucket = options.bucket ?? 'captures-bucket';
  const storagePrefix = options.storagePrefix ?? 'team-a/captures';
  const queuePrefix = `t${Math.random().toString(36).slice(2, 10)}`;
  const proxy = await startS3PermissionProxy(s3.endpoint, options.without ?? []);
  const connection = createProducerConnection(redis.url, { onError: () => undefined });
  await connectionReady(connection);
  await connection.hset(redisKeys(queuePrefix).servedModels, { 'nsfw-mobilenet-v2': 'nsfwjs-4.4.0' });
  const queue = createExplainQueue({ connection, prefix: queuePrefix, onError: () => undefined });
  const { region, accessKeyId, secretAccessKey } = s3;
  const store = createIngestStore({ kind: 's3', endpoint: proxy.endpoint, region, bucket, accessKeyId, secretAccessKey, forcePathStyle: true, prefix: storagePrefix });
  const internalErrors: unknown[] = [];
  const app = await createIngestApp({
    redis: connection,
    queue,
    store,
    registry: createRegistry(),
    queuePrefix,
    storagePrefix,
    bucket,
    policy: parseCapturePolicy('all'),
    apiTokens: [testToken],
    maxBodyBytes: 8 * 1024 * 1024,
    maxQueueDepth: 1000,
    presignSeconds: 60,
    servedModelsCacheMs: 0,
    onServerError: (error) => void internalErrors.push(error),
  });
  return {
    app,
    internalErrors,
    async close() {
      await app.close();
      await queue.close();
      await store.close();
      await closeConnection(connection);
      await proxy.stop();
    },
  };
}

test('/readyz is ready on S3 credentials without s3:ListBucket, and its probe object lies under GRADCAM_STORAGE_PREFIX', async () => {
  const ingest = await s3Ingest({ without: ['s3:ListBucket'], storagePrefix: 'team-a/captures' });
  try {
    for (let i = 0; i < 3; i++) {
      const readyz = await ingest.app.inject({ method: 'GET', url: '/readyz' });
      assert.deepEqual([readyz.statusCode, readyz.json()], [200, { status: 'ready' }]);
    }
  } finally {
    await ingest.close();
  }
  const answer = await fetch(`${s3.endpoint}/captures-bucket/${probeKey('team-a/captures')}`, { method: 'HEAD' });
  assert.equal(answer.status, 200, 'the probe is under the prefix, not at the bucket root');
});

test('/readyz is not ready when the bucket does not exist', async () => {
  const ingest = await s3Ingest({ bucket: 'no-such-bucket' });
  try {
    const readyz = await ingest.app.inject({ method: 'GET', url: '/readyz' });
    assert.deepEqual([readyz.statusCode, readyz.json()], [503, { status: 'not-ready', reason: 'storage: unavailable' }]);
  } finally {
    await ingest.close();
  }
});
