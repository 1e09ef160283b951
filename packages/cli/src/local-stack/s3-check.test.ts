import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { after, before, test } from 'node:test';
import { freePort, type S3Permission, type S3Server, startS3PermissionProxy, startS3Server } from '@gradcam/dev-services';
import { probeKey } from '@gradcam/storage';
import { LocalStackError } from './local-stack-error.ts';
import { type S3StorageConfig, checkS3Storage } from './s3-check.ts';

let s3: S3Server;
before(async () => {
  s3 = await startS3Server({ buckets: ['stack-bucket'] });
});
after(async () => {
  await s3.stop();
});

const storage = (overrides: Partial<S3StorageConfig> = {}): S3StorageConfig => ({
  kind: 's3',
  endpoint: s3.endpoint,
  region: s3.region,
  bucket: 'stack-bucket',
  accessKeyId: s3.accessKeyId,
  secretAccessKey: s3.secretAccessKey,
  forcePathStyle: true,
  prefix: 'team-a/captures',
  ...overrides,
});

/** The one line checkS3Storage refused with, and how long it took. */
async function refusal(config: S3StorageConfig, timeoutMs?: number): Promise<{ line: string; ms: number }> {
  const started = Date.now();
  try {
    await checkS3Storage(config, timeoutMs === undefined ? {} : { timeoutMs });
  } catch (error) {
    assert.ok(error instanceof LocalStackError, String(error));
    assert.equal(error.code, 'STORAGE_UNUSABLE');
    assert.doesNotMatch(error.message, /\n/, 'one line');
    return { line: error.message, ms: Date.now() - started };
  }
  assert.fail('the check passed');
}

async function withProxy(without: readonly S3Permission[], body: (endpoint: string) => Promise<void>): Promise<void> {
  const proxy = await startS3PermissionProxy(s3.endpoint, without);
  try {
    await body(proxy.endpoint);
  } finally {
    await proxy.stop();
  }
}

test('a usable bucket passes, and the probe the services will HEAD is written under the prefix', async () => {
  const warnings: string[] = [];
  await checkS3Storage(storage(), { onWarning: (line) => warnings.push(line) });
  assert.deepEqual(warnings, []);
  assert.equal((await fetch(`${s3.endpoint}/stack-bucket/${probeKey('team-a/captures')}`, { method: 'HEAD' })).status, 200);
});

test('S3_ENDPOINT that does not answer: one line naming S3_ENDPOINT, at once', async () => {
  const port = await freePort();
  const { line, ms } = await refusal(storage({ endpoint: `http://127.0.0.1:${port}` }));
  assert.match(line, new RegExp(`^S3_ENDPOINT: http://127\\.0\\.0\\.1:${port} does not answer \\(connect ECONNREFUSED[^)]*\\)+; start that server, or point S3_ENDPOINT at one$`));
  assert.ok(ms < 5_000, `${ms} ms`);
});

test('S3_ENDPOINT that accepts connections and never answers: one line within the timeout', async () => {
  const sockets: Socket[] = [];
  const silent = createServer((socket) => void sockets.push(socket)).listen(0, '127.0.0.1');
  await new Promise((resolve) => silent.once('listening', resolve));
  try {
    const { port } = silent.address() as { port: number };
    const { line, ms } = await refusal(storage({ endpoint: `http://127.0.0.1:${port}` }), 1_500);
    assert.equal(line, `S3_ENDPOINT: http://127.0.0.1:${port} did not answer within 1.5 s; check that it is up and reachable from here`);
    assert.ok(ms < 3_000, `${ms} ms`);
  } finally {
    for (const socket of sockets) socket.destroy();
    silent.close();
  }
});

test('S3_BUCKET that does not exist: one line saying npm start does not create it, with s3:ListBucket or without', async () => {
  const expected = (endpoint: string) => `S3_BUCKET: bucket "no-such-bucket" does not exist at ${endpoint}; create it first (npm start does not create buckets), or set S3_BUCKET to one that exists`;
  assert.equal((await refusal(storage({ bucket: 'no-such-bucket' }))).line, expected(s3.endpoint));
  await withProxy(['s3:ListBucket'], async (endpoint) => {
    assert.equal((await refusal(storage({ endpoint, bucket: 'no-such-bucket' }))).line, expected(endpoint));
  });
});

test('an access key the server does not know: one line naming S3_ACCESS_KEY_ID', async () => {
  const { line } = await refusal(storage({ accessKeyId: 'NOT-A-KEY' }));
  assert.equal(line, `S3_ACCESS_KEY_ID: ${s3.endpoint} does not know this access key (InvalidAccessKeyId); check S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY`);
});

test('credentials the bucket policy refuses: one line naming the keys and the policy, and the permissions needed', async () => {
  await withProxy(['s3:ListBucket', 's3:PutObject'], async (endpoint) => {
    // A prefix no check has written its probe under yet: read-only credentials pass once it is there.
    const { line } = await refusal(storage({ endpoint, prefix: 'read-only' }));
    assert.match(line, /^S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY or the bucket policy: http:\/\/127\.0\.0\.1:\d+ refused access to bucket "stack-bucket" \(Access Denied/);
    assert.match(line, /the services need s3:GetObject and s3:PutObject on s3:\/\/stack-bucket\/read-only\/\* \(and s3:ListBucket on the bucket\)$/);
  });
});

test('credentials without s3:ListBucket pass, with a warning naming what fails without it', async () => {
  await withProxy(['s3:ListBucket'], async (endpoint) => {
    const warnings: string[] = [];
    await checkS3Storage(storage({ endpoint }), { onWarning: (line) => warnings.push(line) });
    assert.equal(warnings.length, 1);
    assert.match(warnings[0] as string, /^S3_ACCESS_KEY_ID: these credentials may not s3:ListBucket on bucket "stack-bucket", so .* answers 403, not 404, for an object that is not there: .*; grant s3:ListBucket$/);
  });
});
