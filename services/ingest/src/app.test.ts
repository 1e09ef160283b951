import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { after, afterEach, before, beforeEach, describe, test } from 'node:test';
import { manifestFileName, predictionDocumentSchema, redisKeys } from '@gradcam/contracts';
import { type RedisServer, startRedisServer } from '@gradcam/dev-services';
import { QueueUnavailableError } from '@gradcam/queue';
import { UnrecoverableError, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { maxImageBytes } from './inline-image.ts';
import { type IngestHarness, auth, createIngestHarness } from './test-support/ingest-harness.ts';

const photo = readFileSync(new URL('../../../test/fixtures/images/sheep-pastoral.jpg', import.meta.url));
const record = (id: string, extra: Record<string, unknown> = {}) => ({
  id,
  model: { name: 'nsfw-mobilenet-v2' },
  image: { base64: photo.toString('base64') },
  ...extra,
});

/** A multipart body of `record` (JSON) and `image` file parts, plus any extra parts. */
function multipartBody(parts: ({ field: string; value: string } | { file: string; data: Buffer })[]) {
  const boundary = 'gradcam-boundary';
  const chunks = parts.map((part) =>
    'field' in part
      ? Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${part.field}"\r\n\r\n${part.value}\r\n`)
      : Buffer.concat([Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${part.file}"; filename="x.jpg"\r\nContent-Type: image/jpeg\r\n\r\n`), part.data, Buffer.from('\r\n')]),
  );
  return { headers: { ...auth, 'content-type': `multipart/form-data; boundary=${boundary}` }, payload: Buffer.concat([...chunks, Buffer.from(`--${boundary}--\r\n`)]) };
}

const padded = (bytes: number) => Buffer.concat([photo, Buffer.alloc(bytes - photo.length)]);

/** The pid of the server behind a connection, from INFO (to freeze it with SIGSTOP). */
async function serverPid(redis: Redis): Promise<number> {
  const pid = Number(/process_id:(\d+)/.exec(await redis.info('server'))?.[1]);
  assert.ok(pid > 0);
  return pid;
}

const captureDecisions = (h: IngestHarness) => h.redis.hgetall(redisKeys(h.queue.opts.prefix as string).captureDecisions);

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

  test('the job and prediction.json carry what identifies the image, for the worker to refuse one replaced since: an inline image\'s size and sha256, a referenced object\'s size and ETag', async () => {
    const inline = await h.app.inject({ method: 'POST', url: '/v1/inferences', headers: auth, payload: record('ident-inline') });
    assert.equal(inline.statusCode, 202, inline.body);
    const inlineJob = await h.queue.getJob('ident-inline');
    const sha256 = createHash('sha256').update(photo).digest('hex');
    assert.deepEqual(inlineJob?.data.image, { key: `${inlineJob?.data.folder}input.jpg`, bytes: photo.length, sha256 });
    await h.store.put('uploads/ident.jpg', photo, { contentType: 'image/jpeg' });
    const head = await h.store.head('uploads/ident.jpg');
    assert.ok(head?.etag !== undefined);
    const uri = 's3://local/uploads/ident.jpg';
    const referenced = await h.app.inject({ method: 'POST', url: '/v1/inferences', headers: auth, payload: record('ident-ref', { image: { uri } }) });
    assert.equal(referenced.statusCode, 202, referenced.body);
    const job = await h.queue.getJob('ident-ref');
    assert.deepEqual(job?.data.image, { uri, bytes: photo.length, etag: head.etag });
    const prediction = predictionDocumentSchema.parse(JSON.parse((await h.store.get(`${job?.data.folder}prediction.json`)).toString()));
    assert.deepEqual(prediction.image, { uri, bytes: photo.length, etag: head.etag });
  });

  test('a resubmitted id is answered from its record: no second job, nothing rewritten', async () => {
    const first = await h.app.inject({ method: 'POST', url: '/v1/inferences', headers: auth, payload: record('rec-dup') });
    assert.equal(first.statusCode, 202);
    const job = await h.queue.getJob('rec-dup');
    const before = (await h.store.get(`${job?.data.folder}prediction.json`)).toString();
    const again = await h.app.inject({ method: 'POST', url: '/v1/inferences', headers: auth, payload: record('rec-dup') });
    assert.equal(again.statusCode, 200);
    assert.equal(again.json<{ duplicate: boolean }>().duplicate, true);
    assert.equal((await h.store.get(`${job?.data.folder}prediction.json`)).toString(), before);
    // Other content under the id is 409 ID_REUSED, nothing rewritten either: id-reused.test.ts.
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
      [{ ...record('bad id!') }, 400, 'RECORD_INVALID', /^the record is invalid: id: ids are 1–128 characters[^(]*$/],
      [{ id: 'no-image', model: { name: 'nsfw-mobilenet-v2' } }, 400, 'RECORD_INVALID', /^the record is invalid: image: image must be \{"base64": "…"\} \(the image bytes\) or \{"uri": "s3:\/\/bucket\/key"\}$/],
      [{ id: 'bad id!', model: {} }, 400, 'RECORD_INVALID', /^the record is invalid: id: ids are .*\(3 issues in all, listed in details\)$/],
      [record('text-image', { image: { base64: Buffer.from('hello, not an image').toString('base64') } }), 422, 'IMAGE_UNSUPPORTED_FORMAT', /not JPEG, PNG/],
      [record('bad-b64', { image: { base64: '***' } }), 422, 'IMAGE_BASE64_INVALID', /base64/],
      [record('empty-b64', { image: { base64: '' } }), 400, 'RECORD_INVALID', /^the record is invalid: image\.base64: empty: the image has no bytes$/],
      [record('zero-bytes', { image: { base64: '==' } }), 422, 'IMAGE_EMPTY', /decodes to zero bytes/],
      // Node drops a last lone character, and needless "=", without a word: the image was cut short.
      [record('b64-lone-last', { image: { base64: `${photo.toString('base64').replace(/=+$/, '').slice(0, 4001)}` } }), 422, 'IMAGE_BASE64_INVALID', /^image\.base64 has 4001 characters before any "=", one more than whole bytes take .*: it was cut short or has a character too many$/],
      [record('b64-lone-padded', { image: { base64: 'A=' } }), 422, 'IMAGE_BASE64_INVALID', /has 1 character before any "="/],
      [record('b64-needless-pad', { image: { base64: `${photo.toString('base64').slice(0, 4000)}=` } }), 422, 'IMAGE_BASE64_INVALID', /^image\.base64 ends with 1 "=" where its length needs none: "=" only fills the last group of 4 characters$/],
      [record('b64-short-pad', { image: { base64: `${photo.toString('base64').slice(0, 4002)}=` } }), 422, 'IMAGE_BASE64_INVALID', /ends with 1 "=" where its length needs 2/],
      [record('no-model', { model: { name: 'resnet-9000' } }), 422, 'MODEL_NOT_SERVED', /^no worker serves model "resnet-9000" \(served: nsfw-mobilenet-v2\)$/],
      [record('elsewhere', { image: { uri: 's3://other-bucket/a.jpg' } }), 422, 'IMAGE_URI_OUTSIDE_BUCKET', /inside s3:\/\/local\//],
      [record('missing-ref', { image: { uri: 's3://local/nothing/here.jpg' } }), 422, 'IMAGE_NOT_FOUND', /no object at/],
      [record('uri-double', { image: { uri: 's3://local/a//b.jpg' } }), 422, 'IMAGE_URI_INVALID', /empty segment/],
      [record('uri-folder', { image: { uri: 's3://local/photos/' } }), 422, 'IMAGE_URI_INVALID', /empty segment/],
      [record('uri-absolute', { image: { uri: 's3://local//abs.jpg' } }), 422, 'IMAGE_URI_INVALID', /absolute/],
      [record('uri-backslash', { image: { uri: 's3://local/a\\b.jpg' } }), 422, 'IMAGE_URI_INVALID', /backslash/],
      [record('both', { explain: { classes: [1], topK: 2 } }), 400, 'RECORD_INVALID', /classes or topK/],
    ];
    for (const [payload, status, code, message] of cases) {
      const response = await h.app.inject({ method: 'POST', url: '/v1/inferences', headers: auth, payload: payload as Record<string, unknown> });
      assert.equal(response.statusCode, status, `${code}: ${response.body}`);
      const { error } = response.json<{ error: { code: string; message: string } }>();
      assert.equal(error.code, code);
      assert.match(error.message, message);
      assert.equal(response.headers['retry-after'], undefined, `${code} is final: no Retry-After`);
    }
    for (const id of ['text-image', 'no-model', 'missing-ref', 'uri-double']) assert.equal(await h.queue.getJob(id), undefined);
    const metrics = (await h.app.inject({ method: 'GET', url: '/metrics' })).body;
    assert.match(metrics, new RegExp(`^gradcam_ingest_records_total\\{outcome="rejected"\\} ${cases.length}$`, 'm'), 'schema failures are rejected records too');
  });

  test('metadata of 150,000 keys (within the bound on a JSON body) is refused whole, in one issue: a small 400, not one entry per key', async () => {
    const keys = Array.from({ length: 150_000 }, (_, i) => `"k${i}":null`).join(',');
    const payload = JSON.stringify(record('flood-1')).replace(/}$/, `,"metadata":{${keys}}}`);
    const response = await h.app.inject({ method: 'POST', url: '/v1/inferences', headers: { ...auth, 'content-type': 'application/json' }, payload });
    assert.equal(response.statusCode, 400);
    const { error } = response.json<{ error: { code: string; message: string; details: { path: string; message: string }[] } }>();
    assert.equal(error.code, 'RECORD_INVALID');
    assert.deepEqual(error.details, [{ path: 'metadata', message: 'metadata holds at most 32 keys' }]);
    assert.ok(response.body.length < 1024, `${response.body.length} bytes`);
  });

  test('a record with many issues lists the first 20 in details, and its message counts them all; a long key is echoed cut short', async () => {
    const metadata = Object.fromEntries(Array.from({ length: 32 }, (_, i) => [`${i}${'k'.repeat(i === 0 ? 100_000 : 70)}`, null]));
    const response = await h.app.inject({ method: 'POST', url: '/v1/inferences', headers: auth, payload: record('many-1', { metadata }) });
    assert.equal(response.statusCode, 400);
    const { error } = response.json<{ error: { code: string; message: string; details: { path: string }[] } }>();
    assert.equal(error.code, 'RECORD_INVALID');
    assert.equal(error.details.length, 20);
    assert.match(error.message, /\(32 issues in all; details lists the first 20\)$/);
    assert.equal(error.details[0]?.path, `metadata.0${'k'.repeat(63)}…`);
    assert.ok(response.body.length < 8 * 1024, `${response.body.length} bytes`);
  });
  test('concurrent submissions of one id: one is accepted, the other told to retry; the decision is counted once', async () => {
    const field = 'nsfw-mobilenet-v2|explain|all';
    const countedBefore = Number((await captureDecisions(h))[field] ?? 0);
    const [a, b] = await Promise.all([
      h.app.inject({ method: 'POST', url: '/v1/inferences', headers: auth, payload: record('race-1', { explain: { topK: 1 }, metadata: { who: 'a' } }) }),
      h.app.inject({ method: 'POST', url: '/v1/inferences', headers: auth, payload: record('race-1', { explain: { topK: 3 }, metadata: { who: 'b' } }) }),
    ]);
    const answers = [a, b].map((r) => [r.statusCode, r.json<{ duplicate?: boolean; error?: { code: string } }>()] as const);
    const accepted = answers.filter(([status]) => status === 202);
    assert.equal(accepted.length, 1, JSON.stringify(answers));
    const [other] = answers.filter(([status]) => status !== 202);
    assert.ok(other);
    // The loser claimed while the winner was storing (409 INFERENCE_IN_PROGRESS), or after it
    // finished (409 ID_REUSED: its content differs from the winner's).
    assert.equal(other[0], 409);
    if (other[1].error?.code === 'INFERENCE_IN_PROGRESS') assert.equal((a.statusCode === 409 ? a : b).headers['retry-after'], '1');
    else assert.equal(other[1].error?.code, 'ID_REUSED');
    const winner = a.statusCode === 202 ? 'a' : 'b';
    const job = await h.queue.getJob('race-1');
    const prediction = JSON.parse((await h.store.get(`${job?.data.folder}prediction.json`)).toString()) as { explain: unknown; metadata: unknown };
    assert.deepEqual(prediction.metadata, { who: winner });
    assert.deepEqual(prediction.explain, job?.data.explain, 'prediction.json and the job come from the same submission');
    assert.equal(Number((await captureDecisions(h))[field]), countedBefore + 1);
    const winning = winner === 'a' ? { explain: { topK: 1 }, metadata: { who: 'a' } } : { explain: { topK: 3 }, metadata: { who: 'b' } };
    const again = await h.app.inject({ method: 'POST', url: '/v1/inferences', headers: auth, payload: record('race-1', winning) });
    assert.deepEqual([again.statusCode, again.json<{ duplicate: boolean }>().duplicate], [200, true]);
  });

  test('a record refused after its id was claimed releases the claim: a retry is accepted at once', async () => {
    const uri = 's3://local/uploads/later.jpg';
    const refused = await h.app.inject({ method: 'POST', url: '/v1/inferences', headers: auth, payload: record('claim-1', { image: { uri } }) });
    assert.equal(refused.json<{ error: { code: string } }>().error.code, 'IMAGE_NOT_FOUND');
    assert.equal(await h.redis.exists(redisKeys(h.queue.opts.prefix as string).inference('claim-1')), 0, 'no claim is left behind');
    await h.store.put('uploads/later.jpg', photo, { contentType: 'image/jpeg' });
    const retried = await h.app.inject({ method: 'POST', url: '/v1/inferences', headers: auth, payload: record('claim-1', { image: { uri } }) });
    assert.equal(retried.statusCode, 202, retried.body);
  });

  test('queued but its id not recorded: 503 says so (not "nothing was accepted"), and a retry completes it without a second job, counting its decision once', async () => {
    const decisionsKey = redisKeys(h.queue.opts.prefix as string).captureDecisions;
    const field = 'nsfw-mobilenet-v2|explain|all';
    const counts = await h.redis.hgetall(decisionsKey);
    await h.redis.del(decisionsKey);
    await h.redis.set(decisionsKey, 'not a hash'); // the count cannot be written: recording fails after the enqueue
    let response;
    try {
      response = await h.app.inject({ method: 'POST', url: '/v1/inferences', headers: auth, payload: record('half-1') });
    } finally {
      await h.redis.del(decisionsKey);
      if (Object.keys(counts).length > 0) await h.redis.hset(decisionsKey, counts);
    }
    assert.equal(response.statusCode, 503, response.body);
    const { error } = response.json<{ error: { code: string; message: string } }>();
    assert.equal(error.code, 'ACCEPT_INCOMPLETE');
    assert.doesNotMatch(error.message, /nothing was accepted/);
    // Redis's own words go to the log, not to the client.
    assert.doesNotMatch(error.message, /WRONGTYPE/);
    assert.match(String(h.unavailableErrors.at(-1)), /WRONGTYPE/);
    assert.ok(response.headers['retry-after']);
    assert.ok(await h.queue.getJob('half-1'));
    // The failed commit wrote nothing (Redis does not undo a script that fails partway: it wrote the
    // entry, then failed counting, and the retry was a duplicate whose decision was never counted).
    assert.equal(await h.redis.exists(redisKeys(h.queue.opts.prefix as string).inference('half-1')), 0, 'no entry, no claim left');
    const retried = await h.app.inject({ method: 'POST', url: '/v1/inferences', headers: auth, payload: record('half-1') });
    assert.equal(retried.statusCode, 202, retried.body);
    assert.equal(Number((await captureDecisions(h))[field]), Number(counts[field] ?? 0) + 1, 'its decision is counted, once');
    assert.equal((await h.app.inject({ method: 'GET', url: '/v1/inferences/half-1', headers: auth })).json<{ status: string }>().status, 'queued');
    assert.equal((await h.queue.getJobs(['waiting'])).filter((j) => j.id === 'half-1').length, 1);
    const again = await h.app.inject({ method: 'POST', url: '/v1/inferences', headers: auth, payload: record('half-1') });
    assert.deepEqual([again.statusCode, again.json<{ duplicate: boolean }>().duplicate], [200, true]);
  });

  test('a JSON body dense with keys is 400 BODY_TOO_COMPLEX before it is parsed (parsing it would hold every request of the process)', async () => {
    const metadata = `{${Array.from({ length: 250_000 }, (_, i) => `"k${i}":0`).join(',')}}`;
    const payload = `{"id":"dense-1","model":{"name":"nsfw-mobilenet-v2"},"image":{"base64":"${photo.toString('base64')}"},"metadata":${metadata}}`;
    for (const url of ['/v1/inferences', '/v1/inferences:batch']) {
      const response = await h.app.inject({ method: 'POST', url, headers: { ...auth, 'content-type': 'application/json' }, payload: url.endsWith('batch') ? `{"records":[${payload}]}` : payload });
      assert.equal(response.statusCode, 400, response.body);
      assert.equal(response.json<{ error: { code: string } }>().error.code, 'BODY_TOO_COMPLEX');
    }
    assert.equal(await h.queue.getJob('dense-1'), undefined);
  });

  test('multipart limits: extra files or fields are MULTIPART_INVALID; the whole request is held to GRADCAM_MAX_BODY_BYTES (8 MiB here)', async () => {
    const recordField = (id: string) => ({ field: 'record', value: JSON.stringify({ id, model: { name: 'nsfw-mobilenet-v2' } }) });
    const cases: [Parameters<typeof multipartBody>[0], number, string][] = [
      [[recordField('mp-two'), { file: 'image', data: photo }, { file: 'image', data: photo }], 400, 'MULTIPART_INVALID'],
      [[...['a', 'b', 'c', 'd'].map((name) => ({ field: name, value: 'x' })), recordField('mp-fields'), { file: 'image', data: photo }], 400, 'MULTIPART_INVALID'],
      [[recordField('mp-over-body'), { file: 'image', data: padded(9 * 1024 * 1024) }], 413, 'BODY_TOO_LARGE'],
      // The image fits the body limit alone; with the record field and the framing the request does not.
      [[recordField('mp-just-over'), { file: 'image', data: padded(8 * 1024 * 1024 - 16) }], 413, 'BODY_TOO_LARGE'],
    ];
    for (const [parts, status, code] of cases) {
      const response = await h.app.inject({ method: 'POST', url: '/v1/inferences', ...multipartBody(parts) });
      assert.equal(response.statusCode, status, response.body);
      assert.equal(response.json<{ error: { code: string } }>().error.code, code);
    }
    // Without a content-length (a chunked upload) the bytes are counted as they arrive.
    const chunked = multipartBody([recordField('mp-chunked'), { file: 'image', data: padded(8 * 1024 * 1024 - 16) }]);
    const streamed = await h.app.inject({ method: 'POST', url: '/v1/inferences', headers: chunked.headers, payload: Readable.from([chunked.payload]) });
    assert.deepEqual([streamed.statusCode, streamed.json<{ error: { code: string } }>().error.code], [413, 'BODY_TOO_LARGE']);
    const fits = await h.app.inject({ method: 'POST', url: '/v1/inferences', ...multipartBody([recordField('mp-fits'), { file: 'image', data: padded(8 * 1024 * 1024 - 1024) }]) });
    assert.equal(fits.statusCode, 202, fits.body);
    for (const id of ['mp-over-body', 'mp-just-over', 'mp-chunked']) assert.equal(await h.queue.getJob(id), undefined);
  });

  test('multipart under a body limit above the image limit: an image over 32 MiB is IMAGE_TOO_LARGE, one of exactly 32 MiB is accepted', async () => {
    const big = await createIngestHarness({ redisUrl: redis.url, maxBodyBytes: 64 * 1024 * 1024 });
    try {
      const recordField = (id: string) => ({ field: 'record', value: JSON.stringify({ id, model: { name: 'nsfw-mobilenet-v2' } }) });
      const over = await big.app.inject({ method: 'POST', url: '/v1/inferences', ...multipartBody([recordField('mp-big'), { file: 'image', data: padded(maxImageBytes + 1) }]) });
      assert.deepEqual([over.statusCode, over.json<{ error: { code: string } }>().error.code], [413, 'IMAGE_TOO_LARGE']);
      // 32 MiB is not a multiple of 3: its base64 ends in "=", which carries no byte.
      const exact = await big.app.inject({ method: 'POST', url: '/v1/inferences', ...multipartBody([recordField('mp-exact'), { file: 'image', data: padded(maxImageBytes) }]) });
      assert.equal(exact.statusCode, 202, exact.body);
    } finally {
      await big.close();
    }
  });

  test('every 401 says WWW-Authenticate: Bearer (RFC 9110 §15.5.2), on the record routes, a status and an erasure, so a client told Basic learns which scheme to send', async () => {
    for (const [method, url] of [['POST', '/v1/inferences'], ['POST', '/v1/inferences:batch'], ['GET', '/v1/inferences/rec-1'], ['DELETE', '/v1/inferences/rec-1']] as const) {
      for (const headers of [{}, { authorization: 'Basic YTpi' }, { authorization: 'Bearer wrong-token-0123456789' }]) {
        const response = await h.app.inject({ method, url, headers });
        assert.equal(response.statusCode, 401, `${method} ${url}`);
        assert.equal(response.headers['www-authenticate'], 'Bearer realm="gradcam"', `${method} ${url} ${JSON.stringify(headers)}`);
      }
    }
    const ok = await h.app.inject({ method: 'GET', url: '/v1/inferences/never-accepted', headers: auth });
    assert.equal(ok.headers['www-authenticate'], undefined, 'only a 401 asks for credentials');
  });

  test('no token or a wrong one: 401, and nothing else is revealed', async () => {
    for (const headers of [{}, { authorization: 'Bearer wrong-token-0123456789' }, { authorization: 'Basic abc' }]) {
      const response = await h.app.inject({ method: 'POST', url: '/v1/inferences', headers, payload: record('unauth') });
      assert.equal(response.statusCode, 401);
      assert.equal(response.json<{ error: { code: string } }>().error.code, 'UNAUTHORIZED');
      // Where a local stack keeps its token, also when GRADCAM_STATE_DIR moved its state folder.
      assert.match(response.json<{ error: { message: string } }>().error.message, /api-token in its state folder: \.gradcam\/api-token unless GRADCAM_STATE_DIR names another/);
    }
    assert.equal((await h.app.inject({ method: 'GET', url: '/v1/inferences/rec-1' })).statusCode, 401);
  });

  test('a body over the limit is refused with 413', async () => {
    const big = record('too-big', { image: { base64: 'A'.repeat(9 * 1024 * 1024) } });
    const response = await h.app.inject({ method: 'POST', url: '/v1/inferences', headers: auth, payload: big });
    assert.equal(response.statusCode, 413);
    assert.equal(response.json<{ error: { code: string } }>().error.code, 'BODY_TOO_LARGE');
  });

  test('an empty body is told as such, whatever its Content-Type', async () => {
    // With no body there is no Content-Type to refuse: it read "expected object, received undefined".
    const bare = await h.app.inject({ method: 'POST', url: '/v1/inferences', headers: auth });
    assert.equal(bare.statusCode, 400);
    assert.deepEqual(bare.json<{ error: { code: string; message: string } }>().error, {
      code: 'RECORD_INVALID',
      message: 'the request has no body: send the record as JSON (Content-Type: application/json) or as multipart/form-data',
    });
    const json = await h.app.inject({ method: 'POST', url: '/v1/inferences', headers: { ...auth, 'content-type': 'application/json' } });
    assert.equal(json.statusCode, 400);
    assert.match(json.json<{ error: { code: string; message: string } }>().error.message, /Body cannot be empty/);
  });
});

describe('POST /v1/inferences as multipart, prototype keys', () => {
  // Its own harness: the refusals count as rejected records, which other tests count.
  let h: IngestHarness;
  before(async () => {
    h = await createIngestHarness({ redisUrl: redis.url });
  });
  after(() => h.close());

  test('multipart: a record holding a "__proto__" key, or constructor.prototype, is 400 MULTIPART_INVALID as the JSON body is refused, never accepted with the key dropped', async () => {
    const boundary = 'gradcam-boundary';
    const upload = (recordJson: string, typed: boolean) =>
      h.app.inject({
        method: 'POST',
        url: '/v1/inferences',
        headers: { ...auth, 'content-type': `multipart/form-data; boundary=${boundary}` },
        payload: Buffer.concat([
          Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="record"\r\n${typed ? 'Content-Type: application/json\r\n' : ''}\r\n${recordJson}\r\n`),
          Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="image"; filename="sheep.jpg"\r\nContent-Type: image/jpeg\r\n\r\n`),
          photo,
          Buffer.from(`\r\n--${boundary}--\r\n`),
        ]),
      });
    const withMetadata = (id: string, metadata: string) => `{"id":"${id}","model":{"name":"nsfw-mobilenet-v2"},"metadata":${metadata}}`;
    const poisoned: [string, string][] = [
      ['mp-proto', withMetadata('mp-proto', '{"__proto__":"x","a":"b"}')],
      ['mp-proto-escaped', withMetadata('mp-proto-escaped', '{"\\u005f_proto__":"x","a":"b"}')],
      ['mp-proto-top', '{"id":"mp-proto-top","model":{"name":"nsfw-mobilenet-v2"},"__proto__":{"metadata":{"a":"b"}}}'],
      ['mp-constructor', withMetadata('mp-constructor', '{"constructor":{"prototype":{"a":"b"}}}')],
    ];
    for (const [id, recordJson] of poisoned) {
      for (const typed of [false, true]) {
        const response = await upload(recordJson, typed);
        assert.deepEqual([response.statusCode, response.json<{ error?: { code: string } }>().error?.code], [400, 'MULTIPART_INVALID'], `${id}, typed ${typed}: ${response.body}`);
        assert.match(response.body, /__proto__/, id);
      }
      assert.equal(await h.queue.getJob(id), undefined, id);
      // The JSON body path (Fastify's parser) refuses the very same record.
      const asJson = `{"image":{"base64":"${photo.toString('base64')}"},${recordJson.slice(1)}`;
      const json = await h.app.inject({ method: 'POST', url: '/v1/inferences', headers: { ...auth, 'content-type': 'application/json' }, payload: asJson });
      assert.equal(json.statusCode, 400, `${id} as JSON: ${json.body}`);
    }
    // A key named "constructor" alone is an ordinary key, kept like any other.
    const plain = await upload(withMetadata('mp-constructor-key', '{"constructor":"x","a":"b"}'), false);
    assert.equal(plain.statusCode, 202, plain.body);
    const job = await h.queue.getJob('mp-constructor-key');
    const stored = JSON.parse((await h.store.get(`${job?.data.folder}prediction.json`)).toString()) as { metadata?: unknown };
    assert.deepEqual(stored.metadata, { constructor: 'x', a: 'b' });
  });
});

