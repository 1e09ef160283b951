import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { type RedisServer, startRedisServer } from '@gradcam/dev-services';
import { UnrecoverableError, Worker } from 'bullmq';
import { type IngestHarness, auth, createIngestHarness } from './test-support/ingest-harness.ts';

const photo = readFileSync(new URL('../../../test/fixtures/images/sheep-pastoral.jpg', import.meta.url));
const record = (id: string, extra: Record<string, unknown> = {}) => ({
  id,
  model: { name: 'nsfw-mobilenet-v2' },
  image: { base64: photo.toString('base64') },
  ...extra,
});

let redis: RedisServer;
before(async () => {
  redis = await startRedisServer();
});
after(async () => {
  await redis.stop();
});

describe('POST /v1/inferences', () => {
  let h: IngestHarness;
  before(async () => {
    h = await createIngestHarness({ redisUrl: redis.url });
  });
  after(() => h.close());

  test('accepts a record: prediction.json and the image are stored before the job is enqueued', async () => {
    const response = await h.app.inject({ method: 'POST', url: '/v1/inferences', headers: auth, payload: record('rec-1', { prediction: { classIndex: 2, scores: [0.1, 0.1, 0.7, 0.05, 0.05] } }) });
    assert.equal(response.statusCode, 202, response.body);
    assert.deepEqual(response.json(), { id: 'rec-1', status: 'queued', duplicate: false, reason: 'all', model: 'nsfw-mobilenet-v2' });
    const job = await h.queue.getJob('rec-1');
    assert.ok(job, 'the job id is the inference id');
    const day = new Date().toISOString().slice(0, 10);
    assert.equal(job.data.folder, `captures/nsfw-mobilenet-v2/nsfwjs-4.4.0/dt=${day}/rec-1/`);
    assert.equal(job.data.model.version, 'nsfwjs-4.4.0', 'the served version fills in a missing one');
    const prediction = JSON.parse((await h.store.get(`${job.data.folder}prediction.json`)).toString()) as Record<string, unknown>;
    assert.deepEqual(prediction.capture, { explain: true, reason: 'all', policy: 'all' });
    assert.deepEqual(prediction.model, { name: 'nsfw-mobilenet-v2', version: 'nsfwjs-4.4.0', versionGiven: false });
    assert.deepEqual(await h.store.get(`${job.data.folder}input.jpg`), photo);
  });

  test('a resubmitted id is answered from its record: no second job, nothing rewritten', async () => {
    const first = await h.app.inject({ method: 'POST', url: '/v1/inferences', headers: auth, payload: record('rec-dup') });
    assert.equal(first.statusCode, 202);
    const job = await h.queue.getJob('rec-dup');
    const before = (await h.store.get(`${job?.data.folder}prediction.json`)).toString();
    const again = await h.app.inject({ method: 'POST', url: '/v1/inferences', headers: auth, payload: record('rec-dup', { metadata: { changed: true } }) });
    assert.equal(again.statusCode, 200);
    assert.equal(again.json<{ duplicate: boolean }>().duplicate, true);
    assert.equal((await h.store.get(`${job?.data.folder}prediction.json`)).toString(), before);
    assert.equal((await h.queue.getJobs(['waiting'])).filter((j) => j.id === 'rec-dup').length, 1);
  });

  test('multipart upload: a record field and an image file', async () => {
    const boundary = 'gradcam-boundary';
    const body = Buffer.concat([
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="record"\r\n\r\n${JSON.stringify({ id: 'rec-mp', model: { name: 'nsfw-mobilenet-v2' } })}\r\n`),
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="image"; filename="sheep.jpg"\r\nContent-Type: image/jpeg\r\n\r\n`),
      photo,
      Buffer.from(`\r\n--${boundary}--\r\n`),
    ]);
    const response = await h.app.inject({ method: 'POST', url: '/v1/inferences', headers: { ...auth, 'content-type': `multipart/form-data; boundary=${boundary}` }, payload: body });
    assert.equal(response.statusCode, 202, response.body);
    const job = await h.queue.getJob('rec-mp');
    assert.deepEqual(await h.store.get(`${job?.data.folder}input.jpg`), photo);
  });

  test('bad input: one clear error with a stable code, nothing stored or enqueued', async () => {
    const cases: [unknown, number, string, RegExp][] = [
      [{ ...record('bad id!') }, 400, 'RECORD_INVALID', /^the record is invalid: id: ids are 1–128 characters/],
      [{ id: 'no-image', model: { name: 'nsfw-mobilenet-v2' } }, 400, 'RECORD_INVALID', /image/],
      [record('text-image', { image: { base64: Buffer.from('hello, not an image').toString('base64') } }), 422, 'IMAGE_UNSUPPORTED_FORMAT', /not JPEG, PNG/],
      [record('bad-b64', { image: { base64: '***' } }), 422, 'IMAGE_BASE64_INVALID', /base64/],
      [record('no-model', { model: { name: 'resnet-9000' } }), 422, 'MODEL_NOT_SERVED', /no worker serves model "resnet-9000"/],
      [record('old-version', { model: { name: 'nsfw-mobilenet-v2', version: 'v0' } }), 422, 'MODEL_VERSION_NOT_SERVED', /served at version nsfwjs-4.4.0, not v0/],
      [record('elsewhere', { image: { uri: 's3://other-bucket/a.jpg' } }), 422, 'IMAGE_URI_OUTSIDE_BUCKET', /inside s3:\/\/local\//],
      [record('missing-ref', { image: { uri: 's3://local/nothing/here.jpg' } }), 422, 'IMAGE_NOT_FOUND', /no object at/],
      [record('both', { explain: { classes: [1], topK: 2 } }), 400, 'RECORD_INVALID', /classes or topK/],
    ];
    for (const [payload, status, code, message] of cases) {
      const response = await h.app.inject({ method: 'POST', url: '/v1/inferences', headers: auth, payload: payload as Record<string, unknown> });
      assert.equal(response.statusCode, status, `${code}: ${response.body}`);
      const { error } = response.json<{ error: { code: string; message: string } }>();
      assert.equal(error.code, code);
      assert.match(error.message, message);
    }
    for (const id of ['text-image', 'no-model', 'missing-ref']) assert.equal(await h.queue.getJob(id), undefined);
  });

  test('no token or a wrong one: 401, and nothing else is revealed', async () => {
    for (const headers of [{}, { authorization: 'Bearer wrong-token-0123456789' }, { authorization: 'Basic abc' }]) {
      const response = await h.app.inject({ method: 'POST', url: '/v1/inferences', headers, payload: record('unauth') });
      assert.equal(response.statusCode, 401);
      assert.equal(response.json<{ error: { code: string } }>().error.code, 'UNAUTHORIZED');
    }
    assert.equal((await h.app.inject({ method: 'GET', url: '/v1/inferences/rec-1' })).statusCode, 401);
  });

  test('a body over the limit is refused with 413', async () => {
    const big = record('too-big', { image: { base64: 'A'.repeat(9 * 1024 * 1024) } });
    const response = await h.app.inject({ method: 'POST', url: '/v1/inferences', headers: auth, payload: big });
    assert.equal(response.statusCode, 413);
    assert.equal(response.json<{ error: { code: string } }>().error.code, 'BODY_TOO_LARGE');
  });
});

