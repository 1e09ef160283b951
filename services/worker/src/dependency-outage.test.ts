import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { type ExplainJob, keyIn, manifestFileName } from '@gradcam/contracts';
import { type OutageProxy, type RedisServer, type S3Server, processRunning, startOutageProxy, startRedisServer, startS3Server } from '@gradcam/dev-services';
import { type ExplainQueue, closeConnections, createExplainQueue, createProducerConnection, enqueueExplainJobs, parseFailedReason } from '@gradcam/queue';
import { S3BlobStore } from '@gradcam/storage';
import type { Redis } from 'ioredis';
import { type LogLine, type RunningMain, startWorkerMain } from './test-support/worker-main.ts';

// The worker (main.ts: a supervisor and one engine process) against a real Redis and a real
// S3-compatible server, each reached through a proxy that a test cuts and restores: an outage of
// storage or Redis longer than the old retry window (5 attempts over ~15 s) fails no job.
const fixtures = fileURLToPath(new URL('../../../test/fixtures/images/', import.meta.url));
const photos = ['house-cat-locomotion.jpg', 'sheep-pastoral.jpg', 'people-group.jpg'];
const bucket = 'outage';
const model = 'nsfw-mobilenet-v2';

let redis: RedisServer;
let s3: S3Server;
let store: S3BlobStore;
let producer: Redis;
const pids = new Set<number>();
const proxies: OutageProxy[] = [];

before(async () => {
  [redis, s3] = await Promise.all([startRedisServer(), startS3Server({ buckets: [bucket] })]);
  store = new S3BlobStore({ bucket, region: s3.region, endpoint: s3.endpoint, accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey, forcePathStyle: true });
  for (const photo of photos) await store.put(`inputs/${photo}`, await readFile(`${fixtures}${photo}`), { contentType: 'image/jpeg' });
  await store.put('inputs/not-an-image.jpg', Buffer.from('not a jpeg at all'), { contentType: 'image/jpeg' });
  producer = createProducerConnection(redis.url, { onError: () => {} });
});

after(async () => {
  for (const pid of pids) if (processRunning(pid)) process.kill(pid, 'SIGKILL');
  await Promise.all(proxies.map((proxy) => proxy.close()));
  await closeConnections(producer);
  await store?.close();
  await Promise.all([redis?.stop(), s3?.stop()]);
});

