import assert from 'node:assert/strict';
import { Agent } from 'node:http';
import { describe, test } from 'node:test';
import Fastify from 'fastify';
import type { AddressInfo } from 'node:net';
import { ApiError, defaultBodyLimit, frameworkErrorHandler, idleSocketTimeoutMs, registerOperationalRoutes, registerServiceDefaults, serverTimeouts, serviceServerOptions, slowestUploadBytesPerSecond } from './index.ts';
import { answersAroundClose, assertShuttingDownAnswer, requestThrough, trickleRequest } from './testing/index.ts';

type ErrorBody = { error: { code: string; message: string } };

function buildApp(answers?: Parameters<typeof frameworkErrorHandler>[0]) {
  const app = Fastify({ ...serviceServerOptions(), logger: false, routerOptions: { maxParamLength: 8 }, frameworkErrors: frameworkErrorHandler(answers) });
  app.get('/early', async () => ({ ok: true }));
  registerServiceDefaults(app);
  app.get('/things/:id', async (request) => ({ id: (request.params as { id: string }).id }));
  app.get('/boom', async () => {
    throw new ApiError(409, 'BOOM', 'it went boom');
  });
  registerOperationalRoutes(app, { scrape: async () => ({ contentType: 'text/plain', body: 'x 1\n' }) });
  return app;
}

describe('registerServiceDefaults', () => {
  test('an unknown route is 404 ROUTE_NOT_FOUND in the API error shape', async () => {
    const app = buildApp();
    for (const [method, url] of [['GET', '/nope'], ['GET', '/nope/deeper?signature=secret'], ['DELETE', '/things/a/b'], ['GET', '/things']] as const) {
      const response = await app.inject({ method, url });
      assert.equal(response.statusCode, 404, `${method} ${url}`);
      assert.match(String(response.headers['content-type']), /^application\/json/);
      const body = response.json<ErrorBody>();
      assert.deepEqual(Object.keys(body), ['error']);
      assert.equal(body.error.code, 'ROUTE_NOT_FOUND');
      assert.equal(body.error.message.includes(`${method} ${url.split('?')[0]}`), true, body.error.message);
      assert.doesNotMatch(body.error.message, /secret/, 'the query is never echoed');
      assert.equal(response.headers['x-content-type-options'], 'nosniff');
    }
    await app.close();
  });

  test('a known path asked with a method no route of it takes is 405 METHOD_NOT_ALLOWED with Allow, in the API error shape; its body is not read', async () => {
    const app = buildApp();
    app.route({ method: ['POST', 'DELETE'], url: '/things/:id/parts::batch', handler: async () => ({ ok: true }) });
    app.get('/files/*', async () => ({ ok: true }));
    for (const [method, url, allow] of [
      ['POST', '/healthz', 'GET, HEAD'],
      ['DELETE', '/things/a', 'GET, HEAD'],
      ['PUT', '/things/a?signature=secret', 'GET, HEAD'],
      ['OPTIONS', '/metrics', 'GET, HEAD'],
      ['GET', '/things/a/parts:batch', 'DELETE, POST'],
      ['PATCH', '/files/a/b.jpg', 'GET, HEAD'],
    ] as const) {
      const response = await app.inject({ method, url, headers: { 'content-type': 'application/json' }, payload: '{"big":' });
      assert.equal(response.statusCode, 405, `${method} ${url}: ${response.body}`);
      assert.equal(response.headers.allow, allow, `${method} ${url}`);
      assert.match(String(response.headers['content-type']), /^application\/json/);
      const body = response.json<ErrorBody>();
      assert.equal(body.error.code, 'METHOD_NOT_ALLOWED');
      assert.equal(body.error.message, `${url.split('?')[0]} does not take ${method}; it takes ${allow}`);
      assert.equal(response.headers['x-content-type-options'], 'nosniff');
    }
    assert.equal((await app.inject({ method: 'GET', url: '/things/a/parts:other' })).statusCode, 404, 'a literal part of a pattern is matched as written');
    await app.close();
  });

  test("every answer carries X-Request-Id, its request's id (what a 500 or 503 names and the log files it under), routes declared before it included", async () => {
    const app = Fastify({ ...serviceServerOptions(), logger: false });
    registerServiceDefaults(app);
    app.get('/id', async (request) => ({ id: request.id }));
    app.get('/boom', async () => {
      throw new ApiError(409, 'BOOM', 'no');
    });
    await app.ready();
    const ok = await app.inject({ method: 'GET', url: '/id' });
    assert.equal(ok.headers['x-request-id'], ok.json<{ id: string }>().id);
    for (const [method, url, status] of [['GET', '/boom', 409], ['GET', '/nowhere', 404], ['PUT', '/id', 405]] as const) {
      const response = await app.inject({ method, url });
      assert.equal(response.statusCode, status, url);
      assert.match(String(response.headers['x-request-id']), /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, `${method} ${url}`);
    }
    await app.close();
  });

  test('every answer carries X-Content-Type-Options: nosniff, routes declared before it included', async () => {
    const app = buildApp();
    for (const [url, status] of [['/early', 200], ['/things/a', 200], ['/boom', 409], ['/healthz', 200], ['/metrics', 200]] as const) {
      const response = await app.inject({ method: 'GET', url });
      assert.equal(response.statusCode, status, url);
      assert.equal(response.headers['x-content-type-options'], 'nosniff', url);
    }
    await app.close();
  });
});

