import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { parseCapturePolicy } from '@gradcam/config';
import { redisKeys } from '@gradcam/contracts';
import { type RedisServer, type S3Permission, type S3Server, assertLinksServedAs, startRedisServer, startS3PermissionProxy, startS3Server } from '@gradcam/dev-services';
import { closeConnection, connectionReady, createExplainQueue, createProducerConnection } from '@gradcam/queue';
import { S3BlobStore, probeKey } from '@gradcam/storage';
import { createRegistry } from '@gradcam/telemetry';
import { createIngestStore } from './ingest-store.ts';
import { auth, testToken } from './test-support/ingest-harness.ts';
import { createIngestApp } from './wire-ingest.ts';

const photo = readFileSync(new URL('../../../test/fixtures/images/sheep-pastoral.jpg', import.meta.url));
const message = (response: { json<T>(): T }) => response.json<{ error: { code: string; message: string } }>().error;

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
    queue,
    internalErrors,
    /** Takes the S3 endpoint away (the proxy stops): storage is down from now on. */
    stopStorage: () => proxy.stop(),
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

test('/readyz is not ready on credentials that may read but not write, though an earlier probe is there', async () => {
  // An earlier deployment (or the first ingest) wrote the probe; a HEAD of it alone passed while every record failed to store.
  const writer = await s3Ingest({ storagePrefix: 'team-b/captures' });
  try {
    assert.equal((await writer.app.inject({ method: 'GET', url: '/readyz' })).statusCode, 200);
  } finally {
    await writer.close();
  }
  const ingest = await s3Ingest({ without: ['s3:PutObject'], storagePrefix: 'team-b/captures' });
  try {
    const readyz = await ingest.app.inject({ method: 'GET', url: '/readyz' });
    assert.deepEqual([readyz.statusCode, readyz.json()], [503, { status: 'not-ready', reason: 'storage: access denied' }]);
  } finally {
    await ingest.close();
  }
});

test('/readyz is not ready when the bucket does not exist', async () => {
  const ingest = await s3Ingest({ bucket: 'no-such-bucket' });
  try {
    const readyz = await ingest.app.inject({ method: 'GET', url: '/readyz' });
    assert.deepEqual([readyz.statusCode, readyz.json()], [503, { status: 'not-ready', reason: 'storage: bucket not found' }]);
  } finally {
    await ingest.close();
  }
});

