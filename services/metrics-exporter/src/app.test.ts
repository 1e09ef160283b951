import assert from 'node:assert/strict';
import { test } from 'node:test';
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
