import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { createRegistry } from '@gradcam/telemetry';
import { startStatusServer } from './status-server.ts';

test('the status server answers its routes, and an unknown one as 404 ROUTE_NOT_FOUND in the API error shape', async () => {
  let ready = false;
  const server = await startStatusServer({ host: '127.0.0.1', port: 0, registry: createRegistry(), ready: () => ready });
  try {
    const base = `http://127.0.0.1:${(server.server.address() as AddressInfo).port}`;
    assert.equal((await fetch(`${base}/readyz`)).status, 503);
    ready = true;
    for (const path of ['/healthz', '/readyz', '/metrics']) {
      const response = await fetch(`${base}${path}`);
      assert.equal(response.status, 200, path);
      assert.equal(response.headers.get('x-content-type-options'), 'nosniff', path);
    }
    const missing = await fetch(`${base}/metrics/extra`);
    assert.equal(missing.status, 404);
    assert.equal(missing.headers.get('x-content-type-options'), 'nosniff');
    assert.deepEqual(await missing.json(), { error: { code: 'ROUTE_NOT_FOUND', message: 'no route GET /metrics/extra; see the service\'s README for its routes' } });
  } finally {
    await server.close();
  }
});
