import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, test } from 'node:test';
import { type ServiceProcess, IngestClient, startService, waitUntilReady } from '@gradcam/cli/local-stack';
import { explainQueueName, explanationManifestSchema, manifestFileName } from '@gradcam/contracts';
import { type TestRedis, type TestS3, freePort, startTestRedis, startTestS3 } from '@gradcam/dev-services';
import { S3BlobStore, listAll, probeKey } from '@gradcam/storage';
import { Queue } from 'bullmq';
import { type HoldingProxy, startHoldingProxy } from '../support/holding-proxy.ts';
import { inlineRecord, samplePhotos } from '../support/sample-records.ts';
import { serviceLineToStderr } from '../support/service-output.ts';
import { waitFor } from '../support/wait-for.ts';

// A worker killed with SIGKILL in the middle of storing a batch, on a real S3-compatible server:
// its jobs' locks lapse, another worker takes them over, and every record still ends with exactly
// its expected files — none lost, none doubled (keys are fixed per inference, the manifest is
// written last). The kill point is chosen, not timed: the doomed worker reaches S3 through a proxy
// that holds its manifest PUTs (after the first batch's), so it dies with jobs whose manifest
// write is pending, and the test looks at what was stored before that write.
const token = 'crash-token-0123456789abcdef';
const bucket = 'gradcam-crash';
const records = 48;
const batch = 8;
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

let redis: TestRedis;
let s3: TestS3;
let store: S3BlobStore;
let proxy: HoldingProxy;
let queue: Queue;
const services: ServiceProcess[] = [];
let env: NodeJS.ProcessEnv;

async function startWorker(s3Endpoint: string): Promise<ServiceProcess> {
  const port = await freePort();
  const worker = startService({ name: 'worker', entry: 'services/worker/src/main.ts', env: { ...env, S3_ENDPOINT: s3Endpoint, GRADCAM_WORKER_METRICS_PORT: String(port) }, onLine: serviceLineToStderr });
  services.push(worker);
  await waitUntilReady(worker, `http://127.0.0.1:${port}/readyz`, 120_000);
  return worker;
}

