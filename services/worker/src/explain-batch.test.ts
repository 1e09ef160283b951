import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type ExplainJob, explanationManifestSchema, manifestFileName, redisKeys } from '@gradcam/contracts';
import { Explainer, builtinModels, loadModel, modelWeightsSha256, selectBackend } from '@gradcam/engine';
import { type RedisServer, startRedisServer, startS3PermissionProxy, startS3Server } from '@gradcam/dev-services';
import { DeferJobError } from '@gradcam/queue';
import { ReviewPool } from '@gradcam/review-pool';
import { type BlobStore, FsBlobStore, S3BlobStore } from '@gradcam/storage';
import { Redis } from 'ioredis';
import { type BatchContext, explainBatch, pixelRounds } from './explain-batch.ts';
import type { EngineCall, EngineCallDeadline } from './engine-call-deadline.ts';
import { JobFailure } from './job-failure.ts';
import { createReviewSampler } from './review-sampler.ts';

const fixtures = fileURLToPath(new URL('../../../test/fixtures/images/', import.meta.url));
const photos = ['house-cat-locomotion.jpg', 'sheep-pastoral.jpg', 'people-group.jpg'];

test('images go into consecutive rounds under the pixel budget; one image always fits', () => {
  const items = [4, 3, 5, 9, 1, 1].map((pixels, i) => ({ i, pixels }));
  const pixelsOf = (item: { pixels: number }) => item.pixels;
  assert.deepEqual(pixelRounds(items, pixelsOf, 8).map((round) => round.map((item) => item.i)), [[0, 1], [2], [3], [4, 5]]);
  assert.deepEqual(pixelRounds(items, pixelsOf, 100).length, 1);
  assert.deepEqual(pixelRounds([], pixelsOf, 8), []);
});

let dir: string;
let context: BatchContext;
let modelName: string;
let modelVersion: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gradcam-batch-'));
  const store = new FsBlobStore({ rootDir: dir, publicBaseUrl: 'http://127.0.0.1:1', signingSecret: 'test-secret-0123456789' });
  for (const photo of photos) await store.put(`inputs/${photo}`, await readFile(join(fixtures, photo)), { contentType: 'image/jpeg' });
  await store.put('inputs/not-an-image.jpg', Buffer.from('not an image'), { contentType: 'image/jpeg' });
  const backend = await selectBackend('wasm');
  const model = await loadModel('nsfw-mobilenet-v2');
  modelName = model.descriptor.name;
  modelVersion = model.descriptor.version;
  const explainer = new Explainer(model);
  context = {
    store,
    models: { get: (name) => (name === modelName ? { explainer, version: modelVersion } : undefined) },
    backend: backend.name,
    ...(backend.details && { backendDetails: backend.details }),
    engineLock: (work) => work(),
    engineCallDeadline: (_call, work) => work(),
    overlayMaxSide: 4096,
    maxBatchPixels: 100_000_000,
  };
});
after(() => rm(dir, { recursive: true, force: true }));

const job = (photo: string, i: number): ExplainJob => ({
  inferenceId: `batch-${i}`,
  model: { name: modelName, version: modelVersion },
  folder: `out/batch-${i}/`,
  image: { key: `inputs/${photo}` },
  explain: {},
  acceptedAt: Date.now(),
  capture: { explain: true, reason: 'all', policy: 'all' },
});

test('each engine call runs under the deadline, which is told the call\'s batch size, model and methods', { timeout: 120_000 }, async () => {
  const calls: EngineCall[] = [];
  const engineCallDeadline: EngineCallDeadline = (call, work) => {
    calls.push(call);
    return work();
  };
  const jobs = [job(photos[0] as string, 30), job(photos[1] as string, 31), { ...job(photos[2] as string, 32), explain: { methods: ['gradcam++' as const] } }];
  const report = await explainBatch({ ...context, engineCallDeadline }, jobs);
  assert.equal(report.explained, 3);
  const model = `${modelName}@${modelVersion}`;
  assert.deepEqual(calls, [
    { images: 2, model, methods: ['gradcam'] },
    { images: 1, model, methods: ['gradcam++'] },
  ]);
});

