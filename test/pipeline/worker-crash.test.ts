import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type ServiceProcess, IngestClient, startService, waitUntilReady } from '@gradcam/cli/local-stack';
import { explainQueueName } from '@gradcam/contracts';
import { type TestRedis, freePort, startTestRedis } from '@gradcam/dev-services';
import { Queue } from 'bullmq';
import { inlineRecord, samplePhotos } from '../support/sample-records.ts';
import { serviceLineToStderr } from '../support/service-output.ts';
import { waitFor } from '../support/wait-for.ts';

// A worker killed with SIGKILL in the middle of a batch: its jobs' locks lapse, another worker
// takes them over, and every record still ends with exactly its expected files — none lost,
// none doubled (keys are fixed per inference, the manifest is written last).
const token = 'crash-token-0123456789abcdef';
const records = 48;

let redis: TestRedis;
let dir: string;
let queue: Queue;
const services: ServiceProcess[] = [];
let env: NodeJS.ProcessEnv;

async function startWorker(port: number): Promise<ServiceProcess> {
  const worker = startService({ name: 'worker', entry: 'services/worker/src/main.ts', env: { ...env, GRADCAM_WORKER_METRICS_PORT: String(port) }, onLine: serviceLineToStderr });
  services.push(worker);
  await waitUntilReady(worker, `http://127.0.0.1:${port}/readyz`, 120_000);
  return worker;
}

before(async () => {
  redis = await startTestRedis();
  dir = await mkdtemp(join(tmpdir(), 'gradcam-crash-'));
  env = {
    ...process.env,
    REDIS_URL: redis.url,
    GRADCAM_STORAGE_DIR: join(dir, 'storage'),
    GRADCAM_API_TOKENS: token,
    GRADCAM_QUEUE_PREFIX: 'crash',
    GRADCAM_WORKER_PROCESSES: '1',
    // Overlays on a render thread, whatever the machine's core count: the SIGKILL takes the
    // thread with the process, and the restarted worker renders on a new one.
    GRADCAM_RENDER_THREADS: '1',
    GRADCAM_BATCH_SIZE: '8',
    GRADCAM_HOST: '127.0.0.1',
    // Short locks and frequent stall checks, so a dead worker's jobs come back in seconds; not
    // so short that a live worker's engine call, slowed by a busy machine, outlasts its lock.
    GRADCAM_LOCK_DURATION_MS: '10000',
    GRADCAM_STALLED_INTERVAL_MS: '1000',
    LOG_LEVEL: 'warn',
  };
  queue = new Queue(explainQueueName, { connection: { url: redis.url }, prefix: 'crash' });
});

after(async () => {
  await Promise.all(services.map((s) => s.stop('SIGKILL')));
  await queue?.close();
  await redis?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('SIGKILL mid-batch loses nothing and duplicates nothing', { timeout: 300_000 }, async () => {
  const doomed = await startWorker(await freePort());
  const ingestPort = await freePort();
  const ingest = startService({ name: 'ingest', entry: 'services/ingest/src/main.ts', env: { ...env, GRADCAM_INGEST_PORT: String(ingestPort) }, onLine: serviceLineToStderr });
  services.push(ingest);
  await waitUntilReady(ingest, `http://127.0.0.1:${ingestPort}/readyz`, 60_000);
  const client = new IngestClient({ baseUrl: `http://127.0.0.1:${ingestPort}`, token });
  const ids = Array.from({ length: records }, (_, i) => `crash-${i}`);
  const posted = await client.postBatch(ids.map((id, i) => inlineRecord(id, samplePhotos[i % samplePhotos.length] as (typeof samplePhotos)[number])));
  assert.equal(posted.accepted, records);

  // Kill it while it holds jobs, after at least one batch was stored.
  await waitFor('a stored batch and jobs in flight', async () => {
    const counts = await queue.getJobCounts('completed', 'active');
    return (counts.completed ?? 0) >= 8 && (counts.active ?? 0) > 0 ? counts : undefined;
  }, 120_000, 50);
  const killedWith = await doomed.stop('SIGKILL');
  assert.equal(killedWith, 'SIGKILL');
  const completedAtKill = (await queue.getJobCounts('completed')).completed ?? 0;
  assert.ok(completedAtKill < records, 'the worker died with work left');

  await startWorker(await freePort());
  const statuses = await client.waitForAll(ids, 240_000);
  const counts = await queue.getJobCounts('completed', 'failed');
  const failed = await queue.getFailed();
  assert.deepEqual(counts, { completed: records, failed: 0 }, failed.map((job) => `${job.id}: ${job.failedReason}`).slice(0, 3).join('; '));
  for (const id of ids) {
    const status = statuses.get(id);
    assert.equal(status?.status, 'done', `${id}: ${JSON.stringify(status?.failure)}`);
    const entry = status.manifest?.explanations[0];
    const files = (await readdir(join(dir, 'storage', status.folder))).filter((name) => !name.endsWith('.partial')).sort();
    assert.deepEqual(files, ['explanation.json', `gradcam-${entry?.classIndex}.npy`, `gradcam-${entry?.classIndex}.overlay.jpg`, 'input.jpg', 'prediction.json'].sort());
  }
  const recovered = (await queue.getJobs(['completed'], 0, records)).filter((job) => job.attemptsMade > 1 || (job.stalledCounter ?? 0) > 0);
  assert.ok(recovered.length > 0, 'some jobs were taken over from the killed worker');
});
