import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { defaultBodyLimit, idleSocketTimeoutMs, serverTimeouts } from '@gradcam/http-service';
import { createRegistry, metricsResponse } from '@gradcam/telemetry';
import { listeningOn, startStatusServer } from './status-server.ts';

test('the status server answers its routes, /readyz with the reason it is not ready, an unknown route as 404 ROUTE_NOT_FOUND and a path not valid percent-encoding as 400 URL_MALFORMED, in the API error shape', async () => {
  let notReady: string | undefined = '1 of 2 engine processes ready';
  const registry = createRegistry();
  const server = await startStatusServer({ host: '127.0.0.1', port: 0, scrape: () => metricsResponse(registry), notReady: () => notReady });
  try {
    const port = (server.server.address() as AddressInfo).port;
    assert.equal(listeningOn(server), `status server (/metrics, /healthz, /readyz) on 127.0.0.1:${port}`);
    const base = `http://127.0.0.1:${port}`;
    const waiting = await fetch(`${base}/readyz`);
    assert.equal(waiting.status, 503);
    assert.deepEqual(await waiting.json(), { status: 'not-ready', reason: '1 of 2 engine processes ready' });
    notReady = undefined;
    for (const path of ['/healthz', '/readyz', '/metrics']) {
      const response = await fetch(`${base}${path}`);
      assert.equal(response.status, 200, path);
      assert.equal(response.headers.get('x-content-type-options'), 'nosniff', path);
    }
    const missing = await fetch(`${base}/metrics/extra`);
    assert.equal(missing.status, 404);
    assert.equal(missing.headers.get('x-content-type-options'), 'nosniff');
    assert.deepEqual(await missing.json(), { error: { code: 'ROUTE_NOT_FOUND', message: 'no route GET /metrics/extra; see the service\'s README for its routes' } });
    // Fastify's own {"error":"Bad Request","code":"FST_ERR_BAD_URL",…} before.
    const malformed = await fetch(`${base}/metrics%ZZ`);
    assert.equal(malformed.status, 400);
    assert.deepEqual(await malformed.json(), { error: { code: 'URL_MALFORMED', message: 'the path is not valid percent-encoding' } });
  } finally {
    await server.close();
  }
});

test("the status server's timeouts are finite: a client that trickles a request or goes silent does not hold a connection, or the replica's shutdown, for ever", async () => {
  const server = await startStatusServer({ host: '127.0.0.1', port: 0, scrape: () => metricsResponse(createRegistry()), notReady: () => undefined });
  try {
    assert.equal(server.server.requestTimeout, serverTimeouts(defaultBodyLimit).requestTimeout);
    assert.equal(server.server.timeout, idleSocketTimeoutMs);
  } finally {
    await server.close();
  }
});

test("/metrics collects within half the scrape's own timeout (Prometheus's header), so a busy engine process cannot make the scrape time out; a curl gives no wait", async () => {
  const waits: (number | undefined)[] = [];
  const server = await startStatusServer({
    host: '127.0.0.1',
    port: 0,
    scrape: (waitMs) => {
      waits.push(waitMs);
      return metricsResponse(createRegistry());
    },
    notReady: () => undefined,
  });
  try {
    const base = `http://127.0.0.1:${(server.server.address() as AddressInfo).port}`;
    for (const timeout of ['4', '0.5', 'soon', '-1']) await fetch(`${base}/metrics`, { headers: { 'X-Prometheus-Scrape-Timeout-Seconds': timeout } });
    await fetch(`${base}/metrics`);
    assert.deepEqual(waits, [2000, 250, undefined, undefined, undefined]);
  } finally {
    await server.close();
  }
});