test('a job batched with one that asks the same methods in another order gets the manifest it gets alone, and the same review input', { timeout: 120_000 }, async () => {
  const server: RedisServer = await startRedisServer();
  const redis = new Redis(server.url);
  const sampler = createReviewSampler({ policy: 'rate=0', redis, prefix: 'order', pool: new ReviewPool(redis, 'order') });
  // The decision reads the first method that has both top classes' maps: it must see them in the job's order too.
  const decided = new Map<string, string[]>();
  const review: BatchContext['review'] = {
    ...sampler,
    decide: (input) => {
      decided.set(input.id, input.maps.map((m) => `${m.method}-${m.classIndex}`));
      return sampler.decide(input);
    },
  };
  try {
    const asked = { methods: ['gradcam' as const, 'gradcam++' as const], topK: 2 };
    const order = async (j: ExplainJob) =>
      explanationManifestSchema.parse(JSON.parse((await context.store.get(`${j.folder}${manifestFileName}`)).toString('utf8'))).explanations.map((e) => `${e.method}-${e.classIndex}`);
    const alone = { ...job(photos[0] as string, 42), explain: asked };
    await explainBatch({ ...context, review }, [alone]);
    const expected = await order(alone);
    assert.deepEqual(expected.map((e) => e.split('-')[0]), ['gradcam', 'gradcam', 'gradcam++', 'gradcam++'], 'as asked: method by method');
    // One engine call for both (the same methods), the batch-mate that asks them the other way round first.
    const reversed = { ...job(photos[1] as string, 41), explain: { methods: ['gradcam++' as const, 'gradcam' as const] } };
    const together = { ...job(photos[0] as string, 40), explain: asked };
    const report = await explainBatch({ ...context, review }, [reversed, together]);
    assert.deepEqual(report.engineCalls, [2]);
    assert.deepEqual(await order(together), expected, "the order the job asked for, not its batch-mate's");
    assert.deepEqual(decided.get(together.inferenceId), expected);
  } finally {
    sampler.close();
    redis.disconnect();
    await server.stop();
  }
});

test("the stored manifest pins the model's weights: model.weightsSha256 of the built-in MobileNetV2, under its version label", { timeout: 120_000 }, async () => {
  const one = job(photos[1] as string, 60);
  const report = await explainBatch(context, [one]);
  assert.equal(report.explained, 1, JSON.stringify(report.outcomes));
  const manifest = explanationManifestSchema.parse(JSON.parse((await context.store.get(`${one.folder}${manifestFileName}`)).toString('utf8')));
  const builtin = builtinModels.find((m) => m.descriptor.name === modelName);
  assert.equal(manifest.model.version, 'nsfwjs-4.4.0');
  assert.equal(manifest.model.weightsSha256, builtin && modelWeightsSha256(builtin.read()));
});

test('the stored manifest records the wasm build the worker ran on: the SIMD one, one thread', { timeout: 120_000 }, async () => {
  const one = job(photos[0] as string, 61);
  const report = await explainBatch(context, [one]);
  assert.equal(report.explained, 1, JSON.stringify(report.outcomes));
  const manifest = explanationManifestSchema.parse(JSON.parse((await context.store.get(`${one.folder}${manifestFileName}`)).toString('utf8')));
  assert.equal(manifest.engine.backend, 'wasm');
  assert.deepEqual(manifest.engine.backendDetails, { simd: true, threads: 1, wasmBinary: 'tfjs-backend-wasm-simd.wasm' });
});

test('a batch over the pixel budget is explained in rounds, with the same maps as in one', { timeout: 120_000 }, async () => {
  const jobs = photos.map(job);
  const whole = await explainBatch(context, jobs);
  const wholeManifests = await Promise.all(jobs.map(async (j) => explanationManifestSchema.parse(JSON.parse((await context.store.get(`${j.folder}${manifestFileName}`)).toString('utf8')))));
  // One pixel: every image is a round of its own.
  const rounds = await explainBatch({ ...context, maxBatchPixels: 1 }, jobs);
  for (const report of [whole, rounds]) {
    assert.equal(report.explained, 3);
    assert.ok(report.outcomes.every((o) => !(o instanceof JobFailure)), JSON.stringify(report.outcomes));
  }
  for (const [i, j] of jobs.entries()) {
    const manifest = explanationManifestSchema.parse(JSON.parse((await context.store.get(`${j.folder}${manifestFileName}`)).toString('utf8')));
    assert.equal(manifest.timings.batchSize, 1, 'explained alone');
    assert.equal(wholeManifests[i]?.timings.batchSize, 3, 'explained together');
    assert.equal(manifest.prediction.classIndex, wholeManifests[i]?.prediction.classIndex);
    assert.equal(manifest.explanations[0]?.rawMap.sha256, wholeManifests[i]?.explanations[0]?.rawMap.sha256, `${photos[i]}: same map either way`);
  }
});