describe('frameworkErrorHandler', () => {
  test("router errors answer in the API error shape, not Fastify's", async () => {
    const app = buildApp();
    const tooLong = await app.inject({ method: 'GET', url: '/things/123456789' });
    assert.equal(tooLong.statusCode, 414);
    assert.equal(tooLong.json<ErrorBody>().error.code, 'PARAM_TOO_LONG');
    assert.equal(tooLong.headers['x-content-type-options'], 'nosniff');
    const badUrl = await app.inject({ method: 'GET', url: '/things/%E0%A4%A' });
    assert.equal(badUrl.statusCode, 400);
    assert.equal(badUrl.json<ErrorBody>().error.code, 'URL_MALFORMED');
    // No hook runs for these either: X-Request-Id (every answer carries it) is set here too.
    for (const response of [tooLong, badUrl]) assert.match(String(response.headers['x-request-id']), /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, response.body);
    assert.equal((await app.inject({ method: 'GET', url: '/things/12345678' })).statusCode, 200, 'exactly maxParamLength is routed');
    await app.close();
  });

  test('a service chooses its own answer for a parameter over the limit', async () => {
    const app = buildApp({ paramTooLong: new ApiError(400, 'ID_INVALID', 'ids are short') });
    const response = await app.inject({ method: 'GET', url: '/things/123456789' });
    assert.equal(response.statusCode, 400);
    assert.deepEqual(response.json(), { error: { code: 'ID_INVALID', message: 'ids are short' } });
    await app.close();
  });
});

describe('while the app closes (SIGTERM)', () => {
  /**
   * An app listening on a port, whose /slow answers when `release` is called. `arrived`: a request
   * to /slow went through the app's onRequest hooks (it began, as the app sees it); `closeBegan`:
   * close() ran the app's preClose hooks (the app is closing). Both are waited for, not timed: on a
   * loaded machine a request can take longer than any fixed wait to reach the app.
   */
  async function listening() {
    const app = buildApp();
    let release = () => {};
    const released = new Promise<void>((resolve) => (release = resolve));
    let arrive = () => {};
    const arrived = new Promise<void>((resolve) => (arrive = resolve));
    let beginClose = () => {};
    const closeBegan = new Promise<void>((resolve) => (beginClose = resolve));
    // Registered after registerServiceDefaults (in buildApp), so each runs after the defaults' own.
    app.addHook('preClose', async () => beginClose());
    app.post('/slow', { onRequest: async () => arrive() }, async () => {
      await released;
      return { ok: true };
    });
    const base = await app.listen({ port: 0, host: '127.0.0.1' });
    return { app, base, release, arrived, closeBegan };
  }

  test("an answer to a request that began before close() says Connection: close, so the client's next request opens a new connection", async () => {
    const { app, base, release, arrived, closeBegan } = await listening();
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      let closing: Promise<void> | undefined;
      // The request's headers are sent; close() begins once the app has seen them, and its body
      // is sent (and the handler lets go) once the app is closing.
      const slow = requestThrough(agent, `${base}/slow`, { send: (finish) => {
        void arrived.then(async () => {
          closing = app.close();
          await closeBegan;
          release();
          finish();
        });
      } });
      const answer = await slow;
      assert.equal(answer.status, 200, answer.body);
      assert.equal(answer.headers.connection, 'close');
      // Not the same connection (which this process would answer 503): a new one, refused, as this
      // process no longer listens; a client retries it on another process.
      await assert.rejects(requestThrough(agent, `${base}/things/a`), { code: 'ECONNREFUSED' });
      await closing;
    } finally {
      agent.destroy();
    }
  });

  test('a request that still reaches the app on a kept-alive connection is 503 SHUTTING_DOWN in the API error shape, with Retry-After and Connection: close', async () => {
    const { before, closing } = await answersAroundClose(buildApp(), '/things/a');
    assert.equal(before.status, 200);
    assertShuttingDownAnswer(closing);
  });
});

