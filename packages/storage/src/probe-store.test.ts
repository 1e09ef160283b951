import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type S3Permission, type S3Server, startS3PermissionProxy, startS3Server } from '@gradcam/dev-services';
import { listAll } from './blob-store.ts';
import { FsBlobStore } from './fs-blob-store.ts';
import { missingKeysAnswered, missingKeysRefused, probeFileName, probeKey, probeStore, readinessProbe } from './probe-store.ts';
import { S3BlobStore } from './s3-blob-store.ts';
import { s3FailureKind } from './s3-error-mapping.ts';
import { isStorageError, type StorageErrorCode } from './storage-error.ts';

let server: S3Server | undefined;
before(async () => {
  server = await startS3Server();
});
after(async () => {
  await server?.stop();
});

const s3 = () => {
  if (server === undefined) throw new Error('s3rver is not running');
  return server;
};

/** A store on a bucket of its own (created unless `create` is false), through `endpoint` when given. */
async function s3Store(options: { create?: boolean; endpoint?: string; bucket?: string; accessKeyId?: string } = {}): Promise<S3BlobStore> {
  const { region, accessKeyId, secretAccessKey } = s3();
  const bucket = options.bucket ?? `probe-${randomBytes(6).toString('hex')}`;
  if (options.create !== false) {
    const creator = new S3BlobStore({ endpoint: s3().endpoint, region, accessKeyId, secretAccessKey, bucket, forcePathStyle: true });
    await creator.ensureBucket();
    await creator.close();
  }
  return new S3BlobStore({ endpoint: options.endpoint ?? s3().endpoint, region, accessKeyId: options.accessKeyId ?? accessKeyId, secretAccessKey, bucket, forcePathStyle: true, maxAttempts: 1 });
}

/** A store whose credentials lack `without` (AWS's answers, played by a proxy in front of s3rver). */
async function restrictedStore(without: readonly S3Permission[], bucket?: string): Promise<{ store: S3BlobStore; full: S3BlobStore; stop(): Promise<void> }> {
  const full = await s3Store(bucket === undefined ? {} : { bucket });
  const proxy = await startS3PermissionProxy(s3().endpoint, without);
  const store = await s3Store({ create: false, endpoint: proxy.endpoint, bucket: full.bucket });
  return {
    store,
    full,
    stop: async () => {
      await store.close();
      await full.close();
      await proxy.stop();
    },
  };
}

const failsWith = (code: StorageErrorCode, pattern?: RegExp) => (error: unknown) => {
  assert.ok(isStorageError(error, code), `expected ${code}, got ${String(error)}`);
  if (pattern) assert.match(error.message, pattern);
  return true;
};

test('probeKey: the probe sits under the prefix, slashes trimmed', () => {
  assert.equal(probeKey(), probeFileName);
  assert.equal(probeKey(''), probeFileName);
  assert.equal(probeKey('captures/eu'), `captures/eu/${probeFileName}`);
  assert.equal(probeKey('/captures/'), `captures/${probeFileName}`);
});

test('probeStore on S3: writes the probe under the prefix once, then only reads it', async () => {
  const store = await s3Store();
  try {
    await probeStore(store, 'team-a/captures');
    assert.deepEqual(await listAll(store, ''), [`team-a/captures/${probeFileName}`], 'one small object, under the prefix, not at the bucket root');
    const { bytes } = (await store.head(probeKey('team-a/captures'))) ?? { bytes: 0 };
    assert.ok(bytes > 0 && bytes < 512);
    await probeStore(store, 'team-a/captures');
    await probeStore(store);
    assert.deepEqual((await listAll(store, '')).sort(), [probeFileName, `team-a/captures/${probeFileName}`]);
  } finally {
    await store.close();
  }
});

