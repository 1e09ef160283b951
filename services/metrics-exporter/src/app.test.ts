import assert from 'node:assert/strict';
import type { AddressInfo, Socket } from 'node:net';
import { test } from 'node:test';
import { defaultBodyLimit, idleSocketTimeoutMs, serverTimeouts } from '@gradcam/http-service';
import { createMetrics, createRegistry, pipelineMetrics } from '@gradcam/telemetry';
import { createApp } from './app.ts';
import { PipelineRecorder, eventStreamMetricNames } from './pipeline-recorder.ts';
import { explainResult } from './test-support/explain-result.ts';

test('the exporter answers /metrics, an unknown route as 404 ROUTE_NOT_FOUND, another method on /metrics as 405 METHOD_NOT_ALLOWED and a path not valid percent-encoding as 400 URL_MALFORMED, in the API error shape', async () => {
  const collectErrors: unknown[] = [];
  const app = createApp({
    registry: createRegistry(),
    collect: async () => {
      throw new Error('Redis is down');
    },
    onCollectError: (error) => collectErrors.push(error),
    scraping: () => () => {},
    eventCounters: new Set(),
  });
  try {
    const metrics = await app.inject({ method: 'GET', url: '/metrics' });
    assert.equal(metrics.statusCode, 200, 'a failed collection still answers the scrape');
    assert.equal(collectErrors.length, 1);
    assert.equal(metrics.headers['x-content-type-options'], 'nosniff');
    // A path that is not valid percent-encoding: Fastify's own {"error":"Bad Request","code":"FST_ERR_BAD_URL",…} before.
    for (const [method, url, status, code] of [['GET', '/metric', 404, 'ROUTE_NOT_FOUND'], ['POST', '/metrics', 405, 'METHOD_NOT_ALLOWED'], ['GET', '/metrics%ZZ', 400, 'URL_MALFORMED']] as const) {
      const response = await app.inject({ method, url });
      assert.equal(response.statusCode, status, `${method} ${url}`);
      assert.equal(response.json<{ error: { code: string } }>().error.code, code);
      assert.equal(response.headers['x-content-type-options'], 'nosniff');
    }
  } finally {
    await app.close();
  }
});

test("the exporter's server timeouts are finite: a client that trickles a request or goes silent does not hold a connection, or the exporter's close(), for ever", async () => {
  const app = createApp({ registry: createRegistry(), collect: async () => {}, onCollectError: () => {}, scraping: () => () => {}, eventCounters: new Set() });
  try {
    assert.equal(app.server.requestTimeout, serverTimeouts(defaultBodyLimit).requestTimeout);
    assert.equal(app.server.timeout, idleSocketTimeoutMs);
  } finally {
    await app.close();
  }
});