describe('serviceServerOptions: server timeouts', () => {
  test('a request must arrive whole within a minute plus its largest body at 64 KiB/s; a socket silent for 5 minutes is closed', () => {
    const MiB = 1024 * 1024;
    assert.deepEqual(serverTimeouts(64 * MiB), { requestTimeout: 60_000 + 1_024_000, connectionTimeout: 5 * 60_000 });
    assert.deepEqual(serverTimeouts(64 * 1024), { requestTimeout: 61_000, connectionTimeout: idleSocketTimeoutMs });
    assert.ok(serverTimeouts(64 * MiB).requestTimeout >= ((64 * MiB) / slowestUploadBytesPerSecond) * 1000, 'a slow upload of the largest body still fits');
    // Those of a service that takes no bodies (the exporter, the worker's status server): finite too.
    const app = Fastify({ ...serviceServerOptions(), logger: false });
    assert.equal(app.initialConfig.bodyLimit, defaultBodyLimit);
    assert.equal(app.server.requestTimeout, serverTimeouts(defaultBodyLimit).requestTimeout);
    assert.equal(app.server.timeout, idleSocketTimeoutMs);
    assert.equal(app.server.headersTimeout, 60_000);
    const review = Fastify({ ...serviceServerOptions({ bodyLimit: 64 * 1024 }), logger: false });
    assert.equal(review.initialConfig.bodyLimit, 64 * 1024);
    assert.equal(review.server.requestTimeout, 61_000);
  });

  test('a 401 sent before the body was read (the token checked on onRequest) closes the connection; a whole request keeps it', async () => {
    const app = Fastify({ ...serviceServerOptions({ bodyLimit: 64 * 1024 }), logger: false });
    registerServiceDefaults(app);
    app.post('/things', { onRequest: async (request) => { if (request.headers.authorization !== 'Bearer ok') throw new ApiError(401, 'UNAUTHORIZED', 'no'); } }, async () => ({ ok: true }));
    await app.listen({ port: 0, host: '127.0.0.1' });
    const port = (app.server.address() as AddressInfo).port;
    // 10 MB declared, a byte every 20 ms: without the close, the server would read on for hours.
    const client = trickleRequest(port, '/things', { declaredBytes: 10_000_000, everyMs: 20 });
    try {
      assert.equal((await client.answered).status, 401);
      const race = await Promise.race([client.closed, new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 3_000))]);
      assert.ok(race, 'the server closed the connection after its 401');
      assert.match(race.answer, /\r\nconnection: close\r\n/i);
      for (const authorization of ['Bearer ok', 'Bearer ok']) {
        const response = await fetch(`http://127.0.0.1:${port}/things`, { method: 'POST', headers: { authorization, 'content-type': 'application/json' }, body: '{}' });
        assert.equal(response.status, 200);
        assert.equal(response.headers.get('connection'), 'keep-alive', 'a request read whole keeps its connection');
      }
    } finally {
      client.stop();
      await app.close();
    }
  });

  test('a client trickling its body a byte at a time is cut off at requestTimeout (408), and close() does not wait for it', async () => {
    const app = Fastify({ ...serviceServerOptions({ bodyLimit: 64 * 1024, timeouts: { requestTimeout: 400, connectionTimeout: 5_000, checkIntervalMs: 50 } }), logger: false });
    registerServiceDefaults(app);
    let handled = 0;
    app.post('/things', async () => ({ handled: ++handled }));
    await app.listen({ port: 0, host: '127.0.0.1' });
    const client = trickleRequest((app.server.address() as AddressInfo).port, '/things', { everyMs: 50 });
    try {
      const race = await Promise.race([client.closed, new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 3_000))]);
      assert.ok(race, 'the server closed the connection');
      assert.ok(race.afterMs >= 400, `closed after ${race.afterMs} ms`);
      assert.match(race.answer, /^HTTP\/1\.1 408 /);
      assert.match(race.answer, /\r\n\r\n\{"error":\{"code":"REQUEST_TIMEOUT","message":"the request did not arrive whole in time; send it again"\}\}$/, 'in the API error shape');
      assert.equal(handled, 0);
      const closing = Date.now();
      await app.close();
      assert.ok(Date.now() - closing < 1_000, `close() took ${Date.now() - closing} ms`);
    } finally {
      client.stop();
      await app.close();
    }
  });
});

test('request ids are random UUIDs, never the same twice (a 500 names its request id; the log files the error under it)', async () => {
  const app = Fastify({ ...serviceServerOptions(), logger: false });
  app.get('/id', async (request) => ({ id: request.id }));
  const ids = await Promise.all([1, 2, 3].map(async () => (await app.inject({ method: 'GET', url: '/id' })).json<{ id: string }>().id));
  for (const id of ids) assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.equal(new Set(ids).size, 3);
  await app.close();
});
