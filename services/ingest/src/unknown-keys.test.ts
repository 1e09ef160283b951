import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { auth, useIngestHarness } from './test-support/ingest-harness.ts';

// A key the record schema does not know was dropped without a word: a misspelt "explian" or
// "model.verison" was accepted (202) with the default explain request and the served version.

const photo = readFileSync(new URL('../../../test/fixtures/images/sheep-pastoral.jpg', import.meta.url));
const record = (id: string, extra: Record<string, unknown> = {}) => ({ id, model: { name: 'nsfw-mobilenet-v2' }, image: { base64: photo.toString('base64') }, ...extra });

const h = useIngestHarness();

type ErrorBody = { error: { code: string; message: string; details: { path: string; message: string }[] } };

test('a record with a misspelt key is 400 RECORD_INVALID naming it (and the key it is near); nothing is stored or queued', async () => {
  const cases: [Record<string, unknown>, string][] = [
    [record('typo-top', { explian: { methods: ['layercam'] } }), 'the record is invalid: unknown key "explian" (did you mean "explain"?)'],
    [record('typo-model', { model: { name: 'nsfw-mobilenet-v2', verison: 'x' } }), 'the record is invalid: model: unknown key "verison" (did you mean "version"?)'],
    [record('typo-explain', { explain: { method: ['layercam'] } }), 'the record is invalid: explain: unknown key "method" (did you mean "methods"?)'],
    [record('typo-prediction', { prediction: { classIndex: 2, score: [0.1] } }), 'the record is invalid: prediction: unknown key "score" (did you mean "scores"?)'],
    [record('typo-image', { image: { base64: photo.toString('base64'), uri: 's3://local/a.jpg' } }), 'the record is invalid: image: image takes "base64" or "uri", not both'],
  ];
  for (const [payload, message] of cases) {
    const response = await h.app.inject({ method: 'POST', url: '/v1/inferences', headers: auth, payload });
    assert.equal(response.statusCode, 400, response.body);
    const { error } = response.json<ErrorBody>();
    assert.deepEqual([error.code, error.message], ['RECORD_INVALID', message]);
    assert.equal(await h.queue.getJob(payload.id as string), undefined, payload.id as string);
    assert.equal((await h.app.inject({ method: 'GET', url: `/v1/inferences/${payload.id as string}`, headers: auth })).statusCode, 404);
  }
  const several = await h.app.inject({ method: 'POST', url: '/v1/inferences', headers: auth, payload: record('typo-all', { model: { name: 'nsfw-mobilenet-v2', verison: 'x' }, explian: {}, metdata: {} }) });
  assert.deepEqual(several.json<ErrorBody>().error.details, [
    { path: 'model', message: 'unknown key "verison" (did you mean "version"?)' },
    { path: '', message: 'unknown keys "explian" (did you mean "explain"?), "metdata" (did you mean "metadata"?)' },
  ]);
});

test('metadata stays an open map, and a record with only known keys keeps what it asked for', async () => {
  const response = await h.app.inject({ method: 'POST', url: '/v1/inferences', headers: auth, payload: record('keys-ok', { explain: { methods: ['layercam'] }, metadata: { verison: 'mine', anything: 1 } }) });
  assert.equal(response.statusCode, 202, response.body);
  const job = await h.queue.getJob('keys-ok');
  assert.deepEqual(job?.data.explain, { methods: ['layercam'] });
  const prediction = JSON.parse((await h.store.get(`${job?.data.folder}prediction.json`)).toString()) as { metadata: unknown };
  assert.deepEqual(prediction.metadata, { verison: 'mine', anything: 1 });
});

test('in a batch the record with an unknown key is refused alone; in a multipart upload the record part is held to the same keys', async () => {
  const batch = await h.app.inject({ method: 'POST', url: '/v1/inferences:batch', headers: auth, payload: { records: [record('batch-typo', { metdata: { a: 1 } }), record('batch-fine')] } });
  assert.equal(batch.statusCode, 200, batch.body);
  const { results } = batch.json<{ results: { id: string; status?: string; error?: { code: string; message: string } }[] }>();
  assert.deepEqual(results.map((r) => [r.id, r.status ?? r.error?.code]), [['batch-typo', 'RECORD_INVALID'], ['batch-fine', 'queued']]);
  assert.match(results[0]?.error?.message ?? '', /unknown key "metdata" \(did you mean "metadata"\?\)/);

  const boundary = 'gradcam-boundary';
  const payload = Buffer.concat([
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="record"\r\n\r\n${JSON.stringify({ id: 'mp-typo', model: { name: 'nsfw-mobilenet-v2' }, explian: { topK: 2 } })}\r\n`),
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="image"; filename="sheep.jpg"\r\nContent-Type: image/jpeg\r\n\r\n`),
    photo,
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ]);
  const multipart = await h.app.inject({ method: 'POST', url: '/v1/inferences', headers: { ...auth, 'content-type': `multipart/form-data; boundary=${boundary}` }, payload });
  assert.equal(multipart.statusCode, 400, multipart.body);
  assert.deepEqual([multipart.json<ErrorBody>().error.code, multipart.json<ErrorBody>().error.message], ['RECORD_INVALID', 'the record is invalid: unknown key "explian" (did you mean "explain"?)']);
  assert.equal(await h.queue.getJob('mp-typo'), undefined);
});