test('probeStore without s3:ListBucket: ready (a HEAD of a key that never exists answers 403 there, for ever)', async () => {
  const { store, full, stop } = await restrictedStore(['s3:ListBucket']);
  try {
    // What /readyz did: HEAD a key that is never written. AWS answers 403 without ListBucket.
    await assert.rejects(store.exists('readyz-probe'), failsWith('STORAGE_ACCESS_DENIED', /^S3 HeadObject readyz-probe failed: 403 access denied \(STORAGE_ACCESS_DENIED; a HEAD answer has no error body/));
    await probeStore(store, 'captures');
    assert.ok(await full.exists(probeKey('captures')), 'the probe was written');
    await probeStore(store, 'captures');
    assert.equal(await missingKeysAnswered(store, 'captures'), false, 'a missing key is a 403 here');
    assert.equal(await missingKeysAnswered(full, 'captures'), true);
    assert.equal(await missingKeysRefused(store, 'captures'), true, 'usable, and refusing to say what is missing');
    assert.equal(await missingKeysRefused(full, 'captures'), false);
  } finally {
    await stop();
  }
});

test('probeStore: a missing bucket is STORAGE_BUCKET_NOT_FOUND, with s3:ListBucket or without', async () => {
  const bucket = `missing-${randomBytes(6).toString('hex')}`;
  const store = await s3Store({ create: false, bucket });
  const proxy = await startS3PermissionProxy(s3().endpoint, ['s3:ListBucket']);
  const unlisted = await s3Store({ create: false, endpoint: proxy.endpoint, bucket });
  try {
    await assert.rejects(store.head('k'), failsWith('STORAGE_BUCKET_NOT_FOUND', /failed: 404 not found \(STORAGE_BUCKET_NOT_FOUND\): the bucket does not exist$/));
    await assert.rejects(probeStore(store, 'p'), failsWith('STORAGE_BUCKET_NOT_FOUND'));
    await assert.rejects(probeStore(unlisted, 'p'), failsWith('STORAGE_BUCKET_NOT_FOUND'));
    assert.equal(await missingKeysRefused(unlisted, 'p'), false, 'not usable at all: /readyz says so, not this');
  } finally {
    await store.close();
    await unlisted.close();
    await proxy.stop();
  }
});

test('probeStore: credentials that may not write, or may write but not read, are STORAGE_ACCESS_DENIED', async () => {
  const readOnly = await restrictedStore(['s3:ListBucket', 's3:PutObject']);
  try {
    await assert.rejects(probeStore(readOnly.store, 'p'), failsWith('STORAGE_ACCESS_DENIED', /PutObject/));
  } finally {
    await readOnly.stop();
  }
  const writeOnly = await restrictedStore(['s3:GetObject']);
  try {
    await assert.rejects(probeStore(writeOnly.store, 'p'), failsWith('STORAGE_ACCESS_DENIED', /s3:GetObject as well as s3:PutObject/));
  } finally {
    await writeOnly.stop();
  }
  // Once the probe is there, a read-only role is ready: what it can do, it can.
  const written = await restrictedStore(['s3:ListBucket', 's3:PutObject']);
  try {
    await probeStore(written.full, 'p');
    await probeStore(written.store, 'p');
  } finally {
    await written.stop();
  }
});

test('probeStore: an access key the server does not know is STORAGE_ACCESS_DENIED; a dead endpoint STORAGE_UNAVAILABLE', async () => {
  const badKey = await s3Store({ accessKeyId: 'NOT-A-KEY' });
  try {
    await assert.rejects(probeStore(badKey, 'p'), failsWith('STORAGE_ACCESS_DENIED', /InvalidAccessKeyId/));
  } finally {
    await badKey.close();
  }
  const proxy = await startS3PermissionProxy(s3().endpoint, []);
  const dead = await s3Store({ endpoint: proxy.endpoint });
  await proxy.stop();
  try {
    await assert.rejects(probeStore(dead, 'p'), failsWith('STORAGE_UNAVAILABLE'));
  } finally {
    await dead.close();
  }
});

/** A web server that is not S3 in front of an S3 store: `status` to every request, `page` (HTML) to all but a HEAD. */
async function webServerStore(status: number, page = '<html>hello</html>'): Promise<{ store: S3BlobStore; stop(): Promise<void> }> {
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    request.resume();
    response.writeHead(status, { 'content-type': 'text/html' }).end(request.method === 'HEAD' ? undefined : page);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const store = await s3Store({ create: false, endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
  return {
    store,
    stop: async () => {
      await store.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

test('probeStore readBack: a web server answering 200 to everything is not an object store (without readBack it passes)', async () => {
  const { store, stop } = await webServerStore(200);
  try {
    await probeStore(store, 'p');
    await assert.rejects(probeStore(store, 'p', { readBack: true }), (error: unknown) => {
      assert.ok(isStorageError(error, 'STORAGE_UNAVAILABLE'), String(error));
      assert.match(error.message, /^the readiness probe p\/gradcam~readiness-probe\.json \(\d+ bytes\) read back as 18 bytes \("<html>hello<\/html>"\): not an object store$/);
      assert.equal(s3FailureKind(error), 'not-s3');
      return true;
    });
  } finally {
    await stop();
  }
});

test('probeStore readBack: a web server answering 404 to everything is not an object store, not a missing bucket', async () => {
  const { store, stop } = await webServerStore(404);
  try {
    await assert.rejects(probeStore(store, 'p'), failsWith('STORAGE_BUCKET_NOT_FOUND'));
    await assert.rejects(probeStore(store, 'p', { readBack: true }), (error: unknown) => {
      assert.ok(isStorageError(error, 'STORAGE_UNAVAILABLE'), String(error));
      assert.match(error.message, /but a GET of p\/gradcam~readiness-probe\.json answers 404 without saying NoSuchBucket: not an object store$/);
      assert.equal(s3FailureKind(error), 'not-s3');
      return true;
    });
  } finally {
    await stop();
  }
});

test('probeStore readBack: a proxy or web server refusing every request (401 or 403, a page or nothing) is not an object store; S3\'s own refusals stay access denied', async () => {
  const cases: [number, string][] = [
    [403, '<html><body><h1>403 Forbidden</h1>by the proxy</body></html>'],
    [403, ''],
    [401, '<html>401 Authorization Required</html>'],
    [404, '<html>hello</html>'],
  ];
  for (const [status, page] of cases) {
    const { store, stop } = await webServerStore(status, page);
    try {
      for (const write of [false, true]) {
        await assert.rejects(probeStore(store, 'p', { readBack: true, write }), (error: unknown) => {
          const label = `${status} ${JSON.stringify(page)}, write ${write}: ${String(error)}`;
          assert.ok(isStorageError(error, 'STORAGE_UNAVAILABLE'), label);
          assert.match(error.message, new RegExp(`answer(s|ed) ${status} without (an S3 error code|saying NoSuchBucket)`), label);
          assert.equal(s3FailureKind(error), 'not-s3', label);
          return true;
        });
      }
    } finally {
      await stop();
    }
  }
  // An S3 API's refusals name themselves (AccessDenied, InvalidAccessKeyId): the credentials.
  const readOnly = await restrictedStore(['s3:ListBucket', 's3:PutObject']);
  const badKey = await s3Store({ accessKeyId: 'NOT-A-KEY' });
  try {
    for (const write of [false, true]) {
      await assert.rejects(probeStore(readOnly.store, 'p', { readBack: true, write }), failsWith('STORAGE_ACCESS_DENIED', /Access Denied/));
      await assert.rejects(probeStore(badKey, 'p', { readBack: true, write }), failsWith('STORAGE_ACCESS_DENIED', /InvalidAccessKeyId/));
    }
  } finally {
    await readOnly.stop();
    await badKey.close();
  }
});

test('probeStore readBack on S3: passes, with s3:ListBucket or without; rewrites a probe that is not its own; a missing bucket stays BUCKET_NOT_FOUND', async () => {
  const store = await s3Store();
  try {
    await probeStore(store, 'p', { readBack: true });
    await probeStore(store, 'p', { readBack: true });
    // Another version's probe (other bytes) under the same key: written again, then read back.
    await store.put(probeKey('q'), Buffer.from('{"purpose":"an older probe"}\n'), { contentType: 'application/json' });
    await probeStore(store, 'q', { readBack: true });
    assert.deepEqual(await store.get(probeKey('q')), await store.get(probeKey('p')));
  } finally {
    await store.close();
  }
  const unlisted = await restrictedStore(['s3:ListBucket']);
  try {
    await probeStore(unlisted.store, 'p', { readBack: true });
    await probeStore(unlisted.store, 'p', { readBack: true });
  } finally {
    await unlisted.stop();
  }
  const bucket = `missing-${randomBytes(6).toString('hex')}`;
  const missing = await s3Store({ create: false, bucket });
  const proxy = await startS3PermissionProxy(s3().endpoint, ['s3:ListBucket']);
  const missingUnlisted = await s3Store({ create: false, endpoint: proxy.endpoint, bucket });
  try {
    await assert.rejects(probeStore(missing, 'p', { readBack: true }), failsWith('STORAGE_BUCKET_NOT_FOUND'));
    await assert.rejects(probeStore(missingUnlisted, 'p', { readBack: true }), failsWith('STORAGE_BUCKET_NOT_FOUND'));
  } finally {
    await missing.close();
    await missingUnlisted.close();
    await proxy.stop();
  }
});

test('probeStore on the filesystem store: one file under the prefix', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'gradcam-probe-'));
  const store = new FsBlobStore({ rootDir: dir, publicBaseUrl: 'http://127.0.0.1:1', signingSecret: 'test-signing-secret-0123456789', fsync: false });
  try {
    await probeStore(store, 'captures');
    await probeStore(store, 'captures');
    await probeStore(store, 'captures', { readBack: true });
    assert.deepEqual(await readdir(join(dir, 'captures')), [probeFileName]);
  } finally {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('readinessProbe: fails where writes fail though an earlier probe is there (HEAD alone passed), and writes at most once a window', async () => {
  const readOnly = await restrictedStore(['s3:PutObject']);
  try {
    await probeStore(readOnly.full, 'p'); // an earlier run's probe
    await probeStore(readOnly.store, 'p'); // what /readyz did: ready
    const ready = readinessProbe(readOnly.store, 'p');
    await assert.rejects(ready(), failsWith('STORAGE_ACCESS_DENIED'));
    await assert.rejects(ready(), failsWith('STORAGE_ACCESS_DENIED'), 'within the retry window: the same failure, no new write');
  } finally {
    await readOnly.stop();
  }

  const store = await s3Store();
  try {
    let puts = 0;
    const counted = new Proxy(store, {
      get(target, property) {
        if (property === 'put') return (...args: Parameters<S3BlobStore['put']>) => ((puts += 1), target.put(...args));
        const value = Reflect.get(target, property) as unknown;
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
    const ready = readinessProbe(counted, 'p', { writeEveryMs: 300 });
    for (let i = 0; i < 10; i++) await ready();
    assert.equal(puts, 1, 'ten probes in a window: one write');
    await new Promise((resolve) => setTimeout(resolve, 350));
    await ready();
    assert.equal(puts, 2, 'the next window writes again');
  } finally {
    await store.close();
  }
});
