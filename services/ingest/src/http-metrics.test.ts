import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { redisKeys } from '@gradcam/contracts';
import { auth, useIngestHarness } from './test-support/ingest-harness.ts';

// gradcam_ingest_http_requests_total{route,status} as GradcamIngestErrorRatioHigh and
// GradcamIngestQueueFull read it (5xx and 429 of the record routes over all their requests): a
// series born with its first request is the first sample, which rate() does not count.

const photo = readFileSync(new URL('../../../test/fixtures/images/sheep-pastoral.jpg', import.meta.url));
const record = (id: string) => ({ id, model: { name: 'nsfw-mobilenet-v2' }, image: { base64: photo.toString('base64') } });

const h = useIngestHarness();

const scrape = async () => (await h.app.inject({ method: 'GET', url: '/metrics' })).body;
const requests = (text: string, route: string, status: number) =>
  new RegExp(`^gradcam_ingest_http_requests_total\\{route="${route.replace(/[*]/g, '\\*')}",status="${status}"\\} (\\d+)$`, 'm').exec(text)?.[1];

test("each route's 5xx (500, 503), what it answers when it works, the record routes' 429 and every 4xx a route answers are exported at 0 before the first request, on the series a request counts in", async () => {
  const before = await scrape();
  const expected: [string, number[]][] = [
    ['/v1/inferences', [200, 202, 400, 401, 409, 413, 415, 422, 429, 500, 503]],
    ['/v1/inferences::batch', [200, 400, 401, 413, 415, 429, 500, 503]],
    ['/v1/inferences/:id', [200, 400, 401, 403, 404, 409, 500, 503]],
    ['/v1/blobs/*', [200, 403, 404, 500, 503]],
    ['/healthz', [200, 500, 503]],
    ['/readyz', [200, 500, 503]],
  ];
  for (const [route, statuses] of expected) {
    for (const status of statuses) assert.equal(requests(before, route, status), '0', `${route} ${status}`);
    assert.match(before, new RegExp(`^gradcam_ingest_http_request_duration_seconds_count\\{route="${route.replace(/[*]/g, '\\*')}"\\} 0$`, 'm'), `${route} duration`);
  }
  // The 404 of a path no route takes: its own route label, at 0 too (it was born with its first).
  // And the 405 of a path a route takes under other methods (638cc55).
  assert.equal(requests(before, 'unmatched', 404), '0', 'unmatched 404');
  assert.equal(requests(before, 'unmatched', 405), '0', 'unmatched 405');
  assert.match(before, /^gradcam_ingest_http_request_duration_seconds_count\{route="unmatched"\} 0$/m, 'unmatched duration');
  assert.doesNotMatch(before, /route="unmatched",status="(?!40[45]")/, 'no other status made up for it');
  assert.doesNotMatch(before, /route="\/healthz",status="4/, 'no 4xx a route never answers');

  // No worker has announced a model: every record is refused for now, 503.
  await h.redis.del(redisKeys(h.queue.opts.prefix ?? '').servedModels);
  assert.equal((await h.app.inject({ method: 'POST', url: '/v1/inferences', headers: auth, payload: record('m-1') })).statusCode, 503);
  assert.equal((await h.app.inject({ method: 'POST', url: '/v1/inferences:batch', headers: auth, payload: { records: [record('m-2')] } })).statusCode, 503);
  const after = await scrape();
  assert.equal(requests(after, '/v1/inferences', 503), '1');
  assert.equal(requests(after, '/v1/inferences::batch', 503), '1');
  assert.equal(requests(after, '/v1/inferences', 202), '0');
  assert.match(after, /^gradcam_ingest_http_request_duration_seconds_count\{route="\/v1\/inferences"\} 1$/m);
});

test("a refusal's 4xx counts on a series exported at 0 before it: the first one of each route is an increase", async () => {
  // A worker announces its model (the test before took the announcement away).
  await h.redis.hset(redisKeys(h.queue.opts.prefix ?? '').servedModels, { 'nsfw-mobilenet-v2': 'nsfwjs-4.4.0' });
  const before = await scrape();
  const refusals: [string, number, () => Promise<{ statusCode: number }>][] = [
    ['/v1/inferences', 401, () => h.app.inject({ method: 'POST', url: '/v1/inferences', payload: record('r-1') })],
    ['/v1/inferences', 400, () => h.app.inject({ method: 'POST', url: '/v1/inferences', headers: auth, payload: { id: 'r-2' } })],
    ['/v1/inferences', 415, () => h.app.inject({ method: 'POST', url: '/v1/inferences', headers: { ...auth, 'content-type': 'text/plain' }, payload: 'r-3' })],
    ['/v1/inferences', 422, () => h.app.inject({ method: 'POST', url: '/v1/inferences', headers: auth, payload: { ...record('r-4'), model: { name: 'not-served' } } })],
    ['/v1/inferences::batch', 400, () => h.app.inject({ method: 'POST', url: '/v1/inferences:batch', headers: auth, payload: { records: [] } })],
    ['/v1/inferences::batch', 401, () => h.app.inject({ method: 'POST', url: '/v1/inferences:batch', payload: { records: [record('r-5')] } })],
    ['/v1/inferences/:id', 400, () => h.app.inject({ method: 'GET', url: '/v1/inferences/no%20such', headers: auth })],
    ['/v1/inferences/:id', 404, () => h.app.inject({ method: 'GET', url: '/v1/inferences/never-accepted', headers: auth })],
    ['/v1/blobs/*', 403, () => h.app.inject({ method: 'GET', url: '/v1/blobs/m/v1/x/input.jpg?expires=1&signature=bad' })],
  ];
  for (const [route, status, send] of refusals) {
    assert.equal((await send()).statusCode, status, `${route} answers ${status}`);
    assert.equal(requests(before, route, status), '0', `${route} ${status} at 0 before`);
  }
  const after = await scrape();
  for (const [route, status] of refusals) assert.ok(Number(requests(after, route, status)) >= 1, `${route} ${status} counted`);
});

test('the 404 of a path no route takes, and the 405 of a known path asked with another method, count on route "unmatched", exported at 0 before them: the first of each is an increase', async () => {
  const before = await scrape();
  assert.equal(requests(before, 'unmatched', 404), '0');
  assert.equal(requests(before, 'unmatched', 405), '0');
  const response = await h.app.inject({ method: 'GET', url: '/v1/inference/a', headers: auth });
  assert.equal(response.statusCode, 404);
  assert.equal(response.json<{ error: { code: string } }>().error.code, 'ROUTE_NOT_FOUND');
  const wrongMethod = await h.app.inject({ method: 'PUT', url: '/v1/inferences/a', headers: auth });
  assert.equal(wrongMethod.statusCode, 405);
  assert.equal(wrongMethod.json<{ error: { code: string } }>().error.code, 'METHOD_NOT_ALLOWED');
  const after = await scrape();
  assert.equal(requests(after, 'unmatched', 404), '1');
  assert.equal(requests(after, 'unmatched', 405), '1');
  assert.match(after, /^gradcam_ingest_http_request_duration_seconds_count\{route="unmatched"\} 2$/m);
});
