import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type OutgoingHttpHeaders, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import Fastify from 'fastify';
import { ApiError, registerServiceDefaults, requestErrorAnswer, sendApiError, serviceServerOptions } from './index.ts';

type ErrorBody = { error: { code: string; message: string } };
const bodyLimit = 1024 * 1024;

/**
 * A listening app with the service defaults, whose POST /value answers the body it parsed and whose
 * POST /signed-in needs a token (checked on onRequest). With `multipart`, a parser for
 * multipart/form-data is registered after the defaults, as ingest registers @fastify/multipart.
 */
async function listening({ multipart = false, slowOnSend = false } = {}) {
  const app = Fastify({ ...serviceServerOptions({ bodyLimit }), logger: false });
  registerServiceDefaults(app);
  // As a compression or tracing plugin would: the answer is sent a turn of the event loop later.
  if (slowOnSend) app.addHook('onSend', async () => void (await new Promise(setImmediate)));
  const routeRuns: string[] = [];
  if (multipart) app.addContentTypeParser('multipart/form-data', (_request, _payload, done) => done(null, { multipart: true }));
  app.setErrorHandler(async (error, _request, reply) => sendApiError(reply, error instanceof ApiError ? error : (requestErrorAnswer(error, bodyLimit) ?? new ApiError(500, 'INTERNAL', 'internal'))));
  app.post('/value', async (request) => {
    routeRuns.push(request.url);
    return { value: request.body ?? null };
  });
  app.get('/value', async () => ({ value: 'got' }));
  app.post('/signed-in', { onRequest: async () => { throw new ApiError(401, 'UNAUTHORIZED', 'send a token'); } }, async () => ({ ok: true }));
  await app.listen({ port: 0, host: '127.0.0.1' });
  const port = (app.server.address() as AddressInfo).port;
  /** `method path` with exactly these headers and `body` (no Content-Type unless given). */
  const send = (path: string, headers: OutgoingHttpHeaders, body: Buffer | string = '', method = 'POST') =>
    new Promise<{ status: number; headers: Record<string, unknown>; body: string }>((resolve, reject) => {
      const req = httpRequest({ port, host: '127.0.0.1', method, path, headers: { 'content-length': Buffer.byteLength(body), ...headers } }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
      });
      req.on('error', reject);
      req.end(body);
    });
  /** The status and error code answered to a POST of which only the headers were sent (a body of `length` declared). */
  const answerBeforeBody = (path: string, headers: OutgoingHttpHeaders, length: number) =>
    new Promise<{ status: number; code: string }>((resolve, reject) => {
      const req = httpRequest({ port, host: '127.0.0.1', method: 'POST', path, headers: { 'content-length': length, ...headers } }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => {
          resolve({ status: res.statusCode ?? 0, code: (JSON.parse(text) as ErrorBody).error.code });
          req.destroy();
        });
      });
      req.on('error', reject);
      req.flushHeaders();
    });
  return { app, send, answerBeforeBody, routeRuns };
}

const errorOf = (answer: { body: string }) => (JSON.parse(answer.body) as ErrorBody).error;

