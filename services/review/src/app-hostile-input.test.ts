import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ReviewItem } from '@gradcam/contracts';
import { alice, appTestKit, errorAnswer as answer } from './app-test-kit.ts';
import { reviewItem as item } from './review-item-fixture.ts';

// What a hostile-input probe of the review API found: HEAD on routes that act, query parameters
// read loosely, bodies ignored where they are refused elsewhere, answers a cache may keep.
const { setup } = await appTestKit('hostile');

const message = (body: string) => (JSON.parse(body) as { error?: { message?: string } }).error?.message ?? '';

test('HEAD on the API is 405 METHOD_NOT_ALLOWED (Allow: GET, no HEAD): it leases nothing, sets nothing aside and runs no export; the page and /healthz still answer HEAD', async () => {
  const { pool, app } = setup();
  // No stored files: a lease would set it aside as broken, a side effect HEAD must not have.
  await pool.add(item('head-1'));
  for (const url of ['/v1/reviews/next', '/v1/reviews/next?model=m', '/v1/reviews?format=csv', '/v1/reviews', '/v1/reviews/backlog']) {
    const response = await app.inject({ method: 'HEAD', url, headers: alice });
    assert.equal(response.statusCode, 405, url);
    // /next and /backlog are also ids a verdict may be POSTed to (POST /v1/reviews/:id).
    assert.equal(response.headers.allow, /^\/v1\/reviews\/(next|backlog)/.test(url) ? 'GET, POST' : 'GET', url);
    // A HEAD answer has no body; the GET of the same route says what it would have been.
  }
  const stored = await pool.get('head-1');
  assert.deepEqual([stored?.status, stored?.leasedBy], ['pending', undefined], 'HEAD /next leased nothing');
  assert.deepEqual(await pool.backlog(), { pending: 1, leased: 0, oldestPendingAt: stored?.sampledAt });
  for (const url of ['/', '/app.js', '/healthz']) assert.equal((await app.inject({ method: 'HEAD', url })).statusCode, 200, url);
});

test('a query parameter of whitespace counts as not given; from, to and limit take digits only (no 0x10, 1e3, +5 or 1.0)', async () => {
  const { pool, app } = setup();
  const base = Date.UTC(2026, 0, 1);
  for (let i = 0; i < 3; i++) await pool.add(item(`ws-${i}`, { sampledAt: base + i }));
  const ids = async (query: string) => {
    const response = await app.inject({ method: 'GET', url: `/v1/reviews?${query}`, headers: alice });
    assert.equal(response.statusCode, 200, `${query}: ${response.body}`);
    return (JSON.parse(response.body) as { items: ReviewItem[] }).items.map((i) => i.inferenceId);
  };
  const all = ['ws-2', 'ws-1', 'ws-0'];
  for (const query of ['to=%20', 'from=%20', 'to=%09', 'from=%20%20&to=%20', 'limit=%20', 'status=%20', 'model=%20']) {
    assert.deepEqual(await ids(query), all, `${query}: not given, not epoch 0`);
  }
  assert.deepEqual(await ids(`from=${base + 1}`), ['ws-2', 'ws-1']);
  assert.deepEqual(await ids(`to=${base - 1}`), [], 'before every item');
  assert.deepEqual(await ids('limit=2'), ['ws-2', 'ws-1']);
  for (const query of ['from=0x10', 'from=1e3', 'from=%2B5', 'from=1.0', `to=%20${base + 1}`, 'to=-1', 'limit=0x10', 'limit=1e2', 'limit=%2B5', 'limit=2.0', 'limit=-1', 'from=99999999999999999999']) {
    const response = await app.inject({ method: 'GET', url: `/v1/reviews?${query}`, headers: alice });
    assert.deepEqual(answer(response), [400, 'REQUEST_INVALID'], `${query}: ${response.body}`);
  }
  const backlog = await app.inject({ method: 'GET', url: '/v1/reviews/backlog?model=%20', headers: alice });
  assert.deepEqual(JSON.parse(backlog.body), { pending: 3, leased: 0, oldestPendingAt: base }, 'a blank model is all models');
});

test('a query parameter given twice is 400 "give it once", never "received NaN"', async () => {
  const { app } = setup();
  for (const [url, name] of [
    ['/v1/reviews?limit=5&limit=6', 'limit'],
    ['/v1/reviews?from=1&from=2', 'from'],
    ['/v1/reviews?status=pending&status=reviewed', 'status'],
    ['/v1/reviews/backlog?model=a&model=b', 'model'],
    ['/v1/reviews/next?model=a&model=b', 'model'],
  ] as const) {
    const response = await app.inject({ method: 'GET', url, headers: alice });
    assert.deepEqual(answer(response), [400, 'REQUEST_INVALID'], url);
    assert.equal(message(response.body), `${name}: give ${name} once`, url);
  }
});

