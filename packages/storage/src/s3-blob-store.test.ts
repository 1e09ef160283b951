import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type Socket } from 'node:net';
import { after, before, test } from 'node:test';
import { freePort, type S3Server, startS3Server } from '@gradcam/dev-services';
import { blobStoreContract } from './blob-store-contract.ts';
import { listAll } from './blob-store.ts';
import { S3BlobStore, type S3BlobStoreOptions } from './s3-blob-store.ts';
import { isStorageError } from './storage-error.ts';

let server: S3Server | undefined;
before(async () => {
  server = await startS3Server();
});
after(async () => {
  await server?.stop();
});

function options(bucket: string): S3BlobStoreOptions {
  if (server === undefined) throw new Error('s3rver is not running');
  const { endpoint, region, accessKeyId, secretAccessKey } = server;
  return { endpoint, region, accessKeyId, secretAccessKey, bucket, forcePathStyle: true };
}

/** Each test gets a bucket of its own. */
function bucketName(): string {
  return `test-${randomBytes(6).toString('hex')}`;
}

blobStoreContract('S3 (s3rver)', async () => {
  const store = new S3BlobStore(options(bucketName()));
  await store.ensureBucket();
  // Objects go with the server's temporary directory when the file's tests end.
  return { store, dispose: async () => {} };
});

test('a missing bucket is STORAGE_BUCKET_NOT_FOUND on every method, never "no such object"; ensureBucket creates it, idempotently', async () => {
  const store = new S3BlobStore(options(bucketName()));
  try {
    const bucketMissing = (error: unknown): boolean => {
      assert.ok(isStorageError(error, 'STORAGE_BUCKET_NOT_FOUND'), String(error));
      assert.equal(error.transient, false, 'a deployment mistake, not a blip');
      return true;
    };
    // HeadObject's 404 has no body to tell a missing bucket from a missing key: head must not
    // say "absent" (ingest's readiness and "already stored?" checks rely on it), however many ask at once.
    await Promise.all([store.head('x.json'), store.head('y.json')].map((head) => assert.rejects(head, bucketMissing)));
    await assert.rejects(store.exists('x.json'), bucketMissing);
    await assert.rejects(store.get('x.json'), bucketMissing);
    await assert.rejects(store.put('x.json', Buffer.from('{}'), { contentType: 'application/json' }), bucketMissing);
    await assert.rejects(store.delete('x.json'), bucketMissing);
    await assert.rejects(listAll(store, ''), bucketMissing);
    await store.ensureBucket();
    assert.equal(await store.head('x.json'), undefined, 'with the bucket there, a missing key is absent');
    assert.equal(await store.exists('x.json'), false);
    await assert.rejects(store.get('x.json'), (error: unknown) => isStorageError(error, 'STORAGE_NOT_FOUND'));
    await store.ensureBucket();
    await store.put('x.json', Buffer.from('{}'), { contentType: 'application/json' });
    assert.equal((await store.get('x.json')).toString(), '{}');
  } finally {
    await store.close();
  }
});

test('a dead endpoint is STORAGE_UNAVAILABLE, transient, after a bounded number of attempts', async () => {
  // freePort() closes its listener again: connections to the port are refused.
  const port = await freePort();
  const store = new S3BlobStore({ ...options('dead'), endpoint: `http://127.0.0.1:${port}` });
  try {
    const calls = [
      () => store.get('x.json'),
      () => store.put('x.json', Buffer.from('1'), { contentType: 'application/json' }),
      () => store.exists('x.json'),
      () => store.ensureBucket(),
    ];
    for (const call of calls) {
      await assert.rejects(call(), (error: unknown) => {
        assert.ok(isStorageError(error, 'STORAGE_UNAVAILABLE'), String(error));
        assert.equal(error.transient, true);
        const attempts = (error.cause as { $metadata?: { attempts?: number } } | undefined)?.$metadata?.attempts;
        assert.ok(attempts !== undefined && attempts <= 3, `SDK attempts: ${attempts}`);
        return true;
      });
    }
  } finally {
    await store.close();
  }
});

test('a server that accepts connections but never answers is STORAGE_UNAVAILABLE, transient', async () => {
  const sockets = new Set<Socket>();
  const silent = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
  });
  silent.on('error', () => {});
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  const address = silent.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  // Short timeouts keep the test quick; the defaults (5 s, 3 attempts) behave the same, slower.
  const store = new S3BlobStore({ ...options('silent'), endpoint: `http://127.0.0.1:${port}`, socketTimeoutMs: 200, maxAttempts: 2 });
  try {
    await assert.rejects(store.get('x.json'), (error: unknown) => {
      assert.ok(isStorageError(error, 'STORAGE_UNAVAILABLE'), String(error));
      assert.equal(error.transient, true);
      return true;
    });
  } finally {
    await store.close();
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => silent.close(() => resolve()));
  }
});

test('credentials come in pairs', () => {
  assert.throws(() => new S3BlobStore({ bucket: 'b', region: 'us-east-1', accessKeyId: 'only-the-id' }), RangeError);
});