test('batch figures count images per engine call, and a batch whose every job fails still has its stage times', { timeout: 120_000 }, async () => {
  const bad = (i: number) => ({ ...job('not-an-image.jpg', 10 + i) });
  // One photo among undecodable ones: one engine call of one image, not a call of four.
  const mixed = await explainBatch(context, [job(photos[0]!, 10), bad(1), bad(2), bad(3)]);
  assert.deepEqual(mixed.engineCalls, [1]);
  const [good, ...failed] = mixed.outcomes;
  assert.ok(good !== undefined && !(good instanceof Error), String(good));
  assert.equal(good.batchSize, 1, 'the images its batch sent through the engine');
  assert.ok(failed.every((o) => o instanceof JobFailure));
  // Rounds and (model, methods) groups are engine calls of their own.
  const split = await explainBatch({ ...context, maxBatchPixels: 1 }, [job(photos[0]!, 10), job(photos[1]!, 11)]);
  assert.deepEqual(split.engineCalls, [1, 1]);
  // Results carry the batch's figures: its stage times cover both calls, and so does its size.
  assert.deepEqual(split.outcomes.map((o) => (o instanceof Error ? o.message : o.batchSize)), [2, 2]);
  const grouped = await explainBatch(context, [job(photos[0]!, 10), { ...job(photos[1]!, 11), explain: { methods: ['layercam'] } }, job(photos[2]!, 12)]);
  assert.deepEqual([...grouped.engineCalls].sort(), [1, 2]);
  // Nothing reached the engine: no engine call, but the batch's (decode) time is reported.
  const none = await explainBatch(context, [bad(1), bad(2)]);
  assert.deepEqual(none.engineCalls, []);
  assert.ok(none.stageSeconds.decode > 0 && none.stageSeconds.engine === 0, JSON.stringify(none.stageSeconds));
});

test('the engine stage is the engine call, not the wait for the engine lock', { timeout: 120_000 }, async () => {
  const waitMs = 1_500;
  // Another batch holds the engine for 1.5 s before this one gets it.
  // The work under the lock is timed too: the engine stage must fit inside it, whatever the load
  // (a fixed bound of 1.5 s failed once at load average 9, the call itself taking 2.3 s).
  let heldSeconds = 0;
  const busyLock: BatchContext['engineLock'] = async (work) => {
    await new Promise((resolve) => setTimeout(resolve, waitMs));
    const started = performance.now();
    try {
      return await work();
    } finally {
      heldSeconds = (performance.now() - started) / 1000;
    }
  };
  const report = await explainBatch({ ...context, engineLock: busyLock }, [job(photos[0]!, 20)]);
  assert.equal(report.explained, 1);
  assert.ok(report.stageSeconds.engine > 0 && report.stageSeconds.engine <= heldSeconds + 0.001, `engine ${report.stageSeconds.engine} s, the lock held ${heldSeconds} s after a ${waitMs} ms wait`);
});

