import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultBodyLimit, idleSocketTimeoutMs, serverTimeouts } from '@gradcam/http-service';
import { createRegistry } from '@gradcam/telemetry';
import { createApp } from './app.ts';

test('the exporter answers /metrics, and an unknown route as 404 ROUTE_NOT_FOUND in the API error shape', async () => {
  const collectErrors: unknown[] = [];
  const app = createApp({
    registry: createRegistry(),
    collect: async () => {
      throw new Error('Redis is down');
    },
    onCollectError: (error) => collectErrors.push(error),
    scraped: () => {},
  });
  try {
    const metrics = await app.inject({ method: 'GET', url: '/metrics' });
    assert.equal(metrics.statusCode, 200, 'a failed collection still answers the scrape');
    assert.equal(collectErrors.length, 1);
    assert.equal(metrics.headers['x-content-type-options'], 'nosniff');
    for (const [method, url] of [['GET', '/metric'], ['POST', '/metrics']] as const) {
      const response = await app.inject({ method, url });
      assert.equal(response.statusCode, 404, `${method} ${url}`);
      assert.equal(response.json<{ error: { code: string } }>().error.code, 'ROUTE_NOT_FOUND');
      assert.equal(response.headers['x-content-type-options'], 'nosniff');
    }
  } finally {
    await app.close();
  }
});

test("the exporter's server timeouts are finite: a client that trickles a request or goes silent does not hold a connection, or the exporter's close(), for ever", async () => {
  const app = createApp({ registry: createRegistry(), collect: async () => {}, onCollectError: () => {}, scraped: () => {} });
  try {
    assert.equal(app.server.requestTimeout, serverTimeouts(defaultBodyLimit).requestTimeout);
    assert.equal(app.server.timeout, idleSocketTimeoutMs);
  } finally {
    await app.close();
  }
});