describe('a body the service cannot take is 415 in the error shape, naming what was sent and what to send', () => {
  test('a Content-Type no parser takes (text/plain included), none, or one that is not a media type: MEDIA_TYPE_UNSUPPORTED', async () => {
    const { app, send } = await listening();
    try {
      for (const [label, headers, message] of [
        ['text/plain', { 'content-type': 'text/plain' }, 'this service does not take Content-Type "text/plain"; send application/json'],
        ['text/plain; charset=utf-8', { 'content-type': 'text/plain; charset=utf-8' }, 'this service does not take Content-Type "text/plain"; send application/json'],
        ['application/xml', { 'content-type': 'application/xml' }, 'this service does not take Content-Type "application/xml"; send application/json'],
        ['multipart/form-data, where nothing parses it', { 'content-type': 'multipart/form-data; boundary=x' }, 'this service does not take Content-Type "multipart/form-data"; send application/json'],
        ['no Content-Type', {}, 'the request has a body but no Content-Type; send application/json'],
        ['not a media type', { 'content-type': 'json' }, 'this service does not take Content-Type "json"; send application/json'],
      ] as const) {
        const answer = await send('/value', headers, '{"a":1}');
        assert.equal(answer.status, 415, `${label}: ${answer.body}`);
        assert.deepEqual(errorOf(answer), { code: 'MEDIA_TYPE_UNSUPPORTED', message }, label);
        assert.equal(answer.headers['x-content-type-options'], 'nosniff', label);
      }
      // Without a body Fastify refuses a header that is not a media type itself: the same code.
      const empty = await send('/value', { 'content-type': 'json' });
      assert.deepEqual([empty.status, errorOf(empty).code], [415, 'MEDIA_TYPE_UNSUPPORTED'], empty.body);
      // An empty body is no body, whatever its type; JSON is parsed as ever.
      assert.deepEqual(JSON.parse((await send('/value', { 'content-type': 'text/plain' })).body), { value: null });
      assert.deepEqual(JSON.parse((await send('/value', { 'content-type': 'application/json' }, '{"a":1}')).body), { value: { a: 1 } });
    } finally {
      await app.close();
    }
  });

  test('the answer names every type the service parses; an unknown route is still 404 and a missing token still 401', async () => {
    const { app, send } = await listening({ multipart: true });
    try {
      const answer = await send('/value', { 'content-type': 'text/plain' }, 'hello');
      assert.equal(answer.status, 415, answer.body);
      assert.equal(errorOf(answer).message, 'this service does not take Content-Type "text/plain"; send application/json or multipart/form-data');
      assert.deepEqual(JSON.parse((await send('/value', { 'content-type': 'multipart/form-data; boundary=x' }, '--x--')).body), { value: { multipart: true } });
      for (const [path, status, code] of [['/nope', 404, 'ROUTE_NOT_FOUND'], ['/signed-in', 401, 'UNAUTHORIZED']] as const) {
        for (const headers of [{ 'content-type': 'text/plain' }, { 'content-type': 'application/json', 'content-encoding': 'gzip' }]) {
          const refused = await send(path, headers, 'hello');
          assert.deepEqual([refused.status, errorOf(refused).code], [status, code], `${path} ${JSON.stringify(headers)}`);
        }
      }
    } finally {
      await app.close();
    }
  });

  test('a body with a Content-Encoding other than identity is CONTENT_ENCODING_UNSUPPORTED with Accept-Encoding: identity, never decompressed', async () => {
    const { app, send } = await listening();
    try {
      for (const [encoding, body] of [['gzip', gzipSync('{"a":1}')], ['br', Buffer.from('{"a":1}')], ['GZIP, identity', gzipSync('{"a":1}')]] as const) {
        const answer = await send('/value', { 'content-type': 'application/json', 'content-encoding': encoding }, body);
        assert.equal(answer.status, 415, `${encoding}: ${answer.body}`);
        assert.deepEqual(errorOf(answer), { code: 'CONTENT_ENCODING_UNSUPPORTED', message: `the body was sent with Content-Encoding ${JSON.stringify(encoding)}; send it uncompressed, without Content-Encoding` });
        assert.equal(answer.headers['accept-encoding'], 'identity');
      }
      const identity = await send('/value', { 'content-type': 'application/json', 'content-encoding': 'identity' }, '{"a":1}');
      assert.deepEqual([identity.status, JSON.parse(identity.body)], [200, { value: { a: 1 } }]);
      // No body, nothing to decode: the encoding does not matter.
      const bodiless = await send('/value', { 'content-encoding': 'gzip' }, '', 'GET');
      assert.deepEqual([bodiless.status, JSON.parse(bodiless.body)], [200, { value: 'got' }]);
    } finally {
      await app.close();
    }
  });

  test('each refusal is answered before any of the body is sent: a JSON body in another charset included', async () => {
    const { app, answerBeforeBody } = await listening();
    try {
      const length = 900 * 1024;
      assert.deepEqual(await answerBeforeBody('/value', { 'content-type': 'application/json; charset=iso-8859-1' }, length), { status: 415, code: 'CHARSET_UNSUPPORTED' });
      assert.deepEqual(await answerBeforeBody('/value', { 'content-type': 'application/json', 'content-encoding': 'gzip' }, length), { status: 415, code: 'CONTENT_ENCODING_UNSUPPORTED' });
      assert.deepEqual(await answerBeforeBody('/value', { 'content-type': 'text/plain' }, length), { status: 415, code: 'MEDIA_TYPE_UNSUPPORTED' });
      assert.deepEqual(await answerBeforeBody('/nope', { 'content-type': 'application/json' }, length), { status: 404, code: 'ROUTE_NOT_FOUND' });
    } finally {
      await app.close();
    }
  });

  test('a refusal stops the request even when an async onSend hook delays the answer: the route never runs', async () => {
    const { app, send, routeRuns } = await listening({ slowOnSend: true });
    try {
      const gzipped = await send('/value', { 'content-type': 'application/json', 'content-encoding': 'gzip' }, gzipSync('{"a":1}'));
      const latin1 = await send('/value', { 'content-type': 'application/json; charset=latin1' }, '{"a":1}');
      assert.deepEqual([gzipped.status, latin1.status], [415, 415]);
      const plain = await send('/value', { 'content-type': 'application/json' }, '{"a":1}');
      assert.deepEqual([plain.status, JSON.parse(plain.body)], [200, { value: { a: 1 } }]);
      assert.deepEqual(routeRuns, ['/value'], 'only the accepted body reached the route');
    } finally {
      await app.close();
    }
  });
});
