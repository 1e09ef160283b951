import assert from 'node:assert/strict';
import { createConnection } from 'node:net';
import { test } from 'node:test';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { startTestRedis, startTestS3, type TestS3 } from './test-services.ts';

function ping(url: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host: hostname, port: Number(port) }, () => socket.write('PING\r\n'));
    socket.once('error', reject);
    socket.once('data', (data) => {
      socket.destroy();
      resolve(data.toString());
    });
  });
}

async function roundTrip(s3: TestS3, bucket: string): Promise<string> {
  const client = new S3Client({
    endpoint: s3.endpoint,
    region: s3.region,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    forcePathStyle: true,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  try {
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'k.txt', Body: 'value' }));
    const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: 'k.txt' }));
    return (await got.Body?.transformToString()) ?? '';
  } finally {
    client.destroy();
  }
}

test('startTestRedis gives a working Redis, as a container or a local process', async () => {
  const redis = await startTestRedis();
  try {
    assert.ok(redis.kind === 'container' || redis.kind === 'process');
    assert.equal(await ping(redis.url), '+PONG\r\n');
  } finally {
    await redis.stop();
    await redis.stop();
  }
});

test('startTestS3 gives a working S3 with the buckets asked for', async () => {
  const s3 = await startTestS3({ buckets: ['test-services'] });
  try {
    assert.ok(s3.kind === 'container' || s3.kind === 'process');
    assert.equal(await roundTrip(s3, 'test-services'), 'value');
  } finally {
    await s3.stop();
    await s3.stop();
  }
});

test("runtime 'process' uses redis-server and s3rver without asking for containers", async () => {
  const [redis, s3] = await Promise.all([startTestRedis({ runtime: 'process' }), startTestS3({ runtime: 'process', buckets: ['p'] })]);
  try {
    assert.equal(redis.kind, 'process');
    assert.equal(s3.kind, 'process');
    assert.equal(await ping(redis.url), '+PONG\r\n');
    assert.equal(await roundTrip(s3, 'p'), 'value');
  } finally {
    await Promise.all([redis.stop(), s3.stop()]);
  }
});

test("without a container runtime, 'auto' falls back to processes and 'container' is one clear error", async (t) => {
  const probe = await startTestRedis();
  await probe.stop();
  if (probe.kind === 'container') {
    t.skip('a container runtime is available here');
    return;
  }
  const s3 = await startTestS3();
  await s3.stop();
  assert.equal(s3.kind, 'process');
  await assert.rejects(startTestRedis({ runtime: 'container' }), /startTestRedis: runtime 'container' was asked for but no container runtime/);
  await assert.rejects(startTestS3({ runtime: 'container' }), /startTestS3: runtime 'container'/);
});