describe('served models and rolling upgrades', () => {
  let h: IngestHarness;
  let keys: ReturnType<typeof redisKeys>;
  beforeEach(async () => {
    h = await createIngestHarness({ redisUrl: redis.url });
    keys = redisKeys(h.queue.opts.prefix as string);
  });
  afterEach(() => h.close());
  const beat = (...members: string[]) => h.redis.zadd(keys.liveModelVersions, ...members.flatMap((m) => [Date.now(), m]));
  const post = (id: string, version?: string) =>
    h.app.inject({ method: 'POST', url: '/v1/inferences', headers: auth, payload: record(id, { model: { name: 'nsfw-mobilenet-v2', ...(version && { version }) } }) });

  test('during a rolling upgrade a version some live worker serves is accepted, though the last worker to start announced another', async () => {
    await h.redis.hset(keys.servedModels, { 'nsfw-mobilenet-v2': 'v2' });
    await beat('nsfw-mobilenet-v2@v1', 'nsfw-mobilenet-v2@v2');
    for (const version of ['v1', 'v2']) {
      const response = await post(`roll-${version}`, version);
      assert.equal(response.statusCode, 202, response.body);
      assert.equal((await h.queue.getJob(`roll-${version}`))?.data.model.version, version);
    }
    const filled = await post('roll-none');
    assert.equal((await h.queue.getJob('roll-none'))?.data.model.version, 'v2', filled.body);
  });

  test('a missing version takes a live one when the announced version has no live worker', async () => {
    await h.redis.hset(keys.servedModels, { 'nsfw-mobilenet-v2': 'v1' }); // an old worker restarted last, then stopped
    await h.redis.zadd(keys.liveModelVersions, Date.now() - 60_000, 'nsfw-mobilenet-v2@v1');
    await beat('nsfw-mobilenet-v2@v2');
    assert.equal((await post('lapsed-1')).statusCode, 202);
    assert.equal((await h.queue.getJob('lapsed-1'))?.data.model.version, 'v2');
  });

  test('a version no live worker serves is a 503 with Retry-After (its workers may be starting), not a final 4xx', async () => {
    await h.redis.zadd(keys.liveModelVersions, Date.now() - 60_000, 'nsfw-mobilenet-v2@v0'); // gone: lapsed
    for (const version of ['v0', 'v9']) {
      const response = await post(`ver-${version}`, version);
      assert.equal(response.statusCode, 503, response.body);
      assert.equal(response.headers['retry-after'], '10');
      assert.equal(response.json<{ error: { code: string } }>().error.code, 'MODEL_VERSION_NOT_SERVED');
      assert.match(response.json<{ error: { message: string } }>().error.message, new RegExp(`no live worker serves model "nsfw-mobilenet-v2" at version ${version} now \\(served: nsfwjs-4.4.0\\)`));
    }
    // In a batch, the record's own error carries the wait (a batch answer has no header per record).
    const batch = await h.app.inject({ method: 'POST', url: '/v1/inferences:batch', headers: auth, payload: { records: [record('ver-ok'), record('ver-v9b', { model: { name: 'nsfw-mobilenet-v2', version: 'v9' } })] } });
    assert.equal(batch.statusCode, 200, batch.body);
    const [ok, waiting] = batch.json<{ results: { status?: string; error?: { code: string; retryAfter?: number } }[] }>().results;
    assert.equal(ok?.status, 'queued');
    assert.deepEqual(waiting?.error && [waiting.error.code, waiting.error.retryAfter], ['MODEL_VERSION_NOT_SERVED', 10]);
    await beat('nsfw-mobilenet-v2@v9'); // its workers have started: the retry goes through
    assert.equal((await post('ver-v9', 'v9')).statusCode, 202);
  });

  test('a fresh deployment (no worker has announced anything yet) answers 503 with Retry-After; an unknown model among announced ones stays 422', async () => {
    await h.redis.del(keys.servedModels);
    const early = await post('fresh-1');
    assert.equal(early.statusCode, 503, early.body);
    assert.equal(early.headers['retry-after'], '10');
    assert.equal(early.json<{ error: { code: string } }>().error.code, 'MODELS_NOT_ANNOUNCED');
    assert.match(early.json<{ error: { message: string } }>().error.message, /no worker has announced its models yet/);
    // A batch whose every record got that 503 is answered it as a whole; one that also holds a record
    // refused for its content answers per record, so the client learns of the bad one now.
    const batch = (records: unknown[]) => h.app.inject({ method: 'POST', url: '/v1/inferences:batch', headers: auth, payload: { records } });
    const whole = await batch([record('fresh-3'), record('fresh-4')]);
    assert.equal(whole.statusCode, 503, whole.body);
    assert.equal(whole.json<{ error: { code: string } }>().error.code, 'MODELS_NOT_ANNOUNCED');
    const mixed = await batch([record('fresh-5'), { id: 'fresh-broken' }]);
    assert.equal(mixed.statusCode, 200, mixed.body);
    const codes = mixed.json<{ results: { error?: { code: string } }[] }>().results.map((r) => r.error?.code);
    assert.deepEqual(codes, ['MODELS_NOT_ANNOUNCED', 'RECORD_INVALID']);
    await beat('nsfw-mobilenet-v2@v3'); // a worker's heartbeat alone is enough
    assert.equal((await post('fresh-1')).statusCode, 202);
    const unknown = await h.app.inject({ method: 'POST', url: '/v1/inferences', headers: auth, payload: record('fresh-2', { model: { name: 'resnet-9000' } }) });
    assert.equal(unknown.statusCode, 422);
    assert.equal(unknown.json<{ error: { code: string } }>().error.code, 'MODEL_NOT_SERVED');
  });
});

