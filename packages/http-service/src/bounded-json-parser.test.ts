import assert from 'node:assert/strict';
import { test } from 'node:test';
import Fastify from 'fastify';
import { ApiError, jsonCounts, registerServiceDefaults, requestErrorAnswer, sendApiError, serviceServerOptions } from './index.ts';

type ErrorBody = { error: { code: string; message: string } };

function buildApp(bodyLimit = 16 * 1024 * 1024) {
  const app = Fastify({ ...serviceServerOptions({ bodyLimit }), logger: false });
  registerServiceDefaults(app);
  app.setErrorHandler(async (error, _request, reply) => sendApiError(reply, error instanceof ApiError ? error : (requestErrorAnswer(error, bodyLimit) ?? new ApiError(500, 'INTERNAL', 'internal'))));
  app.post('/echo', async (request) => ({ keys: Object.keys(request.body as object).length }));
  return app;
}

/** `{"k0":0,"k1":0,…}` with `keys` keys. */
const keyDense = (keys: number) => `{${Array.from({ length: keys }, (_, i) => `"k${i}":0`).join(',')}}`;

test('jsonCounts: the colons, braces and brackets outside strings, and the strings, counting no further than a bound allows', () => {
  const structures = (text: string, bound = 100) => jsonCounts(text, { structures: bound, strings: 100 }).structures;
  assert.deepEqual(jsonCounts('{"a":[1,2],"b":{"c":"d:e"}}'), { structures: 6, strings: 4 });
  assert.deepEqual(jsonCounts('"aGVsbG8gd29ybGQ="'), { structures: 0, strings: 1 });
  // Escaped quotes do not end a string; an escaped backslash before a quote does not escape it.
  assert.deepEqual(jsonCounts(String.raw`{"a":"say \"{[:\" twice","b\\":[{}]}`), { structures: 5, strings: 3 });
  assert.equal(structures('{"unclosed:{['), 1, 'malformed: counted as far as it goes');
  assert.equal(structures(keyDense(1_000), 10), 11, 'stops past the bound');
  assert.deepEqual(jsonCounts(`[${'"a",'.repeat(1_000)}"a"]`, { structures: 100, strings: 10 }), { structures: 1, strings: 11 }, 'stops past the bound');
});

test('a JSON body within the bound is parsed as before: a __proto__ key, malformed JSON and an empty body are still 400', async () => {
  const app = buildApp();
  const post = (payload: string, contentType = 'application/json') => app.inject({ method: 'POST', url: '/echo', headers: { 'content-type': contentType }, payload });
  const fine = await post(keyDense(1_000), 'application/json; charset=utf-8');
  assert.deepEqual([fine.statusCode, fine.json()], [200, { keys: 1_000 }]);
  for (const bad of ['{"__proto__":{"x":1}}', '{"constructor":{"prototype":{"x":1}}}', '{"a":', '']) {
    const response = await post(bad);
    assert.deepEqual([response.statusCode, response.json<ErrorBody>().error.code], [400, 'REQUEST_INVALID'], bad);
  }
  await app.close();
});

test('a body that is valid JSON holding a "__proto__" key, or a "constructor" key holding "prototype", is 400 naming the key, not "not valid JSON"', async () => {
  const app = buildApp();
  const post = (payload: string) => app.inject({ method: 'POST', url: '/echo', headers: { 'content-type': 'application/json' }, payload });
  for (const [payload, named] of [
    ['{"__proto__":{"x":1}}', 'a "__proto__" key'],
    ['{"a":[{"b":{"\\u005f_proto__":1}}]}', 'a "__proto__" key'],
    ['{"constructor":{"prototype":{"x":1}}}', 'a "constructor" key holding "prototype"'],
    ['[{"k":{"constructor":{"prototype":null}}}]', 'a "constructor" key holding "prototype"'],
  ] as const) {
    const response = await post(payload);
    const { error } = response.json<ErrorBody>();
    assert.deepEqual([response.statusCode, error.code], [400, 'REQUEST_INVALID'], payload);
    assert.equal(error.message, `the JSON body may not hold ${named} (prototype poisoning); leave it out`, payload);
  }
  // Malformed JSON still says so; a key named "constructor" alone is an ordinary key.
  assert.match((await post('{"__proto__":')).json<ErrorBody>().error.message, /not valid JSON/);
  const plain = await post('{"constructor":"x","prototype":1}');
  assert.deepEqual([plain.statusCode, plain.json()], [200, { keys: 2 }]);
  await app.close();
});

test('malformed JSON is 400 REQUEST_INVALID saying where the parser stopped, not only "Body is not valid JSON"; an empty body keeps its own answer', async () => {
  const app = buildApp();
  const post = (payload: string) => app.inject({ method: 'POST', url: '/echo', headers: { 'content-type': 'application/json' }, payload });
  // The reason is this Node's JSON.parse's own words (Node 24 adds "(line 1 column 11)" to 20's).
  const parserSays = (payload: string) => {
    try {
      JSON.parse(payload);
    } catch (error) {
      return (error as Error).message;
    }
    throw new Error(`${payload} parses`);
  };
  for (const [payload, where] of [
    ['{"id":', /^Unexpected end of JSON input$/],
    ['{"id":"a",}', /position 10\b/],
    ["{'id':1}", /position 1\b/],
    ['{"id":1} {"id":2}', /^Unexpected non-whitespace character after JSON at position 9\b/],
  ] as const) {
    const response = await post(payload);
    const { error } = response.json<ErrorBody>();
    assert.deepEqual([response.statusCode, error.code], [400, 'REQUEST_INVALID'], payload);
    assert.equal(error.message, `the body is not valid JSON: ${parserSays(payload)}`, payload);
    assert.match(parserSays(payload), where, payload);
  }
  const empty = await post('');
  assert.deepEqual([empty.statusCode, empty.json<ErrorBody>().error.code], [400, 'REQUEST_INVALID']);
  assert.match(empty.json<ErrorBody>().error.message, /empty/);
  await app.close();
});

test('colons, braces and brackets inside strings do not count: a full batch whose metadata holds MAC addresses is parsed', async () => {
  const app = buildApp();
  const mac = '00:11:22:33:44:55:{[';
  const records = Array.from({ length: 1_000 }, (_, r) => ({ id: `r${r}`, metadata: Object.fromEntries(Array.from({ length: 32 }, (_, i) => [`mac:${i}`, mac])) }));
  const response = await app.inject({ method: 'POST', url: '/echo', headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ records }) });
  assert.deepEqual([response.statusCode, response.json()], [200, { keys: 1 }], response.body.slice(0, 200));
  await app.close();
});

test('a JSON body holding more keys, objects and arrays, or strings, than its bounds is 400 BODY_TOO_COMPLEX, refused before it is parsed', async () => {
  const app = buildApp();
  for (const [what, payload] of [
    ['keys', keyDense(300_000)],
    ['nested arrays', `[${Array.from({ length: 300_000 }, () => '[]').join(',')}]`],
    ['strings', `[${Array.from({ length: 600_000 }, () => String.raw`"\\"`).join(',')}]`],
  ] as const) {
    const response = await app.inject({ method: 'POST', url: '/echo', headers: { 'content-type': 'application/json; charset=utf-8' }, payload });
    assert.equal(response.statusCode, 400, what);
    const { error } = response.json<ErrorBody>();
    assert.equal(error.code, 'BODY_TOO_COMPLEX', what);
    assert.match(error.message, what === 'strings' ? /more than 500000 strings/ : /more than 200000 keys, objects and arrays/);
  }
  await app.close();
});
