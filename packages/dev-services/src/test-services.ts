import type * as TestcontainersModule from 'testcontainers';
import { startRedisServer } from './redis-server.ts';
import { type S3Endpoint, startS3Server } from './s3-server.ts';

/** How a test service runs: a container (testcontainers) or a process on this machine. */
export type TestServiceKind = 'container' | 'process';

export interface TestServiceOptions {
  /**
   * 'auto' (default): a container when a container runtime answers, else a local process.
   * 'process' skips the runtime check (and loading testcontainers); 'container' insists.
   */
  readonly runtime?: 'auto' | TestServiceKind;
}

export interface TestRedis {
  readonly url: string;
  readonly kind: TestServiceKind;
  /** Safe to call twice. */
  stop(): Promise<void>;
}

export interface TestS3Options extends TestServiceOptions {
  /** Buckets to create before returning. */
  readonly buckets?: readonly string[];
}

export interface TestS3 extends S3Endpoint {
  readonly kind: TestServiceKind;
  /** Safe to call twice. */
  stop(): Promise<void>;
}

type Testcontainers = typeof TestcontainersModule;

let runtimeCheck: Promise<Testcontainers | undefined> | undefined;

/**
 * testcontainers, when a container runtime is usable. Imported on first use only (it takes
 * most of a second to load), and the answer is kept for the life of the process.
 * getContainerRuntimeClient() rejects within milliseconds, silently, when there is none.
 */
function containerRuntime(): Promise<Testcontainers | undefined> {
  runtimeCheck ??= (async () => {
    const testcontainers = await import('testcontainers');
    try {
      await testcontainers.getContainerRuntimeClient();
      return testcontainers;
    } catch {
      return undefined;
    }
  })();
  return runtimeCheck;
}

async function pickRuntime(options: TestServiceOptions, service: string): Promise<Testcontainers | undefined> {
  const runtime = options.runtime ?? 'auto';
  if (runtime === 'process') return undefined;
  const testcontainers = await containerRuntime();
  if (testcontainers === undefined && runtime === 'container') {
    throw new Error(`${service}: runtime 'container' was asked for but no container runtime (Docker, Podman, …) answers`);
  }
  return testcontainers;
}

function once(stop: () => Promise<void>): () => Promise<void> {
  let stopped: Promise<void> | undefined;
  return () => (stopped ??= stop());
}

/** A private Redis for one test file: redis:7.4.6 (the compose file's) in a container, or `startRedisServer()`. */
export async function startTestRedis(options: TestServiceOptions = {}): Promise<TestRedis> {
  const testcontainers = await pickRuntime(options, 'startTestRedis');
  if (testcontainers === undefined) {
    const server = await startRedisServer();
    return { url: server.url, kind: 'process', stop: once(() => server.stop()) };
  }
  const { GenericContainer, Wait } = testcontainers;
  const container = await new GenericContainer('redis:7.4.6')
    // Same settings as startRedisServer: nothing on disk, never evict (BullMQ needs every key).
    .withCommand(['redis-server', '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction'])
    .withExposedPorts(6379)
    .withWaitStrategy(Wait.forLogMessage('Ready to accept connections'))
    .start();
  return {
    url: `redis://${container.getHost()}:${container.getMappedPort(6379)}`,
    kind: 'container',
    stop: once(async () => {
      await container.stop();
    }),
  };
}

/**
 * A private S3-compatible server for one test file: MinIO in a container, or s3rver in this
 * process (`startS3Server()`). Clients must use path-style URLs (`forcePathStyle: true`).
 */
export async function startTestS3(options: TestS3Options = {}): Promise<TestS3> {
  const buckets = options.buckets ?? [];
  const testcontainers = await pickRuntime(options, 'startTestS3');
  if (testcontainers === undefined) {
    const server = await startS3Server({ buckets });
    const { endpoint, region, accessKeyId, secretAccessKey } = server;
    return { endpoint, region, accessKeyId, secretAccessKey, kind: 'process', stop: once(() => server.stop()) };
  }
  const { GenericContainer, Wait } = testcontainers;
  const accessKeyId = 'gradcam-test';
  const secretAccessKey = 'gradcam-test-secret';
  const container = await new GenericContainer('minio/minio')
    .withCommand(['server', '/data'])
    .withEnvironment({ MINIO_ROOT_USER: accessKeyId, MINIO_ROOT_PASSWORD: secretAccessKey })
    .withExposedPorts(9000)
    .withWaitStrategy(Wait.forHttp('/minio/health/live', 9000))
    .start();
  const s3: TestS3 = {
    endpoint: `http://${container.getHost()}:${container.getMappedPort(9000)}`,
    region: 'us-east-1',
    accessKeyId,
    secretAccessKey,
    kind: 'container',
    stop: once(async () => {
      await container.stop();
    }),
  };
  try {
    await createBuckets(s3, buckets);
  } catch (error) {
    await s3.stop();
    throw error;
  }
  return s3;
}

/** MinIO has no "buckets at start" setting, so they are made through the S3 API. */
async function createBuckets(s3: S3Endpoint, buckets: readonly string[]): Promise<void> {
  if (buckets.length === 0) return;
  const { CreateBucketCommand, S3Client } = await import('@aws-sdk/client-s3');
  const client = new S3Client({
    endpoint: s3.endpoint,
    region: s3.region,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    forcePathStyle: true,
  });
  try {
    for (const bucket of buckets) await client.send(new CreateBucketCommand({ Bucket: bucket }));
  } finally {
    client.destroy();
  }
}