test('a query parameter the route does not take (a misspelt filter) is 400 naming it and those taken, not dropped: the listing and export answered every item, /next leased from any model', async () => {
  const { pool, app } = setup();
  await pool.add(item('typo-1'));
  await pool.add(item('typo-2', { sampledAt: Date.UTC(2026, 0, 1) }));
  for (const [url, name, taken] of [
    ['/v1/reviews?stauts=broken', 'stauts', 'status, model, verdict, from, to, cursor, limit, format'],
    ['/v1/reviews?status%5B%5D=broken&format=csv', 'status[]', 'status, model, verdict, from, to, cursor, limit, format'],
    ['/v1/reviews?status=broken&form=2026-01-01', 'form', 'status, model, verdict, from, to, cursor, limit, format'],
    ['/v1/reviews/next?modle=other-model', 'modle', 'model'],
    ['/v1/reviews/backlog?model=m&verdict=supports', 'verdict', 'model'],
  ] as const) {
    const response = await app.inject({ method: 'GET', url, headers: alice });
    assert.deepEqual(answer(response), [400, 'REQUEST_INVALID'], `${url}: ${response.body}`);
    assert.equal(message(response.body), `unknown query parameter ${JSON.stringify(name)}: GET ${url.split('?')[0]} takes ${taken}; nothing was done`, url);
  }
  assert.deepEqual((await pool.backlog()).leased, 0, '/next leased nothing');
  const listed = await app.inject({ method: 'GET', url: '/v1/reviews?status=pending&model=%20', headers: alice });
  assert.equal(listed.statusCode, 200, 'the parameters taken, a blank one included, as before');
});

test('renew, skip, undo and restore refuse a body holding anything (400, nothing done); no body or {} is taken as before', async () => {
  const { pool, app } = setup();
  await pool.add(item('body-1'));
  await pool.lease('alice', 60_000);
  const leased = await pool.get('body-1');
  for (const suffix of ['/renew', '/skip', '/undo', '/restore']) {
    for (const payload of ['{"verdict":"supports"}', 'null', '[]', '"x"']) {
      const response = await app.inject({ method: 'POST', url: `/v1/reviews/body-1${suffix}`, headers: { ...alice, 'content-type': 'application/json' }, payload });
      assert.deepEqual(answer(response), [400, 'REQUEST_INVALID'], `${suffix} ${payload}: ${response.body}`);
    }
  }
  assert.deepEqual(await pool.get('body-1'), leased, 'nothing changed');
  const renewed = await app.inject({ method: 'POST', url: '/v1/reviews/body-1/renew', headers: { ...alice, 'content-type': 'application/json' }, payload: '{}' });
  assert.equal(renewed.statusCode, 200, renewed.body);
  const skipped = await app.inject({ method: 'POST', url: '/v1/reviews/body-1/skip', headers: alice });
  assert.equal(skipped.statusCode, 200, skipped.body);
});

test('an empty body sent as application/json (a client whose every request says so) is no body: renew, release, skip, undo and restore act as without the header; a verdict still needs its body', async () => {
  const { pool, app } = setup();
  await pool.add(item('empty-1'));
  await pool.add(item('empty-2', { sampledAt: Date.UTC(2026, 0, 1) }));
  // Python requests sends Content-Length: 0 with a POST without data; a session's headers add the type.
  const emptyJson = { ...alice, 'content-type': 'application/json', 'content-length': '0' };
  const post = (url: string) => app.inject({ method: 'POST', url, headers: emptyJson, payload: '' });
  const leased = await pool.lease('alice', 60_000);
  const id = leased?.inferenceId as string;
  for (const suffix of ['/renew', '/release']) {
    const response = await post(`/v1/reviews/${id}${suffix}`);
    assert.equal(response.statusCode, 200, `${suffix}: ${response.body}`);
  }
  assert.equal((await pool.get(id))?.status, 'pending', 'released');
  await pool.lease('alice', 60_000);
  const skipped = await post(`/v1/reviews/${id}/skip`);
  assert.equal(skipped.statusCode, 200, skipped.body);
  const other = (await pool.lease('alice', 60_000))?.inferenceId as string;
  assert.notEqual(other, id, 'the skipped item is kept from alice');
  const verdict = await app.inject({ method: 'POST', url: `/v1/reviews/${other}`, headers: { ...alice, 'content-type': 'application/json' }, payload: '{"verdict":"supports"}' });
  assert.equal(verdict.statusCode, 200, verdict.body);
  const undone = await post(`/v1/reviews/${other}/undo`);
  assert.equal(undone.statusCode, 200, undone.body);
  assert.equal((await pool.get(other))?.status, 'leased', 'undone: leased to alice again');
  assert.deepEqual(answer(await post(`/v1/reviews/${other}/restore`)), [409, 'REVIEW_NOT_BROKEN'], 'restore judged the item, not the body');
  const noVerdict = await post(`/v1/reviews/${other}`);
  assert.deepEqual(answer(noVerdict), [400, 'REQUEST_INVALID'], 'a verdict needs its body');
  assert.match(message(noVerdict.body), /empty/);
});