describe('POST /v1/inferences:batch', () => {
  let h: IngestHarness;
  before(async () => {
    h = await createIngestHarness({ redisUrl: redis.url, policy: 'confidence<0.5' });
  });
  after(() => h.close());

  test('per-record results: invalid records are refused, their neighbours accepted; capture sampling decides', async () => {
    const scores = (top: number) => ({ classIndex: 0, scores: [top, (1 - top) / 2, (1 - top) / 2] });
    const records = [
      record('b-unsure', { prediction: scores(0.4) }),
      { id: 'b-broken' },
      record('b-sure', { prediction: scores(0.9) }),
      record('b-unsure', { prediction: scores(0.4) }),
    ];
    const response = await h.app.inject({ method: 'POST', url: '/v1/inferences:batch', headers: auth, payload: { records } });
    assert.equal(response.statusCode, 200, response.body);
    const body = response.json<{ accepted: number; rejected: number; results: Record<string, unknown>[] }>();
    assert.equal(body.accepted, 3);
    assert.equal(body.rejected, 1);
    assert.deepEqual(
      body.results.map((r) => [r.index, r.id, r.status ?? (r.error as { code: string }).code, r.duplicate]),
      [
        [0, 'b-unsure', 'queued', false],
        [1, 'b-broken', 'RECORD_INVALID', undefined],
        [2, 'b-sure', 'skipped', false],
        [3, 'b-unsure', 'queued', true],
      ],
    );
    assert.ok(await h.queue.getJob('b-unsure'));
    assert.equal(await h.queue.getJob('b-sure'), undefined, 'not sampled: stored, not explained');
    const status = await h.app.inject({ method: 'GET', url: '/v1/inferences/b-sure', headers: auth });
    assert.equal(status.json<{ status: string }>().status, 'skipped');
    assert.deepEqual(status.json<{ capture: unknown }>().capture, { explain: false, reason: 'not-sampled', policy: 'confidence<0.5' });
  });

  test('more than 1,000 records, or none, is one error', async () => {
    for (const records of [[], Array.from({ length: 1001 }, (_, i) => ({ id: `x${i}` }))]) {
      const response = await h.app.inject({ method: 'POST', url: '/v1/inferences:batch', headers: auth, payload: { records } });
      assert.equal(response.statusCode, 400);
      assert.equal(response.json<{ error: { code: string } }>().error.code, 'BATCH_SIZE');
    }
  });
});