describe('POST /v1/inferences:batch', () => {
  let h: IngestHarness;
  before(async () => {
    h = await createIngestHarness({ redisUrl: redis.url, policy: 'confidence<0.5' });
  });
  after(() => h.close());

  test('a batch that is not {"records": [...]} as JSON says what a batch is: multipart 415 (one record goes to POST /v1/inferences), a body without records 400 BATCH_INVALID', async () => {
    const multipart = multipartBody([{ field: 'record', value: JSON.stringify(record('b-mp')) }, { file: 'image', data: photo }]);
    const asMultipart = await h.app.inject({ method: 'POST', url: '/v1/inferences:batch', ...multipart });
    assert.deepEqual([asMultipart.statusCode, asMultipart.json<{ error: { code: string } }>().error.code], [415, 'MEDIA_TYPE_UNSUPPORTED']);
    assert.match(asMultipart.json<{ error: { message: string } }>().error.message, /^a batch is JSON only: .*multipart\/form-data carries one record and its image, to POST \/v1\/inferences$/);
    const noRecords = await h.app.inject({ method: 'POST', url: '/v1/inferences:batch', headers: auth, payload: { record: record('b-one') } });
    assert.deepEqual([noRecords.statusCode, noRecords.json<{ error: { code: string } }>().error.code], [400, 'BATCH_INVALID']);
    assert.equal(await h.queue.getJob('b-mp'), undefined);
  });

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
    const body = response.json<{ accepted: number; duplicates: number; rejected: number; results: Record<string, unknown>[] }>();
    assert.equal(body.accepted, 3);
    assert.equal(body.duplicates, 1, 'of the accepted, the repeat of b-unsure was accepted before');
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
    assert.equal(body.results[3]?.model, undefined, 'a repeat within the batch carries no model: it is not counted again');
    const metrics = (await h.app.inject({ method: 'GET', url: '/metrics' })).body;
    assert.match(metrics, /^gradcam_ingest_records_total\{outcome="rejected"\} 1$/m, 'the record failing its schema is counted as rejected');
    assert.match(metrics, /^gradcam_ingest_records_total\{outcome="accepted"\} 2$/m);
    assert.match(metrics, /^gradcam_ingest_capture_decisions_total\{model="nsfw-mobilenet-v2",decision="explain",reason="low-confidence"\} 1$/m);
    assert.equal((await captureDecisions(h))['nsfw-mobilenet-v2|explain|low-confidence'], '1');
    assert.ok(await h.queue.getJob('b-unsure'));
    assert.equal(await h.queue.getJob('b-sure'), undefined, 'not sampled: stored, not explained');
    const status = await h.app.inject({ method: 'GET', url: '/v1/inferences/b-sure', headers: auth });
    assert.equal(status.json<{ status: string }>().status, 'skipped');
    assert.deepEqual(status.json<{ capture: unknown }>().capture, { explain: false, reason: 'not-sampled', policy: 'confidence<0.5' });
  });

  test('a repeat of an id whose first copy was refused for its content is judged on its own', async () => {
    const records = [
      record('same-1', { model: { name: 'resnet-9000' } }),
      record('same-1'),
      record('same-1'),
      record('same-2', { image: { uri: 's3://local/nothing/here.jpg' } }),
      record('same-2', { image: { uri: 's3://local/nothing/there.jpg' } }),
    ];
    const response = await h.app.inject({ method: 'POST', url: '/v1/inferences:batch', headers: auth, payload: { records } });
    assert.equal(response.statusCode, 200, response.body);
    const body = response.json<{ accepted: number; duplicates: number; rejected: number; results: Record<string, unknown>[] }>();
    assert.deepEqual(
      body.results.map((r) => [r.index, r.id, r.status === undefined ? (r.error as { code: string }).code : 'accepted', r.duplicate]),
      [
        [0, 'same-1', 'MODEL_NOT_SERVED', undefined],
        [1, 'same-1', 'accepted', false],
        [2, 'same-1', 'accepted', true],
        [3, 'same-2', 'IMAGE_NOT_FOUND', undefined],
        [4, 'same-2', 'IMAGE_NOT_FOUND', undefined],
      ],
    );
    assert.match(String((body.results[4]?.error as { message: string }).message), /there\.jpg/, 'the second copy was checked itself');
    // Three copies of same-1: one refused, one accepted, one a duplicate of it. One record is new.
    assert.deepEqual([body.accepted, body.duplicates, body.rejected], [2, 1, 3]);
    const again = await h.app.inject({ method: 'POST', url: '/v1/inferences:batch', headers: auth, payload: { records: [record('same-1'), record('same-3')] } });
    assert.deepEqual(
      [again.json<{ accepted: number }>().accepted, again.json<{ duplicates: number }>().duplicates],
      [2, 1],
      'an id accepted by an earlier request is a duplicate too',
    );
    const status = await h.app.inject({ method: 'GET', url: '/v1/inferences/same-1', headers: auth });
    assert.equal(status.statusCode, 200, status.body);
  });

  test('more than 1,000 records, or none, is one error', async () => {
    for (const records of [[], Array.from({ length: 1001 }, (_, i) => ({ id: `x${i}` }))]) {
      const response = await h.app.inject({ method: 'POST', url: '/v1/inferences:batch', headers: auth, payload: { records } });
      assert.equal(response.statusCode, 400);
      assert.equal(response.json<{ error: { code: string } }>().error.code, 'BATCH_SIZE');
    }
  });
});

