import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { type AddressInfo, type Server, type Socket, createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { readExporterConfig } from '@gradcam/config';
import { s3Env, startS3PermissionProxy, startS3Server } from '@gradcam/dev-services';
import { type BlobStore, S3BlobStore, probeStore } from '@gradcam/storage';
import { createMetrics, createRegistry, pipelineMetrics } from '@gradcam/telemetry';
import { createApp } from './app.ts';
import { StorageHealth, type StorageHealthOptions, createProbedStore, storageProblemCodes } from './storage-health.ts';

const prefix = 'explanations';

/** The store main.ts makes from these variables (REDIS_URL is only parsed). */
function storeFor(env: Record<string, string>): BlobStore {
  const config = readExporterConfig({ REDIS_URL: 'redis://127.0.0.1:1', GRADCAM_STORAGE_PREFIX: prefix, ...env });
  return createProbedStore(config.storage, () => {});
}

interface Scraped {
  readonly up: number | undefined;
  /** The code at 1, undefined when none is. */
  readonly problem: string | undefined;
  /** Every code's series, to check they are all there. */
  readonly codes: readonly string[];
  readonly duration: number | undefined;
}

/**
 * The exporter's app with only the storage health as its collect, listening on a real port, scraped
 * over HTTP with `scrapeTimeoutMs` as Prometheus would (10 s, the compose stack's scrape_timeout):
 * a scrape held past it is aborted and fails the test.
 */
async function withExporter(options: Omit<StorageHealthOptions, 'metrics'>, run: (scrape: () => Promise<Scraped>, told: unknown[]) => Promise<void>, scrapeTimeoutMs = 10_000) {
  const registry = createRegistry();
  const metrics = createMetrics(registry, pipelineMetrics);
  const told: unknown[] = [];
  const health = new StorageHealth({ ...options, metrics, onChange: (error) => told.push(error) });
  const app = createApp({ registry, collect: () => health.refresh(), onCollectError: (error) => assert.fail(String(error)), scraping: () => () => {}, eventCounters: new Set() });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as AddressInfo;
  const value = (body: string, series: string) => {
    const line = body.split('\n').find((l) => l.startsWith(`${series} `));
    return line === undefined ? undefined : Number(line.slice(series.length + 1));
  };
  try {
    await run(async () => {
      const response = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(scrapeTimeoutMs) });
      assert.equal(response.status, 200);
      const body = await response.text();
      const codes = body
        .split('\n')
        .filter((l) => l.startsWith('gradcam_storage_problem{'))
        .map((l) => /code="([A-Z_]+)"/.exec(l)?.[1] ?? '');
      return {
        up: value(body, 'gradcam_storage_up'),
        problem: codes.find((code) => value(body, `gradcam_storage_problem{code="${code}"}`) === 1),
        codes,
        duration: value(body, 'gradcam_storage_probe_duration_seconds'),
      };
    }, told);
  } finally {
    await app.close();
  }
}

const codeOf = (error: unknown) => (error as { code?: string } | undefined)?.code;