describe('status, backpressure and outages', () => {
  test('GET reports queued, then failed with the code the worker left on the job', async () => {
    const h = await createIngestHarness({ redisUrl: redis.url });
    try {
      await h.app.inject({ method: 'POST', url: '/v1/inferences', headers: auth, payload: record('s-1') });
      const queued = await h.app.inject({ method: 'GET', url: '/v1/inferences/s-1', headers: auth });
      assert.equal(queued.json<{ status: string }>().status, 'queued');
      // A real BullMQ worker fails it the way the explain worker does (`CODE: message`, no retry).
      const worker = new Worker(h.queue.name, async () => {
        throw new UnrecoverableError('IMAGE_CORRUPT: decoding the image: truncated');
      }, { connection: { url: redis.url }, prefix: h.queue.opts.prefix as string });
      await new Promise<void>((resolve) => worker.once('failed', () => resolve()));
      await worker.close();
      const failed = await h.app.inject({ method: 'GET', url: '/v1/inferences/s-1', headers: auth });
      assert.deepEqual(failed.json<{ failure: unknown }>().failure, { code: 'IMAGE_CORRUPT', message: 'decoding the image: truncated' });
      const unknown = await h.app.inject({ method: 'GET', url: '/v1/inferences/never-sent', headers: auth });
      assert.equal(unknown.statusCode, 404);
      assert.equal(unknown.json<{ error: { code: string } }>().error.code, 'INFERENCE_NOT_FOUND');
    } finally {
      await h.close();
    }
  });

  test('a full queue answers 429 with Retry-After and accepts nothing', async () => {
    const h = await createIngestHarness({ redisUrl: redis.url, maxQueueDepth: 2 });
    try {
      for (const id of ['q-1', 'q-2']) assert.equal((await h.app.inject({ method: 'POST', url: '/v1/inferences', headers: auth, payload: record(id) })).statusCode, 202);
      await new Promise((resolve) => setTimeout(resolve, 300)); // the depth is cached for 250 ms
      const full = await h.app.inject({ method: 'POST', url: '/v1/inferences', headers: auth, payload: record('q-3') });
      assert.equal(full.statusCode, 429);
      assert.equal(full.headers['retry-after'], '10');
      assert.equal(full.json<{ error: { code: string } }>().error.code, 'QUEUE_FULL');
      assert.equal(await h.queue.getJob('q-3'), undefined);
    } finally {
      await h.close();
    }
  });

  test('Redis down: 503 with Retry-After, never a silent drop; /readyz says not ready', async () => {
    const ownRedis = await startRedisServer();
    const h = await createIngestHarness({ redisUrl: ownRedis.url });
    try {
      await ownRedis.stop();
      const response = await h.app.inject({ method: 'POST', url: '/v1/inferences', headers: auth, payload: record('down-1') });
      assert.equal(response.statusCode, 503, response.body);
      assert.ok(response.headers['retry-after']);
      assert.equal(response.json<{ error: { code: string } }>().error.code, 'DEPENDENCY_UNAVAILABLE');
      assert.equal((await h.app.inject({ method: 'GET', url: '/readyz' })).statusCode, 503);
    } finally {
      await h.close();
    }
  });
});
