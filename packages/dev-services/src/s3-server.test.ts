import assert from 'node:assert/strict';
import { access, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { type S3Endpoint, startS3Server } from './s3-server.ts';

function clientFor(server: S3Endpoint): S3Client {
  return new S3Client({
    endpoint: server.endpoint,
    region: server.region,
    credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
    forcePathStyle: true,
    // As packages/storage does: without these, s3rver would store checksum chunk framing.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

test('serves PutObject and GetObject on a free port, each server with its own buckets', async () => {
  const [a, b] = await Promise.all([startS3Server({ buckets: ['alpha'] }), startS3Server({ buckets: ['beta'] })]);
  const clientA = clientFor(a);
  const clientB = clientFor(b);
  try {
    assert.notEqual(a.port, b.port);
    assert.equal(a.endpoint, `http://127.0.0.1:${a.port}`);
    const body = Buffer.from(JSON.stringify({ hello: 'world' }));
    await clientA.send(new PutObjectCommand({ Bucket: 'alpha', Key: 'x/y.json', Body: body, ContentType: 'application/json' }));
    const got = await clientA.send(new GetObjectCommand({ Bucket: 'alpha', Key: 'x/y.json' }));
    assert.equal(got.ContentType, 'application/json');
    assert.deepEqual(Buffer.from((await got.Body?.transformToByteArray()) ?? []), body);
    await assert.rejects(clientB.send(new GetObjectCommand({ Bucket: 'alpha', Key: 'x/y.json' })), { name: 'NoSuchBucket' });
    await assert.rejects(clientA.send(new GetObjectCommand({ Bucket: 'alpha', Key: 'missing.json' })), { name: 'NoSuchKey' });
  } finally {
    clientA.destroy();
    clientB.destroy();
    await Promise.all([a.stop(), b.stop()]);
  }
  await assert.rejects(fetch(a.endpoint), 'stopped means no longer listening');
});

test('a temporary directory is removed on stop; a given one is kept', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'gradcam-s3-given-'));
  try {
    const kept = await startS3Server({ dir, buckets: ['kept'] });
    const client = clientFor(kept);
    await client.send(new PutObjectCommand({ Bucket: 'kept', Key: 'a.txt', Body: 'a' }));
    client.destroy();
    await kept.stop();
    await kept.stop();
    assert.deepEqual(await readdir(dir), ['kept']);

    const temporary = await startS3Server();
    assert.notEqual(temporary.dir, dir);
    await access(temporary.dir);
    await temporary.stop();
    await assert.rejects(access(temporary.dir), { code: 'ENOENT' });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