test('a job for a version this worker does not serve is handed on while a live worker serves it, else fails at once', { timeout: 120_000 }, async () => {
  const live = new Set([`${modelName}@v-next`]);
  const withPeers: BatchContext = { ...context, servedElsewhere: async (name, version) => live.has(`${name}@${version}`) };
  const wants = (i: number, model: ExplainJob['model']): ExplainJob => ({ ...job(photos[0]!, i), inferenceId: `peer-${i}`, folder: `out/peer-${i}/`, model });
  const jobs = [
    wants(0, { name: modelName, version: 'v-next' }), // another live worker serves it
    wants(1, { name: modelName, version: 'v-retired' }), // nobody does any more
    wants(2, { name: 'resnet-9000', version: '1' }), // no worker here serves the model at all
    wants(3, { name: modelName, version: modelVersion }), // this worker's own
  ];
  const { outcomes, explained } = await explainBatch(withPeers, jobs);
  assert.equal(explained, 1);
  const [handedOn, retired, unknown, own] = outcomes;
  assert.ok(handedOn instanceof DeferJobError, String(handedOn));
  assert.equal(handedOn.code, 'MODEL_SERVED_ELSEWHERE');
  assert.match(handedOn.message, /wants nsfw-mobilenet-v2@v-next; this worker serves nsfw-mobilenet-v2@/);
  assert.ok(retired instanceof JobFailure && retired.permanent, String(retired));
  assert.equal(retired.code, 'MODEL_VERSION_MISMATCH');
  assert.match(retired.message, /no live worker serves it/);
  assert.ok(unknown instanceof JobFailure && unknown.permanent && unknown.code === 'MODEL_NOT_SERVED', String(unknown));
  assert.ok(!(own instanceof Error), String(own));
  // Without the lookup (a worker wired alone), such jobs fail at once as before.
  const [alone] = (await explainBatch(context, [jobs[0]!])).outcomes;
  assert.ok(alone instanceof JobFailure && alone.code === 'MODEL_VERSION_MISMATCH', String(alone));
  // A failed lookup is a transient failure (retried), not a verdict on the job.
  const [unsure] = (await explainBatch({ ...context, servedElsewhere: () => Promise.reject(Object.assign(new Error('connection lost'), { code: 'ECONNRESET' })) }, [jobs[0]!])).outcomes;
  assert.ok(unsure instanceof JobFailure && !unsure.permanent, String(unsure));
});

test('a rerun whose explanation is stored redoes only what follows the manifest; without one it is explained', { timeout: 120_000 }, async () => {
  const server: RedisServer = await startRedisServer();
  const redis = new Redis(server.url);
  const samplerOn = (prefix: string) => {
    const pool = new ReviewPool(redis, prefix);
    return { pool, review: createReviewSampler({ policy: 'rate=1', redis, prefix, pool }) };
  };
  try {
    const j = { ...job(photos[1]!, 0), inferenceId: 'rerun-0', folder: 'out/rerun-0/' };
    const manifestKey = `${j.folder}${manifestFileName}`;
    const first = samplerOn('first');
    const stored = await explainBatch({ ...context, review: first.review }, [j], [true]); // a rerun with nothing stored yet
    assert.equal(stored.explained, 1);
    assert.equal((await first.pool.get('rerun-0'))?.status, 'pending');
    const manifest = await context.store.get(manifestKey);

    // The first run stored the manifest and died before the review pool heard of it.
    const second = samplerOn('second');
    const resumed = await explainBatch({ ...context, review: second.review }, [j], [true]);
    assert.equal(resumed.explained, 0, 'nothing explained again');
    const [outcome] = resumed.outcomes;
    assert.ok(outcome !== undefined && !(outcome instanceof Error), String(outcome));
    assert.equal(outcome.manifestKey, manifestKey);
    assert.equal(outcome.storedAt, Date.parse(explanationManifestSchema.parse(JSON.parse(manifest.toString('utf8'))).createdAt));
    assert.deepEqual(await context.store.get(manifestKey), manifest, 'the manifest was not written again');
    assert.equal((await second.pool.get('rerun-0'))?.status, 'pending', 'the review pool entry was made');

    // A first run never looks (its job cannot have stored anything); an unreadable manifest is explained over.
    assert.equal((await explainBatch(context, [j])).explained, 1);
    await context.store.put(manifestKey, Buffer.from('{"half":'), { contentType: 'application/json' });
    assert.equal((await explainBatch(context, [j], [true])).explained, 1);
    explanationManifestSchema.parse(JSON.parse((await context.store.get(manifestKey)).toString('utf8')));
    first.review.close();
    second.review.close();
  } finally {
    redis.disconnect();
    await server.stop();
  }
});

test('on S3 credentials without s3:ListBucket (403 for a missing key) a rerun with nothing stored is explained, and one with its manifest stored is resumed', { timeout: 120_000 }, async () => {
  const s3 = await startS3Server({ buckets: ['no-list'] });
  const proxy = await startS3PermissionProxy(s3.endpoint, ['s3:ListBucket']);
  const store = new S3BlobStore({ bucket: 'no-list', region: s3.region, endpoint: proxy.endpoint, accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey, forcePathStyle: true });
  try {
    await store.put(`inputs/${photos[0]}`, await readFile(join(fixtures, photos[0] as string)), { contentType: 'image/jpeg' });
    const s3Context = { ...context, store };
    const j = { ...job(photos[0] as string, 0), inferenceId: 'no-list-0', folder: 'out/no-list-0/' };
    // Its first attempt failed before the manifest (or its worker died): AWS answers the look for it 403.
    const rerun = await explainBatch(s3Context, [j], [true]);
    assert.ok(rerun.outcomes.every((o) => !(o instanceof Error)), rerun.outcomes.map(String).join('; '));
    assert.equal(rerun.explained, 1);
    const resumed = await explainBatch(s3Context, [j], [true]);
    assert.equal(resumed.explained, 0, 'the stored manifest is found: nothing explained again');
  } finally {
    await store.close();
    await proxy.stop();
    await s3.stop();
  }
});

