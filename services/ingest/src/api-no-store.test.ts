import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { auth, useIngestHarness } from './test-support/ingest-harness.ts';

// A done status carries presigned links: whoever holds one reads the object until it expires, no
// token asked. No cache (a proxy's, an HTTP client's, a browser's disk) is to keep such an answer.

const photo = readFileSync(new URL('../../../test/fixtures/images/sheep-pastoral.jpg', import.meta.url));
// A manifest from `gradcam explain` of this photo: what the worker would have stored.
const manifest = readFileSync(new URL('../../review/src/fixtures/sheep-explanation.json', import.meta.url));

const h = useIngestHarness();

test('every answer of a /v1/inferences route says Cache-Control: no-store: a done status with its presigned links, accepts, refusals', async () => {
  const record = { id: 'no-store-1', model: { name: 'nsfw-mobilenet-v2' }, image: { base64: photo.toString('base64') } };
  const accepted = await h.app.inject({ method: 'POST', url: '/v1/inferences', headers: auth, payload: record });
  assert.equal(accepted.statusCode, 202, accepted.body);
  const job = await h.queue.getJob('no-store-1');
  assert.ok(job);
  await h.store.put(`${job.data.folder}explanation.json`, manifest, { contentType: 'application/json' });
  // The job gone: the status comes from the stored manifest.
  await job.remove();
  const done = await h.app.inject({ method: 'GET', url: '/v1/inferences/no-store-1', headers: auth });
  const body = done.json<{ status: string; urls?: Record<string, string> }>();
  assert.equal(body.status, 'done', done.body);
  assert.match(body.urls?.['input.jpg'] ?? '', /signature=/, 'the answer holds presigned links');
  assert.equal(done.headers['cache-control'], 'no-store', 'done status');

  for (const [method, url, headers, payload] of [
    ['POST', '/v1/inferences', auth, record],
    ['POST', '/v1/inferences:batch', auth, { records: [record] }],
    ['GET', '/v1/inferences/nobody', auth, undefined],
    ['GET', '/v1/inferences/no-store-1', {}, undefined],
    ['POST', '/v1/inferences', { authorization: 'Bearer not-a-token-0123456789' }, record],
  ] as const) {
    const response = await h.app.inject({ method, url, headers, ...(payload !== undefined && { payload }) });
    assert.equal(response.headers['cache-control'], 'no-store', `${method} ${url} (${response.statusCode})`);
  }
});