test('a bucket that does not exist: a POST is 500 INTERNAL saying the bucket does not exist, a deployment problem, without naming it', async () => {
  const ingest = await s3Ingest({ bucket: 'no-such-bucket' });
  try {
    const images = [{ base64: photo.toString('base64') }, { uri: 's3://no-such-bucket/uploads/a.jpg' }];
    for (const [i, image] of images.entries()) {
      const response = await ingest.app.inject({ method: 'POST', url: '/v1/inferences', headers: auth, payload: { id: `nobucket-${i}`, model: { name: 'nsfw-mobilenet-v2' }, image } });
      assert.equal(response.statusCode, 500, response.body);
      const error = message(response);
      assert.equal(error.code, 'INTERNAL');
      assert.match(error.message, /^the storage bucket does not exist \(a deployment problem: check the store's bucket setting, and that the bucket was created\); the service's log has the details under request id [0-9a-f-]{36}$/);
      assert.doesNotMatch(error.message, /no-such-bucket|127\.0\.0\.1/);
    }
    assert.equal(ingest.internalErrors.length, 2, 'each goes to the log');
  } finally {
    await ingest.close();
  }
});

test('a status GET while storage is down is 503 STORAGE_UNAVAILABLE "retry later", not "the record was not accepted"', async () => {
  const ingest = await s3Ingest();
  try {
    const accepted = await ingest.app.inject({ method: 'POST', url: '/v1/inferences', headers: auth, payload: { id: 'outage-read', model: { name: 'nsfw-mobilenet-v2' }, image: { base64: photo.toString('base64') } } });
    assert.equal(accepted.statusCode, 202, accepted.body);
    // With its job gone, the status is read from storage: is the manifest there?
    await ingest.queue.remove('outage-read');
    await ingest.stopStorage();
    const status = await ingest.app.inject({ method: 'GET', url: '/v1/inferences/outage-read', headers: auth });
    assert.equal(status.statusCode, 503, status.body);
    assert.equal(message(status).code, 'STORAGE_UNAVAILABLE');
    assert.match(message(status).message, /^storage is unavailable; retry later \(request id [0-9a-f-]{36}\)$/);
    const post = await ingest.app.inject({ method: 'POST', url: '/v1/inferences', headers: auth, payload: { id: 'outage-write', model: { name: 'nsfw-mobilenet-v2' }, image: { base64: photo.toString('base64') } } });
    assert.equal(post.statusCode, 503, post.body);
    assert.match(message(post).message, /^storage is unavailable; the record was not accepted, retry later \(request id/);
  } finally {
    await ingest.close();
  }
});

test('a done status links the image sent by reference too, under its s3:// URI (an inline one is input.jpg)', async () => {
  const ingest = await s3Ingest();
  const { endpoint, region, accessKeyId, secretAccessKey } = s3;
  const client = new S3BlobStore({ endpoint, region, accessKeyId, secretAccessKey, bucket: 'captures-bucket', forcePathStyle: true });
  // A manifest from `gradcam explain` of this photo: what the worker would have stored.
  const manifest = readFileSync(new URL('../../review/src/fixtures/sheep-explanation.json', import.meta.url));
  try {
    await client.put('uploads/client photos/sheep.jpg', photo, { contentType: 'image/jpeg' });
    const uri = 's3://captures-bucket/uploads/client photos/sheep.jpg';
    const images: [string, object, string][] = [['ref-linked', { uri }, uri], ['inline-linked', { base64: photo.toString('base64') }, 'input.jpg']];
    for (const [id, image, name] of images) {
      const accepted = await ingest.app.inject({ method: 'POST', url: '/v1/inferences', headers: auth, payload: { id, model: { name: 'nsfw-mobilenet-v2' }, image } });
      assert.equal(accepted.statusCode, 202, accepted.body);
      const job = await ingest.queue.getJob(id);
      assert.ok(job);
      await client.put(`${job.data.folder}explanation.json`, manifest, { contentType: 'application/json' });
      // The job gone: the status comes from the stored manifest.
      await job.remove();
      const status = await ingest.app.inject({ method: 'GET', url: `/v1/inferences/${id}`, headers: auth });
      const body = status.json<{ status: string; urls: Record<string, string> }>();
      assert.equal(body.status, 'done', status.body);
      const link = body.urls[name];
      assert.ok(link, `${id}: urls has ${name}: ${Object.keys(body.urls).join(', ')}`);
      const fetched = await fetch(link);
      assert.equal(fetched.status, 200, `${id}: ${link}`);
      assert.deepEqual(Buffer.from(await fetched.arrayBuffer()), photo, `${id}: the link gives the image`);
      assert.equal(Object.keys(body.urls).filter((key) => key === uri || key.startsWith('input.')).length, 1, `${id}: one image link`);
    }
  } finally {
    await client.close();
    await ingest.close();
  }
});

test("a done status's links answer with what the pipeline knows each object is, not the type it was stored with (a client's upload said text/html)", async () => {
  const ingest = await s3Ingest();
  const { endpoint, region, accessKeyId, secretAccessKey } = s3;
  const client = new S3BlobStore({ endpoint, region, accessKeyId, secretAccessKey, bucket: 'captures-bucket', forcePathStyle: true });
  const manifest = readFileSync(new URL('../../review/src/fixtures/sheep-explanation.json', import.meta.url));
  const page = Buffer.from('<!doctype html><script>document.title = "ran on the S3 host"</script>');
  try {
    // The client uploaded a page under an images key, saying so; the worker explained a JPEG
    // there (the manifest's input.format), which may have been replaced by the page since.
    await client.put('uploads/typed/photo.jpg', page, { contentType: 'text/html' });
    const uri = 's3://captures-bucket/uploads/typed/photo.jpg';
    const accepted = await ingest.app.inject({ method: 'POST', url: '/v1/inferences', headers: auth, payload: { id: 'typed-links', model: { name: 'nsfw-mobilenet-v2' }, image: { uri } } });
    assert.equal(accepted.statusCode, 202, accepted.body);
    const job = await ingest.queue.getJob('typed-links');
    assert.ok(job);
    // Even the pipeline's own files stored under a wrong type are answered as what they are.
    await client.put(`${job.data.folder}explanation.json`, manifest, { contentType: 'text/html' });
    for (const name of ['gradcam-2.overlay.jpg', 'gradcam-2.npy']) await client.put(`${job.data.folder}${name}`, page, { contentType: 'text/html' });
    await job.remove();
    const status = await ingest.app.inject({ method: 'GET', url: '/v1/inferences/typed-links', headers: auth });
    const body = status.json<{ status: string; urls: Record<string, string> }>();
    assert.equal(body.status, 'done', status.body);
    await assertLinksServedAs(body.urls, {
      [uri]: ['image/jpeg', 'inline'],
      'explanation.json': ['application/json', 'inline'],
      'prediction.json': ['application/json', 'inline'],
      'gradcam-2.overlay.jpg': ['image/jpeg', 'inline'],
      'gradcam-2.npy': ['application/octet-stream', 'attachment'],
    });
  } finally {
    await client.close();
    await ingest.close();
  }
});