test('of two runs of one job at once (a stalled job taken over), the first to claim the review decision decides the manifest too', { timeout: 120_000 }, async () => {
  const server: RedisServer = await startRedisServer();
  const redis = new Redis(server.url);
  try {
    const prefix = 'twice';
    const pool = new ReviewPool(redis, prefix);
    const j = { ...job(photos[1]!, 0), inferenceId: 'twice-0', folder: 'out/twice-0/' };
    await redis.hset(redisKeys(prefix).explainJob(j.inferenceId), 'name', 'explain'); // the BullMQ job both runs hold
    const skips = createReviewSampler({ policy: 'rate=0', redis, prefix, pool });
    const samples = createReviewSampler({ policy: 'rate=1', redis, prefix, pool });
    await explainBatch({ ...context, review: skips }, [j]);
    // The other run looked for an earlier decision before this one claimed its own: it found none.
    const late = { ...samples, earlier: async () => new Map() };
    assert.equal((await explainBatch({ ...context, review: late }, [j], [false])).explained, 1);
    const manifest = explanationManifestSchema.parse(JSON.parse((await context.store.get(`${j.folder}${manifestFileName}`)).toString('utf8')));
    assert.equal(manifest.review?.sampled, false, 'the manifest carries the decision the job kept, not the late run\'s own');
    assert.equal(await pool.get(j.inferenceId), undefined, 'nor did the late run queue it for review');
    skips.close();
    samples.close();
  } finally {
    redis.disconnect();
    await server.stop();
  }
});

test('a photo larger than the overlay is decoded at the overlay size: the pixel budget counts those pixels, the manifest records its own size', { timeout: 120_000 }, async () => {
  const sharp = (await import('sharp')).default;
  const large = await sharp(await readFile(join(fixtures, photos[0] as string))).resize(2400, 1600, { fit: 'fill' }).jpeg().toBuffer();
  await context.store.put('inputs/large.jpg', large, { contentType: 'image/jpeg' });
  const jobs = [0, 1].map((i) => ({ ...job('large.jpg', 40 + i), image: { key: 'inputs/large.jpg' } }));
  // 900 px on the long side (four model inputs of 224 would be 896): 900 × 600 each, both in one round.
  const report = await explainBatch({ ...context, overlayMaxSide: 900, maxBatchPixels: 2 * 900 * 600 }, jobs);
  assert.deepEqual(report.engineCalls, [2], 'one engine call: decoded, the two fit the budget together');
  const manifest = explanationManifestSchema.parse(JSON.parse((await context.store.get(`${jobs[0]?.folder}${manifestFileName}`)).toString('utf8')));
  assert.deepEqual([manifest.input.width, manifest.input.height], [2400, 1600]);
  assert.deepEqual([manifest.explanations[0]?.overlay.width, manifest.explanations[0]?.overlay.height], [900, 600]);
  // The scaled decode changes the model input a little: the manifest says so, and so does its fingerprint.
  assert.equal(manifest.preprocessing.decodeMaxSide, 900);
  const fullJob = { ...job('large.jpg', 42), image: { key: 'inputs/large.jpg' } };
  await explainBatch({ ...context, overlayMaxSide: 0 }, [fullJob]);
  const full = explanationManifestSchema.parse(JSON.parse((await context.store.get(`${fullJob.folder}${manifestFileName}`)).toString('utf8')));
  assert.equal(full.preprocessing.decodeMaxSide, undefined);
  assert.notEqual(full.fingerprint, manifest.fingerprint);
  assert.deepEqual({ ...manifest.preprocessing, decodeMaxSide: undefined }, { ...full.preprocessing, decodeMaxSide: undefined });
});