test('S3 (a real s3rver): usable reads 1 with every code at 0; a missing bucket 0 with STORAGE_BUCKET_NOT_FOUND; created and probed by a service, 1 again', async () => {
  const s3 = await startS3Server();
  const bucket = `b-${randomUUID().slice(0, 8)}`;
  const store = storeFor(s3Env(s3, bucket));
  try {
    // everyMs 0: a probe at every scrape, so each scrape below reads the store as it is now.
    await withExporter({ store, prefix, everyMs: 0 }, async (scrape, told) => {
      const missing = await scrape();
      assert.equal(missing.up, 0);
      assert.equal(missing.problem, 'STORAGE_BUCKET_NOT_FOUND');
      assert.deepEqual([...missing.codes].sort(), [...storageProblemCodes].sort(), 'every code has its series');
      assert.deepEqual(told.map(codeOf), ['STORAGE_BUCKET_NOT_FOUND'], 'told once');
      await scrape();
      assert.equal(told.length, 1, 'not told again while it lasts');

      // The bucket made, as a service's start would find it: its probe written (probeStore, write).
      const admin = new S3BlobStore({ bucket, region: s3.region, endpoint: s3.endpoint, accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey, forcePathStyle: true, onWarning: () => {} });
      await admin.ensureBucket();
      const noProbe = await scrape();
      assert.equal(noProbe.up, 0, 'a bucket without the probe proves nothing about where the services store');
      assert.equal(noProbe.problem, 'STORAGE_NOT_FOUND');
      await probeStore(admin, prefix, { write: true });
      await admin.close();
      const usable = await scrape();
      assert.equal(usable.up, 1);
      assert.equal(usable.problem, undefined, 'every code at 0');
      assert.equal(usable.codes.length, storageProblemCodes.length);
      assert.ok(usable.duration !== undefined && usable.duration >= 0);
      assert.deepEqual(told.map(codeOf), ['STORAGE_BUCKET_NOT_FOUND', 'STORAGE_NOT_FOUND', undefined], 'told the change, and the recovery');
    });
  } finally {
    await store.close();
    await s3.stop();
  }
});

test('S3: credentials that may not read the probe (no s3:GetObject) read 0 with STORAGE_ACCESS_DENIED; the exporter never writes', async () => {
  const bucket = `b-${randomUUID().slice(0, 8)}`;
  const s3 = await startS3Server({ buckets: [bucket] });
  const admin = new S3BlobStore({ bucket, region: s3.region, endpoint: s3.endpoint, accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey, forcePathStyle: true, onWarning: () => {} });
  await probeStore(admin, prefix, { write: true });
  const proxy = await startS3PermissionProxy(s3.endpoint, ['s3:GetObject', 's3:PutObject', 's3:ListBucket']);
  const store = storeFor(s3Env(s3, bucket, proxy.endpoint));
  try {
    await withExporter({ store, prefix }, async (scrape) => {
      const denied = await scrape();
      assert.equal(denied.up, 0);
      assert.equal(denied.problem, 'STORAGE_ACCESS_DENIED');
    });
    // Read-only is enough: without s3:PutObject (and s3:ListBucket), with s3:GetObject, it is usable.
    const readOnly = await startS3PermissionProxy(s3.endpoint, ['s3:PutObject', 's3:ListBucket']);
    const readOnlyStore = storeFor(s3Env(s3, bucket, readOnly.endpoint));
    try {
      await withExporter({ store: readOnlyStore, prefix }, async (scrape) => {
        assert.equal((await scrape()).up, 1);
      });
    } finally {
      await readOnlyStore.close();
      await readOnly.stop();
    }
  } finally {
    await store.close();
    await admin.close();
    await proxy.stop();
    await s3.stop();
  }
});

test('a probe starts at most every 10 s: scrapes in between show the last result, not the store as it is now', async () => {
  const s3 = await startS3Server();
  const bucket = `b-${randomUUID().slice(0, 8)}`;
  const store = storeFor(s3Env(s3, bucket));
  const admin = new S3BlobStore({ bucket, region: s3.region, endpoint: s3.endpoint, accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey, forcePathStyle: true, onWarning: () => {} });
  try {
    await withExporter({ store, prefix }, async (scrape) => {
      assert.equal((await scrape()).problem, 'STORAGE_BUCKET_NOT_FOUND');
      await admin.ensureBucket();
      await probeStore(admin, prefix, { write: true });
      for (let i = 0; i < 5; i++) assert.equal((await scrape()).problem, 'STORAGE_BUCKET_NOT_FOUND', 'no new probe yet');
    });
  } finally {
    await admin.close();
    await store.close();
    await s3.stop();
  }
});