async function eventually<T>(what: string, check: () => Promise<T | undefined>, timeoutMs: number, everyMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = await check();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

interface Worker {
  readonly main: RunningMain;
  readonly queue: ExplainQueue;
  readonly prefix: string;
  /** The model version the worker serves, from its log. */
  readonly version: string;
  readonly readyz: () => Promise<{ status: number; reason?: string }>;
  /** The replica's /metrics: gradcam_worker_storage_problem of its engine process, by code, set to 1. */
  readonly storageProblems: () => Promise<string[]>;
  /** This worker's log lines that match, from its engine process. */
  readonly logged: (match: RegExp) => LogLine[];
}

async function startWorker(name: string, endpoints: { redisPort: number; s3Port: number }, env: Record<string, string> = {}): Promise<Worker> {
  const prefix = `outage-${name}-${process.pid}`;
  const main = startWorkerMain(
    {
      ...process.env,
      REDIS_URL: `redis://127.0.0.1:${endpoints.redisPort}`,
      S3_BUCKET: bucket,
      S3_ENDPOINT: `http://127.0.0.1:${endpoints.s3Port}`,
      S3_REGION: s3.region,
      S3_ACCESS_KEY_ID: s3.accessKeyId,
      S3_SECRET_ACCESS_KEY: s3.secretAccessKey,
      GRADCAM_QUEUE_PREFIX: prefix,
      GRADCAM_WORKER_PROCESSES: '1',
      GRADCAM_WORKER_METRICS_PORT: '0',
      GRADCAM_HOST: '127.0.0.1',
      GRADCAM_BACKEND: 'wasm',
      GRADCAM_RENDER_THREADS: '0',
      GRADCAM_BATCH_SIZE: '4',
      LOG_LEVEL: 'info',
      ...env,
    },
    (pid) => pids.add(pid),
  );
  const listening = await main.line((l) => l.name === 'worker-supervisor' && l.msg.startsWith('status server'));
  const base = `http://127.0.0.1:${/:(\d+)$/.exec(listening.msg)?.[1]}`;
  const serving = await main.line((l) => l.msg.startsWith(`serving ${model}@`));
  const version = /@(\S+)/.exec(serving.msg)?.[1] as string;
  const queue = createExplainQueue({ connection: producer, prefix, onError: () => {} });
  return {
    main,
    queue,
    prefix,
    version,
    readyz: async () => {
      const response = await fetch(`${base}/readyz`);
      const body = (await response.json()) as { reason?: string };
      return { status: response.status, ...(body.reason === undefined ? {} : { reason: body.reason }) };
    },
    storageProblems: async () => {
      const text = await (await fetch(`${base}/metrics`)).text();
      return [...text.matchAll(/^gradcam_worker_storage_problem\{code="(\w+)",worker="0"\} 1$/gm)].map((m) => m[1] as string);
    },
    logged: (match) => main.lines.filter((l) => l.name === 'worker-0' && match.test(l.msg)),
  };
}

async function stopWorker(worker: Worker): Promise<void> {
  await worker.queue.close();
  worker.main.child.kill('SIGKILL');
}

function jobFor(worker: Worker, id: string, image: string, explain: ExplainJob['explain'] = {}): ExplainJob {
  return {
    inferenceId: id,
    model: { name: model, version: worker.version },
    folder: `out/${worker.prefix}/${id}/`,
    image: { key: `inputs/${image}` },
    explain,
    acceptedAt: Date.now(),
    capture: { explain: true, reason: 'all', policy: 'all' },
  };
}

/** Past the engine's announcement (the supervisor's first answer is "0 of 1 engine processes ready"), what /readyz says. */
async function settledReadyz(worker: Worker): Promise<{ status: number; reason?: string }> {
  await worker.main.line((l) => l.msg.startsWith('worker 0 ready'));
  return eventually('/readyz past the start', async () => {
    const answer = await worker.readyz();
    return answer.reason === '0 of 1 engine processes ready' ? undefined : answer;
  }, 30_000, 50);
}

interface Settled {
  readonly state: string;
  readonly attemptsMade: number;
  readonly code?: string;
}

async function settledJobs(queue: ExplainQueue, ids: readonly string[], timeoutMs: number): Promise<Map<string, Settled>> {
  return eventually(`${ids.length} jobs to complete or fail`, async () => {
    const settled = new Map<string, Settled>();
    for (const id of ids) {
      const job = await queue.getJob(id);
      const state = await job?.getState();
      if (job === undefined || (state !== 'completed' && state !== 'failed')) return undefined;
      settled.set(id, { state, attemptsMade: job.attemptsMade, ...(state === 'failed' && { code: parseFailedReason(job.failedReason).code }) });
    }
    return settled;
  }, timeoutMs, 500);
}

test('storage out when the worker starts: /readyz answers 503 naming storage and no job is taken; once storage answers, ready and the job is explained', { timeout: 240_000 }, async () => {
  const s3Proxy = await startOutageProxy(s3.port);
  proxies.push(s3Proxy);
  s3Proxy.cut();
  const worker = await startWorker('start', { redisPort: redis.port, s3Port: s3Proxy.port });
  try {
    assert.deepEqual(await settledReadyz(worker), { status: 503, reason: 'storage: unavailable' });
    await enqueueExplainJobs(worker.queue, [jobFor(worker, 'start-1', photos[0] as string)]);
    await sleep(3_000);
    const waiting = await worker.queue.getJob('start-1');
    assert.equal(await waiting?.getState(), 'waiting', 'not taken while storage is out');
    assert.equal(waiting?.attemptsMade, 0);
    const out = worker.logged(/^storage cannot be used \(STORAGE_UNAVAILABLE: /);
    assert.equal(out.length, 1, 'said once');
    assert.equal(out[0]?.level, 50);
    // What alerts see (GradcamWorkersCannotStore), also where the exporter's own probe finds the store fine.
    assert.deepEqual(await worker.storageProblems(), ['STORAGE_UNAVAILABLE']);

    s3Proxy.restore();
    await worker.main.line((l) => /^storage answers again after \d+ s out: taking jobs again$/.test(l.msg), 30_000);
    await eventually('/readyz 200', async () => ((await worker.readyz()).status === 200 ? true : undefined), 30_000);
    assert.deepEqual(await worker.storageProblems(), []);
    const settled = await settledJobs(worker.queue, ['start-1'], 60_000);
    assert.deepEqual(settled.get('start-1'), { state: 'completed', attemptsMade: 1 });
    assert.ok(await store.exists(keyIn(`out/${worker.prefix}/start-1/`, manifestFileName)));
  } finally {
    await stopWorker(worker);
  }
});

test('storage out for 20 s (longer than the old ~15 s of retries) while jobs run: none fails or uses an attempt, bad input still fails at once with its code, and the log says so once, not per job', { timeout: 300_000 }, async () => {
  const s3Proxy = await startOutageProxy(s3.port);
  proxies.push(s3Proxy);
  const worker = await startWorker('mid', { redisPort: redis.port, s3Port: s3Proxy.port });
  try {
    assert.deepEqual(await settledReadyz(worker), { status: 200 });
    const good = Array.from({ length: 16 }, (_, i) => jobFor(worker, `mid-${i}`, photos[i % photos.length] as string));
    const bad = [jobFor(worker, 'mid-not-image', 'not-an-image.jpg'), jobFor(worker, 'mid-class', photos[0] as string, { classes: [9999] })];
    await enqueueExplainJobs(worker.queue, [...good, ...bad]);
    await eventually('the first job done', async () => (((await worker.queue.getJobCounts('completed')).completed ?? 0) >= 1 ? true : undefined), 120_000);

    s3Proxy.cut();
    const cutAt = Date.now();
    // What /readyz answers during the outage: its first 503, checked once the jobs are.
    let readyDuringOutage: { status: number; reason?: string } | undefined;
    while (Date.now() < cutAt + 20_000) {
      const answer = await worker.readyz();
      if (answer.status !== 200) readyDuringOutage ??= answer;
      await sleep(250);
    }
    const during = await worker.queue.getJobCounts('failed', 'completed', 'waiting', 'delayed', 'active');
    s3Proxy.restore();

    const ids = [...good, ...bad].map((job) => job.inferenceId);
    const settled = await settledJobs(worker.queue, ids, 180_000);
    for (const job of good) assert.deepEqual(settled.get(job.inferenceId), { state: 'completed', attemptsMade: 1 }, `${job.inferenceId}: completed, no attempt used by the outage`);
    assert.deepEqual(settled.get('mid-not-image'), { state: 'failed', attemptsMade: 1, code: 'IMAGE_UNSUPPORTED_FORMAT' });
    assert.deepEqual(settled.get('mid-class'), { state: 'failed', attemptsMade: 1, code: 'CLASS_OUT_OF_RANGE' });
    assert.ok((during.completed ?? 0) < good.length, `the outage caught jobs still to run: ${JSON.stringify(during)}`);
    assert.deepEqual(readyDuringOutage, { status: 503, reason: 'storage: unavailable' });
    await eventually('/readyz 200 again', async () => ((await worker.readyz()).status === 200 ? true : undefined), 30_000);

    // The outage is told once, and its end once; the jobs it handed back in a line or two, not one each.
    assert.equal(worker.logged(/^storage cannot be used/).length, 1);
    assert.equal(worker.logged(/^storage answers again/).length, 1);
    const handedBack = worker.logged(/^\d+ jobs? handed back to the queue with STORAGE_UNAVAILABLE, no attempt counted: mid-/);
    assert.ok(handedBack.length >= 1 && handedBack.length <= 3, handedBack.map((l) => l.msg).join('\n'));
    assert.deepEqual(worker.logged(/failed an attempt|failed for good/).map((l) => l.msg), [], 'no attempt failed');
    // Told a second after it failed (the line waits for the rest of its batch).
    const notImage = await worker.main.line((l) => /^1 job failed at once with IMAGE_UNSUPPORTED_FORMAT, not retried .*: mid-not-image$/.test(l.msg), 10_000);
    assert.equal(notImage.level, 40);
  } finally {
    await stopWorker(worker);
  }
});

test('Redis out for 20 s (past every job lock) while jobs run: /readyz names Redis meanwhile, every job is explained, none fails, and the log holds a line per kind of error, not one per reconnect or job', { timeout: 300_000 }, async () => {
  const redisProxy = await startOutageProxy(redis.port);
  proxies.push(redisProxy);
  // Locks of 5 s, so they lapse during the outage, and a stalled-job check every second after it.
  const worker = await startWorker('redis', { redisPort: redisProxy.port, s3Port: s3.port }, { GRADCAM_LOCK_DURATION_MS: '5000', GRADCAM_STALLED_INTERVAL_MS: '1000' });
  try {
    assert.deepEqual(await settledReadyz(worker), { status: 200 });
    const good = Array.from({ length: 16 }, (_, i) => jobFor(worker, `redis-${i}`, photos[i % photos.length] as string));
    await enqueueExplainJobs(worker.queue, good);
    await eventually('the first job done', async () => (((await worker.queue.getJobCounts('completed')).completed ?? 0) >= 1 ? true : undefined), 120_000);
    redisProxy.cut();
    const cutAt = Date.now();
    // The replica names Redis while it cannot reach it (the supervisor's /readyz makes no Redis call of its own).
    assert.deepEqual(await eventually('/readyz to name Redis', async () => ((await worker.readyz()).status === 503 ? worker.readyz() : undefined), 15_000, 200), { status: 503, reason: 'redis: unavailable' });
    await sleep(Math.max(0, 20_000 - (Date.now() - cutAt)));
    const during = await worker.queue.getJobCounts('completed');
    redisProxy.restore();
    const settled = await settledJobs(worker.queue, good.map((job) => job.inferenceId), 180_000);
    assert.deepEqual(await worker.readyz(), { status: 200 }, 'ready again once Redis answers');
    for (const job of good) assert.equal(settled.get(job.inferenceId)?.state, 'completed', `${job.inferenceId}: ${JSON.stringify(settled.get(job.inferenceId))}`);
    assert.ok((during.completed ?? 0) < good.length, `the outage caught jobs still to run: ${JSON.stringify(during)}`);
    for (const job of good) assert.ok(await store.exists(keyIn(job.folder, manifestFileName)), job.inferenceId);
    // Every reconnect of every connection failed, and each job held lost its lock: a line per kind
    // (read, write, connect ECONNRESET; a lost lock per Redis command), the rest counted.
    const errors = worker.logged(/./).filter((l) => l.level >= 50);
    assert.ok(errors.length >= 1 && errors.length <= 12, `${errors.length} error lines:\n${errors.map((l) => l.msg).join('\n')}`);
  } finally {
    await stopWorker(worker);
  }
});
