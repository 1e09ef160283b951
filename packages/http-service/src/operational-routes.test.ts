import assert from 'node:assert/strict';
import { test } from 'node:test';
import Fastify from 'fastify';
import { NotReadyError, checkDependency, registerOperationalRoutes, registerServiceDefaults, serviceServerOptions } from './index.ts';

const secretPath = "EACCES: permission denied, open '/srv/gradcam/keys/s3-credentials.json'";

function appCheckingReady(checkReady: () => Promise<void>, startupGraceMs = 0) {
  const notReady: unknown[] = [];
  const app = Fastify({ ...serviceServerOptions(), logger: false });
  registerServiceDefaults(app);
  registerOperationalRoutes(app, { checkReady, onNotReady: (error) => notReady.push(error), startupGraceMs, scrape: async () => ({ contentType: 'text/plain', body: '' }) });
  return { app, notReady };
}

test("/readyz (asked without a token) names the dependency that failed, never its error's words; the log is told the whole error", async () => {
  const failing = new Error(secretPath);
  const { app, notReady } = appCheckingReady(async () => {
    await checkDependency('redis', async () => 'PONG');
    await checkDependency('storage', () => Promise.reject(failing));
  });
  try {
    const response = await app.inject({ method: 'GET', url: '/readyz' });
    assert.equal(response.statusCode, 503);
    assert.deepEqual(response.json(), { status: 'not-ready', reason: 'storage: unavailable' });
    assert.equal(notReady.length, 1);
    assert.ok(notReady[0] instanceof NotReadyError);
    assert.equal(notReady[0].cause, failing, 'the dependency\'s own error, for the log');
  } finally {
    await app.close();
  }
});

test('/readyz: a NotReadyError says its reason; any other error only "not ready"', async () => {
  for (const [thrown, reason] of [
    [new NotReadyError('1 of 2 engine processes ready'), '1 of 2 engine processes ready'],
    [new Error(secretPath), 'not ready'],
    ['a thrown string', 'not ready'],
  ] as const) {
    const { app, notReady } = appCheckingReady(() => Promise.reject(thrown));
    try {
      const response = await app.inject({ method: 'GET', url: '/readyz' });
      assert.deepEqual([response.statusCode, response.json()], [503, { status: 'not-ready', reason }]);
      assert.deepEqual(notReady, [thrown]);
    } finally {
      await app.close();
    }
  }
  const { app } = appCheckingReady(async () => {});
  assert.deepEqual((await app.inject({ method: 'GET', url: '/readyz' })).json(), { status: 'ready' });
  await app.close();
});

test('/readyz through an outage: the log is told the first failure, one with another reason, one a reporting period later, and the first after a ready answer', async () => {
  const notReady: unknown[] = [];
  let failure: Error | undefined = new NotReadyError('redis: unavailable');
  const app = Fastify({ ...serviceServerOptions(), logger: false });
  registerOperationalRoutes(app, {
    checkReady: async () => {
      if (failure) throw failure;
    },
    onNotReady: (error) => notReady.push(error),
    notReadyReportEveryMs: 300,
    startupGraceMs: 0,
    scrape: async () => ({ contentType: 'text/plain', body: '' }),
  });
  const probe = async (times: number) => {
    for (let i = 0; i < times; i++) await app.inject({ method: 'GET', url: '/readyz' });
  };
  try {
    await probe(5);
    assert.equal(notReady.length, 1, 'five probes of one outage: told once');
    failure = new NotReadyError('storage: unavailable');
    await probe(3);
    assert.equal(notReady.length, 2, 'another reason is told at once');
    failure = new NotReadyError('storage: unavailable', { cause: new Error('access denied') });
    await probe(2);
    assert.equal(notReady.length, 3, 'the same reason with another error under it too');
    await new Promise((resolve) => setTimeout(resolve, 320));
    await probe(3);
    assert.equal(notReady.length, 4, 'told again once the reporting period passed');
    failure = undefined;
    await probe(1);
    failure = new NotReadyError('storage: unavailable');
    await probe(2);
    assert.equal(notReady.length, 5, 'a new outage after a ready answer is told at once');
  } finally {
    await app.close();
  }
});

test('/readyz while starting: not ready answers 503 but the log is told nothing until the grace is over, or at once once the process has been ready', async () => {
  let failing = true;
  const { app, notReady } = appCheckingReady(async () => {
    if (failing) throw new NotReadyError('redis: unavailable');
  }, 300);
  try {
    for (let i = 0; i < 3; i++) assert.equal((await app.inject({ method: 'GET', url: '/readyz' })).statusCode, 503);
    assert.equal(notReady.length, 0, 'a start whose clients are still connecting');
    await new Promise((resolve) => setTimeout(resolve, 350));
    await app.inject({ method: 'GET', url: '/readyz' });
    assert.equal(notReady.length, 1, 'still not ready past the grace: told');
  } finally {
    await app.close();
  }
  const second = appCheckingReady(async () => {
    if (failing) throw new NotReadyError('redis: unavailable');
  }, 60_000);
  try {
    failing = false;
    assert.equal((await second.app.inject({ method: 'GET', url: '/readyz' })).statusCode, 200);
    failing = true;
    await second.app.inject({ method: 'GET', url: '/readyz' });
    assert.equal(second.notReady.length, 1, 'ready once: an outage is told at once, grace or not');
  } finally {
    await second.app.close();
  }
});