/** A TCP server that accepts connections and never answers: S3_ENDPOINT pointed at the wrong port, or a hung proxy. */
async function startSilentServer(): Promise<{ endpoint: string; connections: () => number; stop(): Promise<void> }> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  const server: Server = createNetServer((socket) => {
    accepted++;
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    connections: () => accepted,
    stop: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

test('S3: an endpoint that accepts connections and never answers reads 0 (STORAGE_UNAVAILABLE) within the scrape, which answers inside its 10 s timeout', async () => {
  const silent = await startSilentServer();
  const s3 = await startS3Server();
  const store = storeFor(s3Env(s3, 'gradcam', silent.endpoint));
  try {
    await withExporter({ store, prefix }, async (scrape, told) => {
      const first = await scrape();
      assert.equal(first.up, 0);
      assert.equal(first.problem, 'STORAGE_UNAVAILABLE');
      assert.deepEqual(told.map(codeOf), ['STORAGE_UNAVAILABLE']);
      assert.ok(silent.connections() > 0, 'the probe reached the endpoint');
    });
  } finally {
    await store.close();
    await silent.stop();
    await s3.stop();
  }
});

test("the deadline: a store that would wait out its own timeouts (the S3 defaults, 5 s of silence x 3) reads 0 at the probe's deadline, and the scrape answers", async () => {
  const silent = await startSilentServer();
  // Not createProbedStore: a store slower to give up than the deadline.
  const store = new S3BlobStore({ bucket: 'gradcam', region: 'us-east-1', endpoint: silent.endpoint, accessKeyId: 'k', secretAccessKey: 's', forcePathStyle: true, onWarning: () => {} });
  try {
    await withExporter({ store, prefix, deadlineMs: 500 }, async (scrape, told) => {
      const timedOut = await scrape();
      assert.equal(timedOut.up, 0);
      assert.equal(timedOut.problem, 'STORAGE_UNAVAILABLE');
      assert.equal(timedOut.duration, 0.5, 'the deadline, as the probe took at least that');
      assert.match(String(told[0]), /no answer to a HEAD of the readiness probe explanations\/gradcam~readiness-probe\.json within 500 ms/);
    });
  } finally {
    await store.close();
    await silent.stop();
  }
});

test('the local store: usable once a service has written its probe (1); its folder missing (not mounted here, say) reads 0 with STORAGE_NOT_FOUND; back, 1 again', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'gradcam-exporter-storage-'));
  const storageDir = join(dir, 'storage');
  const env = { GRADCAM_STORAGE_DIR: storageDir };
  const store = storeFor(env);
  const service = storeFor(env);
  try {
    await withExporter({ store, prefix, everyMs: 0 }, async (scrape, told) => {
      const missing = await scrape();
      assert.equal(missing.up, 0);
      assert.equal(missing.problem, 'STORAGE_NOT_FOUND');
      await probeStore(service, prefix, { write: true });
      const usable = await scrape();
      assert.equal(usable.up, 1);
      assert.equal(usable.problem, undefined);
      await rm(storageDir, { recursive: true });
      const gone = await scrape();
      assert.equal(gone.up, 0);
      assert.equal(gone.problem, 'STORAGE_NOT_FOUND');
      await probeStore(service, prefix, { write: true });
      assert.equal((await scrape()).up, 1);
      assert.deepEqual(told.map(codeOf), ['STORAGE_NOT_FOUND', undefined, 'STORAGE_NOT_FOUND', undefined]);
    });
  } finally {
    await store.close();
    await service.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('a probe still waiting for its answer is not started again: scrapes past its interval show the last result, one HEAD in flight at a time', async () => {
  const silent = await startSilentServer();
  // The S3 defaults: the first attempt waits 5 s of silence, far past the scrapes below.
  const store = new S3BlobStore({ bucket: 'gradcam', region: 'us-east-1', endpoint: silent.endpoint, accessKeyId: 'k', secretAccessKey: 's', forcePathStyle: true, onWarning: () => {} });
  try {
    await withExporter({ store, prefix, everyMs: 100, deadlineMs: 50 }, async (scrape) => {
      for (let i = 0; i < 6; i++) {
        const scraped = await scrape();
        assert.deepEqual([scraped.up, scraped.problem], [0, 'STORAGE_UNAVAILABLE']);
        await sleep(200);
      }
      assert.equal(silent.connections(), 1, 'one probe in flight, not one per interval');
    });
  } finally {
    await store.close();
    await silent.stop();
  }
});
