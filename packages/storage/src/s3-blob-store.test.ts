import assert from 'node:assert/strict';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
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

blobStoreContract(
  'S3 (s3rver)',
  async () => {
    // s3rver 3.7.1 answers AbortMultipartUpload with 405: said, not thrown, and kept out of the output.
    const store = new S3BlobStore({ ...options(bucketName()), onWarning: () => {} });
    await store.ensureBucket();
    // Objects go with the server's temporary directory when the file's tests end.
    return { store, dispose: async () => {} };
  },
  { listsFoldersBeforeSiblings: true, acceptsAnySignature: true },
);

/** A plain HTTP server standing in for S3, to play a behaviour s3rver does not have. */
async function fakeS3(handle: (request: IncomingMessage, response: ServerResponse) => void): Promise<{ endpoint: string; close(): Promise<void> }> {
  const fake = createHttpServer(handle);
  await new Promise<void>((resolve) => fake.listen(0, '127.0.0.1', resolve));
  const address = fake.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    close: async () => {
      fake.closeAllConnections();
      await new Promise<void>((resolve) => fake.close(() => resolve()));
    },
  };
}

const s3Error = (name: string): string => `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${name}</Code><Message>${name}</Message></Error>`;

test("a multipart put that fails keeps its own error when the abort is refused, and says the parts were left", async () => {
  // UploadPart throttled (503 SlowDown) on credentials without s3:AbortMultipartUpload (403).
  let abortStatus = 403;
  const requests: string[] = [];
  const fake = await fakeS3((request, response) => {
    const query = new URL(request.url ?? '/', 'http://fake').searchParams;
    request.resume();
    request.on('end', () => {
      if (request.method === 'POST' && query.has('uploads')) {
        requests.push('create');
        response.writeHead(200, { 'content-type': 'application/xml' });
        response.end('<?xml version="1.0" encoding="UTF-8"?><InitiateMultipartUploadResult><Bucket>b</Bucket><Key>k</Key><UploadId>U1</UploadId></InitiateMultipartUploadResult>');
      } else if (request.method === 'PUT' && query.has('uploadId')) {
        requests.push(`part ${query.get('partNumber')}`);
        if (query.get('partNumber') === '1') response.writeHead(200, { etag: '"p1"' }).end();
        else response.writeHead(503, { 'content-type': 'application/xml' }).end(s3Error('SlowDown'));
      } else if (request.method === 'DELETE' && query.get('uploadId') === 'U1') {
        requests.push('abort');
        if (abortStatus === 204) response.writeHead(204).end();
        else response.writeHead(abortStatus, { 'content-type': 'application/xml' }).end(s3Error('AccessDenied'));
      } else {
        response.writeHead(400).end();
      }
    });
  });
  const warnings: string[] = [];
  const store = new S3BlobStore({ ...options('fake'), endpoint: fake.endpoint, maxAttempts: 1, onWarning: (message) => warnings.push(message) });
  try {
    const body = Buffer.alloc(9 * 1024 * 1024);
    await assert.rejects(store.put('m/v/dt=2026-01-02/id/input.jpg', body, { contentType: 'image/jpeg' }), (error: unknown) => {
      assert.ok(isStorageError(error, 'STORAGE_UNAVAILABLE'), String(error));
      assert.equal(error.transient, true, 'throttling is retried later, not taken for a deployment mistake');
      return true;
    });
    assert.equal(requests.filter((r) => r === 'abort').length, 1, `the store tries to abort: ${requests.join(', ')}`);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0] ?? '', /could not abort multipart upload U1 .*s3:AbortMultipartUpload/);

    abortStatus = 204;
    requests.length = 0;
    await assert.rejects(store.put('m/v/dt=2026-01-02/id/input.jpg', body, { contentType: 'image/jpeg' }), (error: unknown) => isStorageError(error, 'STORAGE_UNAVAILABLE'));
    assert.ok(requests.includes('abort'));
    assert.equal(warnings.length, 1, 'an abort that works is not worth a word');
  } finally {
    await store.close();
    await fake.close();
  }
});