test('an image replaced under its key after ingest accepted the record fails IMAGE_CHANGED at once, on the local store and on S3; one written again with the same bytes, or a job that carries nothing to check (queued before), is explained', { timeout: 120_000 }, async () => {
  const original = await readFile(join(fixtures, photos[0] as string));
  // Same size, other bytes: only the store's ETag or the sha256 tells it apart.
  const sameSize = Buffer.from(original);
  sameSize[sameSize.length - 100] = (sameSize[sameSize.length - 100] as number) ^ 0xff;
  const otherSize = await readFile(join(fixtures, photos[1] as string));
  const sha256 = createHash('sha256').update(original).digest('hex');
  const s3 = await startS3Server({ buckets: ['refs'] });
  const s3Store = new S3BlobStore({ bucket: 'refs', region: s3.region, endpoint: s3.endpoint, accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey, forcePathStyle: true });
  try {
    /** A job for `key` as ingest queues it (size and ETag from its HEAD, or an inline upload's size and sha256), then `replacement` put under the key. */
    const accepted = async (store: BlobStore, key: string, i: number, identify: 'head' | 'inline' | 'size' | 'nothing', replacement?: Buffer) => {
      await store.put(key, original, { contentType: 'image/jpeg' });
      const head = await store.head(key);
      assert.ok(head?.etag !== undefined, 'the store names the version');
      const identity = { head: { bytes: head.bytes, etag: head.etag }, inline: { bytes: original.length, sha256 }, size: { bytes: head.bytes }, nothing: {} }[identify];
      if (replacement) await store.put(key, replacement, { contentType: 'image/jpeg' });
      const where = store === s3Store ? { uri: `s3://refs/${key}` } : { key };
      return { ...job(photos[0] as string, 60 + i), inferenceId: `changed-${i}`, folder: `out/changed-${i}/`, image: { ...where, ...identity } };
    };
    const cases = [
      { store: context.store, job: await accepted(context.store, 'refs/local-etag.jpg', 0, 'head', sameSize), changed: /ETag/ },
      { store: context.store, job: await accepted(context.store, 'refs/local-size.jpg', 1, 'size', otherSize), changed: new RegExp(`${otherSize.length} bytes where ${original.length} were accepted`) },
      { store: context.store, job: await accepted(context.store, 'out/changed-2/input.jpg', 2, 'inline', sameSize), changed: /sha256/ },
      { store: s3Store, job: await accepted(s3Store, 'refs/s3-etag.jpg', 3, 'head', sameSize), changed: /ETag/ },
      { store: s3Store, job: await accepted(s3Store, 'refs/s3-size.jpg', 4, 'head', otherSize), changed: /ETag/ },
      { store: context.store, job: await accepted(context.store, 'refs/local-kept.jpg', 5, 'head'), changed: undefined },
      { store: s3Store, job: await accepted(s3Store, 'refs/s3-kept.jpg', 6, 'head'), changed: undefined },
      { store: context.store, job: await accepted(context.store, 'out/changed-7/input.jpg', 7, 'inline'), changed: undefined },
      { store: context.store, job: await accepted(context.store, 'refs/local-old-job.jpg', 8, 'nothing', sameSize), changed: undefined },
      // The same bytes written again (a client's retried upload; ingest's retried write of an inline image another record references): the same image.
      { store: context.store, job: await accepted(context.store, 'refs/local-same-bytes.jpg', 9, 'head', original), changed: undefined },
    ];
    for (const { store, job: j, changed } of cases) {
      const [outcome] = (await explainBatch({ ...context, store }, [j])).outcomes;
      const label = JSON.stringify(j.image);
      if (changed === undefined) {
        assert.ok(outcome !== undefined && !(outcome instanceof Error), `${label}: ${String(outcome)}`);
        continue;
      }
      assert.ok(outcome instanceof JobFailure, `${label}: explained the replacement instead (${JSON.stringify(outcome)})`);
      assert.deepEqual([outcome.code, outcome.permanent], ['IMAGE_CHANGED', true], `${label}: ${outcome.message}`);
      assert.match(outcome.message, changed, label);
      assert.match(outcome.message, /^the image was replaced after ingest accepted the record \(.+\); resubmit the record, .* under a new inference id/, label);
      assert.equal(await store.exists(`${j.folder}${manifestFileName}`), false, `${label}: nothing explained`);
    }
  } finally {
    await s3Store.close();
    await s3.stop();
  }
});