test('a scrape Prometheus gave up on (it closed the connection at its timeout while the exporter collected), or answered past its timeout, does not move the event-stream cursor; one it took does', async () => {
  let collecting!: () => void;
  let collectStarted = new Promise<void>((resolve) => (collecting = resolve));
  let finishCollect: () => void = () => {};
  let collectMayFinish: Promise<void> = Promise.resolve();
  const slowCollect = () => (collectMayFinish = new Promise<void>((resolve) => (finishCollect = resolve)));
  let rendered = 0;
  let delivered = 0;
  const app = createApp({
    registry: createRegistry(),
    collect: async () => {
      collecting();
      await collectMayFinish;
    },
    onCollectError: () => {},
    scraping: () => {
      rendered++;
      return () => void delivered++;
    },
    eventCounters: new Set(),
  });
  const until = async (what: string, check: () => boolean) => {
    for (let i = 0; !check(); i++) {
      if (i > 500) assert.fail(`never: ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  };
  try {
    await app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = app.server.address() as AddressInfo;
    const sockets: Socket[] = [];
    app.server.on('connection', (socket: Socket) => sockets.push(socket));
    const scrape = (timeoutSeconds: string, signal?: AbortSignal) =>
      fetch(`http://127.0.0.1:${port}/metrics`, { headers: { 'X-Prometheus-Scrape-Timeout-Seconds': timeoutSeconds }, ...(signal && { signal }) });

    // Prometheus's scrape cancelled at its timeout: it closes the connection and stores nothing.
    void slowCollect();
    const gaveUp = new AbortController();
    const abandoned = scrape('10', gaveUp.signal);
    await collectStarted;
    gaveUp.abort();
    await assert.rejects(abandoned);
    await until('the server to see the connection closed', () => sockets.every((socket) => socket.destroyed));
    finishCollect();
    await until('the abandoned answer to be rendered', () => rendered === 1);

    // An answer written after the scrape's own timeout, on a connection still open: Prometheus has
    // given up on it too (a client that keeps the connection open stands in for the moment between).
    collectStarted = new Promise<void>((resolve) => (collecting = resolve));
    void slowCollect();
    const late = scrape('0.02');
    await collectStarted;
    await new Promise((resolve) => setTimeout(resolve, 100));
    finishCollect();
    assert.equal((await late).status, 200);
    await until('the late answer to be rendered', () => rendered === 2);

    // One Prometheus takes: what it rendered is stored, and the cursor moves.
    assert.equal((await scrape('10')).status, 200);
    await until('the stored answer to be taken', () => delivered === 1);
    assert.equal(delivered, 1, 'an answer nobody stored moved the cursor: a restart before the next scrape would not count what it covered');
  } finally {
    finishCollect();
    await app.close();
  }
});

test("Prometheus's first scrapes of a process show the event-stream counters at 0, until it has taken one so: a restart's replay counted before them is then a reset to it, not a rise", async () => {
  const registry = createRegistry();
  const metrics = createMetrics(registry, pipelineMetrics);
  const recorder = new PipelineRecorder(metrics);
  // A restarted exporter that counted its replayed gap before Prometheus's first scrape.
  recorder.failed('IMAGE_INVALID: not an image', undefined);
  recorder.failed('IMAGE_INVALID: not an image', undefined);
  recorder.completed(explainResult());
  // A scrape-time total read from Redis: it does not restart with the process.
  metrics.captureDecisions.inc({ model: 'm', decision: 'captured', reason: 'sampled' }, 5);
  let rendered = 0;
  const app = createApp({ registry, collect: async () => {}, onCollectError: () => {}, scraping: () => () => void rendered++, eventCounters: eventStreamMetricNames });
  const failed = 'gradcam_jobs_failed_total{code="IMAGE_INVALID"}';
  const images = 'gradcam_images_explained_total{model="m"}';
  const captured = 'gradcam_capture_decisions_total{model="m",decision="captured",reason="sampled"}';
  const bucket = 'gradcam_e2e_latency_seconds_bucket{le="+Inf",model="m"}';
  const lines = async (headers: Record<string, string>) => {
    const body = (await app.inject({ method: 'GET', url: '/metrics', headers })).body.split('\n');
    return [failed, images, captured, bucket].map((series) => body.find((line) => line.startsWith(`${series} `)));
  };
  const prometheus = { 'x-prometheus-scrape-timeout-seconds': '10' };
  try {
    assert.deepEqual(await lines({}), [`${failed} 2`, `${images} 1`, `${captured} 5`, `${bucket} 1`], 'a curl sees what is counted');
    assert.deepEqual(await lines(prometheus), [`${failed} 0`, `${images} 0`, `${captured} 5`, `${bucket} 0`], "Prometheus's first answer: the process's counters as it started them");
    assert.equal(rendered, 0, 'an answer at 0 covers no event: the cursor stays');
    assert.deepEqual(await lines(prometheus), [`${failed} 2`, `${images} 1`, `${captured} 5`, `${bucket} 1`], 'once taken, what is counted');
    assert.equal(rendered, 1);
  } finally {
    await app.close();
  }
});

test("a series born after Prometheus's last answer (a new failure code's first failure, a new model's first job) is shown to it at 0 in its next answer and at its value from the one after, so increase() counts its first events; a curl sees the value at once", async () => {
  const registry = createRegistry();
  const metrics = createMetrics(registry, pipelineMetrics);
  const recorder = new PipelineRecorder(metrics);
  let delivered = 0;
  const app = createApp({ registry, collect: async () => {}, onCollectError: () => {}, scraping: () => () => void delivered++, eventCounters: eventStreamMetricNames });
  const prometheus = { 'x-prometheus-scrape-timeout-seconds': '10' };
  const scrape = async (headers: Record<string, string>) => (await app.inject({ method: 'GET', url: '/metrics', headers })).body.split('\n');
  // A code outside jobFailureCodes (not born at 0), and a model no scrape told of, its name with
  // a space, quotes and a backslash (escaped in the exposition).
  const newCode = 'gradcam_jobs_failed_total{code="DISK_FULL"}';
  const known = 'gradcam_jobs_failed_total{code="IMAGE_CORRUPT"}';
  const newModel = 'model="new \\"m\\" \\\\ 2"';
  const newModelLines = (body: string[]) => body.filter((line) => line.startsWith('gradcam_e2e_latency_seconds') && line.includes(newModel));
  const value = (body: string[], series: string) => body.find((line) => line.startsWith(`${series} `))?.slice(series.length + 1);
  try {
    // Prometheus already scrapes this process: its first answer is taken (nothing counted yet).
    const first = await scrape(prometheus);
    assert.equal(value(first, known), '0');
    assert.equal(value(first, newCode), undefined, 'no such series yet');

    recorder.failed('DISK_FULL: no space left on device', undefined);
    recorder.failed('IMAGE_CORRUPT: not an image', undefined);
    recorder.completed(explainResult({ model: 'new "m" \\ 2' }));
    const curl = await scrape({});
    assert.equal(value(curl, newCode), '1', 'a curl sees what is counted');
    assert.ok(newModelLines(curl).includes(`gradcam_e2e_latency_seconds_count{${newModel}} 1`), newModelLines(curl).join('\n'));

    const second = await scrape(prometheus);
    assert.equal(value(second, newCode), '0', "the new series' first answer Prometheus takes: at 0, so its first failure is a rise from it");
    assert.equal(value(second, known), '1', 'a series Prometheus has shows its value');
    const histogram = newModelLines(second);
    assert.equal(histogram.length, pipelineMetrics.e2eLatency.buckets.length + 3, 'every bucket, +Inf, _sum and _count');
    assert.deepEqual(histogram.filter((line) => !line.endsWith(' 0')), [], "the new label set's buckets, _sum and _count all at 0");
    assert.equal(delivered, 2, 'an answer with series at their values moves the cursor (a restart would count them twice), also when it holds a new one at 0');

    const third = await scrape(prometheus);
    assert.equal(value(third, newCode), '1', 'once taken at 0, its value');
    assert.ok(newModelLines(third).includes(`gradcam_e2e_latency_seconds_count{${newModel}} 1`), newModelLines(third).join('\n'));
    assert.equal(delivered, 3);
  } finally {
    await app.close();
  }
});