test('a server that ignores "Expect: 100-continue" still gets bodies of 2 MiB and more', async () => {
  const seen: { expect: string | undefined; bytes: number }[] = [];
  const fake = await fakeS3((request, response) => {
    let bytes = 0;
    request.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
    });
    request.on('end', () => {
      seen.push({ expect: request.headers.expect, bytes });
      response.writeHead(200, { etag: '"x"' }).end();
    });
  });
  // Short timeouts as ingest's: a client waiting for a 100 that never comes would time out first.
  const store = new S3BlobStore({ ...options('fake'), endpoint: fake.endpoint, socketTimeoutMs: 1_000, connectionTimeoutMs: 1_000, maxAttempts: 2 });
  try {
    await store.put('a/input.jpg', Buffer.alloc(3 * 1024 * 1024), { contentType: 'image/jpeg' });
    assert.deepEqual(seen, [{ expect: undefined, bytes: 3 * 1024 * 1024 }]);
  } finally {
    await store.close();
    await fake.close();
  }
});

test('presigning longer than temporary credentials live warns once, and still signs', async () => {
  if (server === undefined) throw new Error('s3rver is not running');
  const { accessKeyId, secretAccessKey } = server;
  const expiration = new Date(Date.now() + 6 * 60 * 1000);
  const warnings: string[] = [];
  const store = new S3BlobStore({
    ...options(bucketName()),
    accessKeyId: undefined,
    secretAccessKey: undefined,
    // As an instance or IRSA role gives them: a session token, and an end.
    credentials: async () => ({ accessKeyId, secretAccessKey, sessionToken: 'session-token', expiration }),
    onWarning: (message) => warnings.push(message),
  });
  try {
    await store.presignGet('a/x.json', 300);
    assert.deepEqual(warnings, [], 'a URL that expires before its credentials is fine');
    const url = new URL(await store.presignGet('a/x.json', 3600));
    assert.equal(url.searchParams.get('X-Amz-Expires'), '3600', 'not shortened behind the caller\'s back');
    assert.equal(warnings.length, 1);
    assert.match(warnings[0] ?? '', new RegExp(`expire at ${expiration.toISOString()}.*long-lived access keys`));
    await store.presignGet('a/x.json', 7200);
    assert.equal(warnings.length, 1, 'said once');
  } finally {
    await store.close();
  }
  const longLived: string[] = [];
  const keyed = new S3BlobStore({ ...options(bucketName()), onWarning: (message) => longLived.push(message) });
  try {
    await keyed.presignGet('a/x.json', 7 * 24 * 3600);
    assert.deepEqual(longLived, [], 'keys without an expiration sign for as long as asked');
  } finally {
    await keyed.close();
  }
});

/**
 * The SigV4 signature a server reached as `host` computes for a presigned GET (query
 * authentication, host the only signed header): s3rver checks none, MinIO and AWS do.
 */
function presignedSignature(url: URL, host: string, secretAccessKey: string): string {
  const hmac = (key: Buffer | string, data: string) => createHmac('sha256', key).update(data).digest();
  const encode = (text: string) => encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  const query = [...url.searchParams.entries()]
    .filter(([name]) => name !== 'X-Amz-Signature')
    .map(([name, value]) => `${encode(name)}=${encode(value)}`)
    .sort()
    .join('&');
  const canonicalRequest = ['GET', url.pathname, query, `host:${host}`, '', url.searchParams.get('X-Amz-SignedHeaders'), 'UNSIGNED-PAYLOAD'].join('\n');
  const [, day = '', region = '', service = ''] = (url.searchParams.get('X-Amz-Credential') ?? '').split('/');
  const stringToSign = ['AWS4-HMAC-SHA256', url.searchParams.get('X-Amz-Date'), `${day}/${region}/${service}/aws4_request`, createHash('sha256').update(canonicalRequest).digest('hex')].join('\n');
  const signingKey = hmac(hmac(hmac(hmac(`AWS4${secretAccessKey}`, day), region), service), 'aws4_request');
  return createHmac('sha256', signingKey).update(stringToSign).digest('hex');
}

