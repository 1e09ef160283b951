import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { freePort, startRedisServer, startS3PermissionProxy, startS3Server } from '@gradcam/dev-services';

// Ingest's composition root, run as in production: its start-up warning is wired there.
const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

test('on S3 credentials without s3:ListBucket ingest is ready, and says once at start what fails without it', { timeout: 60_000 }, async () => {
  const redis = await startRedisServer();
  const s3 = await startS3Server({ buckets: ['ingest-bucket'] });
  const proxy = await startS3PermissionProxy(s3.endpoint, ['s3:ListBucket']);
  const port = await freePort();
  const env = {
    ...process.env,
    REDIS_URL: redis.url,
    GRADCAM_HOST: '127.0.0.1',
    GRADCAM_INGEST_PORT: String(port),
    GRADCAM_API_TOKENS: 'ingest-main-test-token-0123456789',
    S3_BUCKET: 'ingest-bucket',
    S3_ENDPOINT: proxy.endpoint,
    S3_ACCESS_KEY_ID: s3.accessKeyId,
    S3_SECRET_ACCESS_KEY: s3.secretAccessKey,
    GRADCAM_STORAGE_PREFIX: 'captures',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    LOG_LEVEL: 'warn',
  };
  const child = spawn(process.execPath, ['--import', 'tsx', 'services/ingest/src/main.ts'], { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const answer = await fetch(`http://127.0.0.1:${port}/readyz`).then(async (r) => `${r.status} ${await r.text()}`, () => 'no answer');
      if (answer.startsWith('200')) break;
      assert.ok(Date.now() < deadline, `ingest never ready (last: ${answer})\n${output}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    while (!output.includes('s3:ListBucket')) {
      assert.ok(Date.now() < deadline, `no warning about s3:ListBucket\n${output}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.match(output, /storage answers 403, not 404, for an object that is not there \(S3 credentials without s3:ListBucket\): a record referencing a missing image is answered 500 INTERNAL instead of 422 IMAGE_NOT_FOUND/);
    assert.equal(output.split('s3:ListBucket): ').length, 2, 'said once');
  } finally {
    child.kill('SIGTERM');
    await exited;
    await proxy.stop();
    await s3.stop();
    await redis.stop();
  }
});