describe('routes and ids', () => {
  let h: IngestHarness;
  before(async () => {
    h = await createIngestHarness({ redisUrl: redis.url });
  });
  after(() => h.close());

  test('ids of every valid length are routed, up to 128 characters (past Fastify\'s default parameter limit of 100)', async () => {
    for (const id of ['a', 'i'.repeat(100), 'j'.repeat(101), `${'k'.repeat(126)}_-`]) {
      const accepted = await h.app.inject({ method: 'POST', url: '/v1/inferences', headers: auth, payload: record(id) });
      assert.equal(accepted.statusCode, 202, accepted.body);
      const status = await h.app.inject({ method: 'GET', url: `/v1/inferences/${id}`, headers: auth });
      assert.equal(status.statusCode, 200, `${id.length} characters: ${status.body}`);
      assert.equal(status.json<{ id: string; status: string }>().id, id);
    }
    const unknown = await h.app.inject({ method: 'GET', url: `/v1/inferences/${'u'.repeat(128)}`, headers: auth });
    assert.equal(unknown.json<{ error: { code: string } }>().error.code, 'INFERENCE_NOT_FOUND');
  });

  test('an invalid id, however long, is 400 ID_INVALID in the API error shape', async () => {
    for (const id of ['x'.repeat(129), 'y'.repeat(300), 'bad.id', 'a%2Fb', 'caf%C3%A9', '%E0%A4%A']) {
      const response = await h.app.inject({ method: 'GET', url: `/v1/inferences/${id}`, headers: auth });
      const body = response.json<{ error: { code: string; message: string } }>();
      const expected = id === '%E0%A4%A' ? [400, 'URL_MALFORMED'] : [400, 'ID_INVALID'];
      assert.deepEqual([response.statusCode, body.error.code], expected, `${id.slice(0, 12)}… (${id.length}): ${response.body}`);
      assert.deepEqual(Object.keys(body), ['error']);
      assert.equal(response.headers['x-content-type-options'], 'nosniff');
    }
  });

  test('an unknown route is 404 ROUTE_NOT_FOUND in the API error shape, with or without a token', async () => {
    for (const [method, url, headers] of [['GET', '/v2/inferences/a', auth], ['GET', '/nowhere', {}], ['GET', '/v1/inferences/a/b', auth]] as const) {
      const response = await h.app.inject({ method, url, headers });
      assert.equal(response.statusCode, 404, `${method} ${url}`);
      assert.equal(response.json<{ error: { code: string } }>().error.code, 'ROUTE_NOT_FOUND');
      assert.equal(response.headers['x-content-type-options'], 'nosniff');
    }
  });

  test('a known path asked with another method is 405 METHOD_NOT_ALLOWED with Allow (RFC 9110), with or without a token, not a 404 saying the route does not exist', async () => {
    for (const [method, url, headers, allow] of [
      ['PUT', '/v1/inferences/a', auth, 'DELETE, GET, HEAD'],
      ['PATCH', '/v1/inferences/a', {}, 'DELETE, GET, HEAD'],
      ['GET', '/v1/inferences', auth, 'POST'],
      ['OPTIONS', '/v1/inferences', {}, 'POST'],
      ['GET', '/v1/inferences:batch', auth, 'POST'],
      ['POST', '/healthz', {}, 'GET, HEAD'],
    ] as const) {
      const response = await h.app.inject({ method, url, headers });
      assert.equal(response.statusCode, 405, `${method} ${url}: ${response.body}`);
      assert.equal(response.headers.allow, allow, `${method} ${url}`);
      const body = response.json<{ error: { code: string; message: string } }>();
      assert.deepEqual(Object.keys(body), ['error']);
      assert.equal(body.error.code, 'METHOD_NOT_ALLOWED');
      assert.equal(body.error.message, `${url} does not take ${method}; it takes ${allow}`);
      assert.equal(response.headers['x-content-type-options'], 'nosniff');
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

  test('a stored document failing its schema is a 500 INTERNAL, not a 503 to retry forever', async () => {
    const h = await createIngestHarness({ redisUrl: redis.url });
    try {
      await h.app.inject({ method: 'POST', url: '/v1/inferences', headers: auth, payload: record('bad-manifest') });
      const job = await h.queue.getJob('bad-manifest');
      assert.ok(job);
      await h.store.put(`${job.data.folder}${manifestFileName}`, Buffer.from('{"schemaVersion": "nonsense"}'), { contentType: 'application/json' });
      await job.remove(); // as retention would: the status then comes from the stored manifest
      const response = await h.app.inject({ method: 'GET', url: '/v1/inferences/bad-manifest', headers: auth });
      assert.equal(response.statusCode, 500, response.body);
      assert.equal(response.json<{ error: { code: string } }>().error.code, 'INTERNAL');
      assert.equal(response.headers['retry-after'], undefined);
      assert.equal(h.internalErrors.length, 1, 'the whole error goes to the logs');
      assert.match(String(h.internalErrors[0]), /schemaVersion/);
      // The client gets a fixed line naming the request id the log has the error under, never the error's words.
      const { message, details } = response.json<{ error: { message: string; details: unknown } }>().error;
      assert.doesNotMatch(response.body, /schemaVersion|nonsense|\/tmp\//);
      assert.equal(message, `an unexpected error occurred; the service's log has the details under request id ${h.internalErrorIds[0]}`);
      assert.deepEqual(details, { requestId: h.internalErrorIds[0] });
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

  test('Redis frozen (socket open, no answers): 503 within seconds instead of a hang', { timeout: 30_000 }, async () => {
    const ownRedis = await startRedisServer();
    const h = await createIngestHarness({ redisUrl: ownRedis.url });
    const pid = await serverPid(h.redis);
    try {
      process.kill(pid, 'SIGSTOP');
      const started = Date.now();
      const response = await h.app.inject({ method: 'POST', url: '/v1/inferences', headers: auth, payload: record('frozen-1') });
      assert.ok(Date.now() - started < 6_000, `answered after ${Date.now() - started} ms`);
      assert.equal(response.statusCode, 503, response.body);
      assert.ok(response.headers['retry-after']);
      assert.equal(response.json<{ error: { code: string } }>().error.code, 'DEPENDENCY_UNAVAILABLE');
    } finally {
      process.kill(pid, 'SIGCONT');
      await h.close();
      await ownRedis.stop();
    }
  });

  test('Redis down: 503 with Retry-After, never a silent drop; /readyz says not ready', async () => {
    const ownRedis = await startRedisServer();
    const h = await createIngestHarness({ redisUrl: ownRedis.url });
    try {
      // Ready once: from then on a failing /readyz is an outage, told to the log at once.
      assert.equal((await h.app.inject({ method: 'GET', url: '/readyz' })).statusCode, 200);
      await ownRedis.stop();
      const response = await h.app.inject({ method: 'POST', url: '/v1/inferences', headers: auth, payload: record('down-1') });
      assert.equal(response.statusCode, 503, response.body);
      assert.ok(response.headers['retry-after']);
      assert.equal(response.json<{ error: { code: string } }>().error.code, 'DEPENDENCY_UNAVAILABLE');
      // The error's own words (they name hosts and ports) are for the log only.
      assert.match(response.json<{ error: { message: string } }>().error.message, /^Redis is unavailable; nothing was accepted, retry later \(request id [0-9a-f-]{36}\)$/);
      assert.ok(h.unavailableErrors.some((e) => e instanceof QueueUnavailableError), 'the cause goes to the log');
      // A read accepts nothing: its 503 does not say that nothing was accepted.
      const status = await h.app.inject({ method: 'GET', url: '/v1/inferences/down-1', headers: auth });
      assert.equal(status.statusCode, 503, status.body);
      assert.match(status.json<{ error: { message: string } }>().error.message, /^Redis is unavailable; retry later \(request id [0-9a-f-]{36}\)$/);
      const readyz = await h.app.inject({ method: 'GET', url: '/readyz' });
      // Asked without a token: the dependency, not its error (which names hosts and ports).
      assert.deepEqual([readyz.statusCode, readyz.json()], [503, { status: 'not-ready', reason: 'redis: unavailable' }]);
      assert.equal(h.notReady.length, 1, 'the whole error goes to the log');
      assert.ok((h.notReady[0] as Error).cause !== undefined);
    } finally {
      await h.close();
    }
  });
});