test('presigned URLs are signed for publicEndpoint, where clients reach the server, and fetch the object there; without it, for endpoint', async () => {
  if (server === undefined) throw new Error('s3rver is not running');
  // As in docker compose: the services reach MinIO as http://minio:9000, browsers as localhost.
  // s3rver does not check signatures; MinIO and AWS do, and the signature covers the host, which
  // is why the URL must be signed for the address the browser uses: checked here as its origin.
  const publicEndpoint = server.endpoint.replace('127.0.0.1', 'localhost');
  const store = new S3BlobStore({ ...options(bucketName()), publicEndpoint });
  try {
    await store.ensureBucket();
    await store.put('a/x.json', new TextEncoder().encode('{"ok":true}'), { contentType: 'application/json' });
    const url = new URL(await store.presignGet('a/x.json', 300));
    assert.equal(url.origin, new URL(publicEndpoint).origin);
    // Signed for that host, not for endpoint's and rewritten: what MinIO would compute for it.
    const { secretAccessKey } = server;
    assert.equal(url.searchParams.get('X-Amz-Signature'), presignedSignature(url, url.host, secretAccessKey));
    assert.notEqual(url.searchParams.get('X-Amz-Signature'), presignedSignature(url, new URL(server.endpoint).host, secretAccessKey));
    const answer = await fetch(url);
    assert.equal(answer.status, 200);
    assert.equal(await answer.text(), '{"ok":true}');
  } finally {
    await store.close();
  }
  const internal = new S3BlobStore(options(bucketName()));
  try {
    assert.equal(new URL(await internal.presignGet('a/x.json', 300)).origin, new URL(server.endpoint).origin, 'without it, signed for endpoint');
  } finally {
    await internal.close();
  }
});

test('with publicEndpoint, a role\'s session credentials are fetched once for both clients, and the expiry warning is about those the URL is signed with', async () => {
  if (server === undefined) throw new Error('s3rver is not running');
  const { accessKeyId, secretAccessKey } = server;
  // As a role gives them, renewed between fetches: the first session lives two hours, a later one
  // ten minutes (each names itself in X-Amz-Security-Token).
  const sessions: Date[] = [];
  const warnings: string[] = [];
  const store = new S3BlobStore({
    ...options(bucketName()),
    publicEndpoint: server.endpoint.replace('127.0.0.1', 'localhost'),
    accessKeyId: undefined,
    secretAccessKey: undefined,
    credentials: async () => {
      const expiration = new Date(Date.now() + (sessions.length === 0 ? 2 * 3600 : 10 * 60) * 1000);
      sessions.push(expiration);
      return { accessKeyId, secretAccessKey, sessionToken: `session-${sessions.length}`, expiration };
    },
    onWarning: (message) => warnings.push(message),
  });
  try {
    const url = new URL(await store.presignGet('a/x.json', 3600));
    assert.equal(sessions.length, 1, 'one fetch of the credentials, not one per client');
    const signedWith = sessions[Number(url.searchParams.get('X-Amz-Security-Token')?.replace('session-', '')) - 1];
    assert.ok(signedWith !== undefined);
    const outlives = signedWith.getTime() < Date.now() + 3600 * 1000;
    assert.equal(warnings.length, outlives ? 1 : 0, `the URL is signed with credentials that expire at ${signedWith.toISOString()}; warnings: ${JSON.stringify(warnings)}`);
  } finally {
    await store.close();
  }
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

test('credentials come in pairs, and keys or a provider, not both', () => {
  assert.throws(() => new S3BlobStore({ bucket: 'b', region: 'us-east-1', accessKeyId: 'only-the-id' }), RangeError);
  const credentials = async () => ({ accessKeyId: 'a', secretAccessKey: 'b' });
  assert.throws(() => new S3BlobStore({ bucket: 'b', region: 'us-east-1', accessKeyId: 'a', secretAccessKey: 'b', credentials }), RangeError);
});