test('a body holding a "__proto__" key, or "constructor" holding "prototype", is 400 naming it, not "not valid JSON"', async () => {
  const { pool, app } = setup();
  await pool.add(item('proto-1'));
  await pool.lease('alice', 60_000);
  for (const [payload, key] of [
    ['{"verdict":"supports","__proto__":{"x":1}}', /"__proto__"/],
    ['{"verdict":"supports","comment":"c","\\u005f_proto__":1}', /"__proto__"/],
    ['{"verdict":"supports","constructor":{"prototype":{"x":1}}}', /"constructor" key holding "prototype"/],
  ] as const) {
    const response = await app.inject({ method: 'POST', url: '/v1/reviews/proto-1', headers: { ...alice, 'content-type': 'application/json' }, payload });
    assert.deepEqual(answer(response), [400, 'REQUEST_INVALID'], payload);
    assert.match(message(response.body), key, payload);
    assert.doesNotMatch(message(response.body), /not valid JSON/, payload);
  }
  assert.equal((await pool.get('proto-1'))?.status, 'leased', 'no verdict kept');
});

test('API answers carry Cache-Control: no-store (presigned links, comments); the page keeps no-cache', async () => {
  const { pool, app } = setup();
  await pool.add(item('cache-1'));
  for (const [method, url, headers] of [
    ['GET', '/v1/reviews', alice],
    ['GET', '/v1/reviews?format=csv', alice],
    ['GET', '/v1/reviews/backlog', alice],
    ['GET', '/v1/reviews/next', alice],
    ['POST', '/v1/reviews/cache-1/renew', alice],
    ['GET', '/v1/reviews', {}],
  ] as const) {
    const response = await app.inject({ method, url, headers });
    assert.equal(response.headers['cache-control'], 'no-store', `${method} ${url} (${response.statusCode})`);
  }
  assert.equal((await app.inject({ method: 'GET', url: '/' })).headers['cache-control'], 'no-cache');
});

test('a 401 says which scheme it takes (WWW-Authenticate: Bearer, RFC 9110 §15.5.2): no token, an unknown one, Basic', async () => {
  const { app } = setup();
  for (const authorization of [undefined, 'Bearer not-a-reviewer-token-0123', `Basic ${Buffer.from('alice:secret').toString('base64')}`]) {
    const response = await app.inject({ method: 'GET', url: '/v1/reviews/next', headers: authorization === undefined ? {} : { authorization } });
    assert.deepEqual(answer(response), [401, 'UNAUTHORIZED'], authorization);
    assert.equal(response.headers['www-authenticate'], 'Bearer realm="gradcam"', authorization);
  }
});

test('a comment holding a control character (NUL, ESC, DEL, C1) or text that is not Unicode (a lone surrogate) is 400 naming where; tab and line breaks are kept', async () => {
  const { pool, app } = setup();
  await pool.add(item('ctl-1'));
  const post = (comment: string) => app.inject({ method: 'POST', url: '/v1/reviews/ctl-1', headers: { ...alice, 'content-type': 'application/json' }, payload: JSON.stringify({ verdict: 'supports', comment }) });
  for (const [comment, expected] of [
    ['fine\u0000hidden', /comment: a control character \(U\+0000\) at character 5; only tab and line breaks are kept/],
    ['\u001b[31mred', /U\+001B\) at character 1/],
    ['del\u007f', /U\+007F\) at character 4/],
    ['c1\u0085', /U\+0085\) at character 3/],
    ['half \ud83d of an emoji', /comment: not valid Unicode \(a lone surrogate, U\+D83D, at character 6\)/],
  ] as const) {
    const response = await post(comment);
    assert.equal(response.statusCode, 400, JSON.stringify(comment));
    assert.equal((JSON.parse(response.body) as { error: { code: string } }).error.code, 'REQUEST_INVALID');
    assert.match(message(response.body), expected, JSON.stringify(comment));
  }
  // Refused before anything: the item was never leased, so a verdict from alice would be 409 NOT_LEASED, not 400.
  assert.equal((await pool.get('ctl-1'))?.status, 'pending');
  const kept = await post('tab\there,\r\nlines\nand 🐑 “quotes”');
  assert.equal(kept.statusCode, 409, 'passes the schema: refused only because alice holds no lease');
});