before(async () => {
  [redis, s3] = await Promise.all([startTestRedis(), startTestS3({ buckets: [bucket] })]);
  store = new S3BlobStore({ bucket, region: s3.region, endpoint: s3.endpoint, accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey, forcePathStyle: true });
  // The first batch-size of manifest PUTs go through, so the doomed worker stores some whole folders
  // (their jobs complete before the kill when they made up a whole batch); every later one is held.
  let manifestsSeen = 0;
  proxy = await startHoldingProxy(s3.endpoint, ({ method, path }) => method === 'PUT' && path.endsWith(`/${manifestFileName}`) && ++manifestsSeen > batch);
  env = {
    ...process.env,
    REDIS_URL: redis.url,
    S3_BUCKET: bucket,
    S3_ENDPOINT: s3.endpoint,
    S3_REGION: s3.region,
    S3_ACCESS_KEY_ID: s3.accessKeyId,
    S3_SECRET_ACCESS_KEY: s3.secretAccessKey,
    GRADCAM_API_TOKENS: token,
    GRADCAM_QUEUE_PREFIX: 'crash',
    GRADCAM_WORKER_PROCESSES: '1',
    // Overlays on a render thread, whatever the machine's core count: the SIGKILL takes the
    // thread with the process, and the restarted worker renders on a new one.
    GRADCAM_RENDER_THREADS: '1',
    GRADCAM_BATCH_SIZE: String(batch),
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
  await proxy?.close();
  await queue?.close();
  await store?.close();
  await Promise.all([redis?.stop(), s3?.stop()]);
});

test('SIGKILL while a batch waits on its manifest writes loses nothing and duplicates nothing', { timeout: 300_000 }, async (t) => {
  // Ingest and the restarted worker talk to S3 directly; only the doomed worker goes through the proxy.
  const doomed = await startWorker(proxy.url);
  const ingestPort = await freePort();
  const ingest = startService({ name: 'ingest', entry: 'services/ingest/src/main.ts', env: { ...env, GRADCAM_INGEST_PORT: String(ingestPort) }, onLine: serviceLineToStderr });
  services.push(ingest);
  await waitUntilReady(ingest, `http://127.0.0.1:${ingestPort}/readyz`, 60_000);
  const client = new IngestClient({ baseUrl: `http://127.0.0.1:${ingestPort}`, token });
  const ids = Array.from({ length: records }, (_, i) => `crash-${i}`);
  const photoOf = (i: number) => samplePhotos[i % samplePhotos.length] as (typeof samplePhotos)[number];
  const posted = await client.postBatch(ids.map((id, i) => inlineRecord(id, photoOf(i))));
  assert.equal(posted.accepted, records);

  // The worker's first held manifest PUT: by then, the ordering says, that job's artifacts are stored.
  const [first] = await waitFor('a manifest PUT held by the proxy', async () => (proxy.held.length > 0 ? proxy.held : undefined), 120_000, 20);
  assert.ok(first);
  const heldKey = first.path.slice(`/${bucket}/`.length);
  const folder = heldKey.slice(0, -manifestFileName.length);
  const heldManifest = explanationManifestSchema.parse(JSON.parse(first.body.toString('utf8')));
  const storedAtKill = (await listAll(store, folder)).map((key) => key.slice(folder.length)).sort();
  const artifactsAtKill = await Promise.all(heldManifest.explanations.flatMap((e) => [e.rawMap, e.overlay]).map(async (a) => ((await store.exists(`${folder}${a.path}`)) ? sha256(await store.get(`${folder}${a.path}`)) : 'missing')));
  const killedWith = await doomed.stop('SIGKILL');
  await proxy.close();
  assert.equal(killedWith, 'SIGKILL');
  assert.deepEqual(
    artifactsAtKill,
    heldManifest.explanations.flatMap((e) => [e.rawMap.sha256, e.overlay.sha256]),
    `${heldManifest.inferenceId}'s artifacts were stored, as its manifest names them, before its manifest was written (stored then: ${storedAtKill.join(', ')})`,
  );
  assert.ok(!storedAtKill.includes(manifestFileName), 'the held manifest was not stored');
  const heldIds = [...new Set(proxy.held.map((h) => explanationManifestSchema.parse(JSON.parse(h.body.toString('utf8'))).inferenceId))];
  const completedAtKill = (await queue.getJobCounts('completed')).completed ?? 0;
  assert.ok(completedAtKill < records, 'the worker died with work left');
  t.diagnostic(`killed with ${completedAtKill} jobs completed and the manifests of ${heldIds.join(', ')} held`);

  await startWorker(s3.endpoint);
  const statuses = await client.waitForAll(ids, 240_000);
  const counts = await queue.getJobCounts();
  const failed = await queue.getFailed();
  assert.deepEqual(
    Object.entries(counts).filter(([, n]) => n > 0),
    [['completed', records]],
    failed.map((job) => `${job.id}: ${job.failedReason}`).slice(0, 3).join('; '),
  );
  const jobs = await queue.getJobs(['completed'], 0, records);
  assert.deepEqual(jobs.map((job) => job.id).sort(), [...ids].sort(), 'one job per record, no other');

  // With the readiness probe ingest writes (no GRADCAM_STORAGE_PREFIX: at the bucket's root).
  const expectedKeys: string[] = [probeKey()];
  for (const [i, id] of ids.entries()) {
    const status = statuses.get(id);
    assert.equal(status?.status, 'done', `${id}: ${JSON.stringify(status?.failure)}`);
    const manifest = explanationManifestSchema.parse(JSON.parse((await store.get(`${status.folder}${manifestFileName}`)).toString('utf8')));
    assert.deepEqual(manifest, status.manifest);
    assert.equal(manifest.inferenceId, id);
    const [entry] = manifest.explanations;
    assert.ok(entry && manifest.explanations.length === 1);
    const files = [manifestFileName, 'prediction.json', 'input.jpg', entry.rawMap.path, entry.overlay.path].sort();
    assert.deepEqual((await listAll(store, status.folder)).map((key) => key.slice(status.folder.length)).sort(), files, `${id}: exactly its files`);
    for (const artifact of [entry.rawMap, entry.overlay]) {
      const body = await store.get(`${status.folder}${artifact.path}`);
      assert.deepEqual([body.byteLength, sha256(body)], [artifact.bytes, artifact.sha256], `${id}/${artifact.path} is the file its manifest names`);
    }
    const input = await store.get(`${status.folder}input.jpg`);
    assert.ok(input.equals(photoOf(i).bytes), `${id}: the stored input is the photo sent`);
    assert.equal(manifest.input.sha256, sha256(input));
    expectedKeys.push(...files.map((file) => `${status.folder}${file}`));
  }
  assert.deepEqual((await listAll(store, '')).sort(), expectedKeys.sort(), 'nothing else in the bucket');

  // The jobs held at the kill were taken over from the dead worker and completed by the new one.
  assert.ok(heldIds.length > 0 && heldIds.includes(heldManifest.inferenceId));
  for (const job of jobs.filter((j) => heldIds.includes(j.id))) {
    assert.ok(job.attemptsMade > 1 || (job.stalledCounter ?? 0) > 0, `${job.id} was taken over from the killed worker`);
  }
});
