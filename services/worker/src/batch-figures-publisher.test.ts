import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { test } from 'node:test';
import { type BatchFigures, batchFiguresEvent, explainQueueName } from '@gradcam/contracts';
import { type RedisServer, startRedisServer } from '@gradcam/dev-services';
import { closeConnections, createWorkerConnection, explainJob } from '@gradcam/queue';
import { createRegistry } from '@gradcam/telemetry';
import { QueueEvents } from 'bullmq';
import { createBatchFiguresPublisher } from './batch-figures-publisher.ts';
import { createWorkerTelemetry } from './worker-telemetry.ts';

const figures: BatchFigures = { engineCalls: [3, 1], stageSeconds: { decode: 0.5, engine: 2, render: 0.25, upload: 0.125 } };

test("a batch's figures reach the queue's event stream under batchFiguresEvent, as JSON in `figures`", { timeout: 30_000 }, async () => {
  const server: RedisServer = await startRedisServer();
  const errors: Error[] = [];
  const connection = createWorkerConnection(server.url, { onError: (e) => errors.push(e), name: 'figures-test' });
  const listening = createWorkerConnection(server.url, { onError: (e) => errors.push(e), name: 'figures-test-events' });
  const prefix = `test-${randomUUID().slice(0, 8)}`;
  // From the stream's start: a reader at '$' misses what lands before its first XREAD.
  const events = new QueueEvents(explainQueueName, { connection: listening, prefix, lastEventId: '0' });
  const publisher = createBatchFiguresPublisher(connection, prefix, (e) => errors.push(e));
  try {
    await events.waitUntilReady();
    const received = once(events, batchFiguresEvent);
    await publisher.publish(figures);
    const [event] = (await received) as [{ figures: string }];
    assert.deepEqual(JSON.parse(event.figures), figures);
    assert.deepEqual(errors, []);
  } finally {
    await publisher.close();
    await publisher.close(); // safe twice
    await events.close();
    await closeConnections(connection, listening);
    await server.stop();
  }
});

test("publishing trims the event stream at the queue's own length, not below it (the exporter reads a restart gap from it)", { timeout: 30_000 }, async () => {
  const server: RedisServer = await startRedisServer();
  const connection = createWorkerConnection(server.url, { onError: () => {}, name: 'figures-trim-test' });
  const prefix = `test-${randomUUID().slice(0, 8)}`;
  const publisher = createBatchFiguresPublisher(connection, prefix, (e) => assert.fail(e));
  const stream = `${prefix}:${explainQueueName}:events`;
  // 12,000 events the exporter has not read yet (about 3,000 jobs), past BullMQ's default of 10,000.
  const unread = 12_000;
  try {
    assert.ok(explainJob.eventStreamLength > unread);
    for (let at = 0; at < unread; at += 1_000) {
      const pipeline = connection.pipeline();
      for (let i = 0; i < 1_000; i++) pipeline.xadd(stream, '*', 'event', 'completed', 'jobId', `j-${at + i}`);
      await pipeline.exec();
    }
    await publisher.publish(figures);
    assert.equal(await connection.xlen(stream), unread + 1, 'nothing trimmed');
  } finally {
    await publisher.close();
    await closeConnections(connection);
    await server.stop();
  }
});

test("a worker's own metrics: one batch-size sample per engine call, the stage times once per batch, also with no engine call", async () => {
  const registry = createRegistry({ defaultMetrics: false });
  const telemetry = createWorkerTelemetry(registry);
  telemetry.batch(figures);
  telemetry.batch({ ...figures, engineCalls: [] }); // every job failed before the engine
  const text = await registry.metrics();
  assert.match(text, /^gradcam_worker_batch_size_count 2$/m);
  assert.match(text, /^gradcam_worker_batch_size_sum 4$/m);
  assert.match(text, /^gradcam_worker_stage_duration_seconds_count\{stage="engine"\} 2$/m);
  assert.match(text, /^gradcam_worker_stage_duration_seconds_sum\{stage="engine"\} 4$/m);
});
