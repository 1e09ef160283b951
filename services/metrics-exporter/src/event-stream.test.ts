import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { redisKeys } from '@gradcam/contracts';
import { type ExplainQueue, closeConnections, createExplainQueue, createWorkerConnection } from '@gradcam/queue';
import { createLogger, createMetrics, createRegistry, pipelineMetrics } from '@gradcam/telemetry';
import type { Registry } from 'prom-client';
import { type EventStream, startEventStream } from './event-stream.ts';
import { PipelineRecorder } from './pipeline-recorder.ts';
import { explainResult } from './test-support/explain-result.ts';
import { usePrivateRedis } from './test-support/private-redis.ts';

const rig = usePrivateRedis();

/** Polls `check` until it gives a value; a timeout names what it waited for. */
async function eventually<T>(what: string, check: () => Promise<T | undefined> | T | undefined, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = await check();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

interface Exporter {
  readonly stream: EventStream;
  /** The value of one series (name and labels), 0 when it has no sample. */
  value(series: string): Promise<number>;
  /** What it logged, one parsed object a line. */
  readonly lines: Record<string, unknown>[];
  close(): Promise<void>;
}

/** The exporter's reading of the event stream as main.ts wires it, with its own registry and log. */
function startExporter(
  prefix: string,
  queue: ExplainQueue,
  recorderFor: (registry: Registry) => PipelineRecorder = (registry) => new PipelineRecorder(createMetrics(registry, pipelineMetrics)),
  options: { positionCheckMs?: number; unreadableLogEveryMs?: number } = {},
): Exporter {
  const lines: Record<string, unknown>[] = [];
  const log = createLogger({ name: 'metrics-exporter', level: 'info', destination: { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) } });
  const registry = createRegistry();
  const connection = createWorkerConnection(rig.server.url, { onError: () => {} });
  const stream = startEventStream({ connection, redis: rig.redis, queue, prefix, recorder: recorderFor(registry), log, onError: (error) => log.warn({ err: error }, 'error'), ...options });
  return {
    stream,
    lines,
    value: async (series) => {
      const line = (await registry.metrics()).split('\n').find((l) => l.startsWith(`${series} `));
      return line === undefined ? 0 : Number(line.split(' ')[1]);
    },
    close: async () => {
      await stream.close();
      await closeConnections(connection);
    },
  };
}

const images = 'gradcam_images_explained_total{model="m"}';
const unreadable = 'gradcam_exporter_events_unreadable_total';

test("entries BullMQ's QueueEvents cannot parse (a completed event's returnvalue, a progress event's data, not JSON), and a result the exporter does not understand, are logged once, counted and read past: the events around them are counted once, also by a restarted exporter", async () => {
  const prefix = `t${randomUUID().slice(0, 8)}`;
  const queue = createExplainQueue({ connection: rig.redis, prefix, onError: () => {} });
  const events = queue.toKey('events');
  // What a non-BullMQ writer, a bug or another BullMQ version may leave in the stream.
  const completed = (jobId: string, returnvalue: string) => rig.redis.xadd(events, '*', 'event', 'completed', 'jobId', jobId, 'returnvalue', returnvalue, 'prev', 'active');
  let first: Exporter | undefined;
  let second: Exporter | undefined;
  let third: Exporter | undefined;
  try {
    first = startExporter(prefix, queue);
    const reading = first.stream;
    await eventually('the first exporter to start reading', () => reading.readThrough());
    await completed('good-1', JSON.stringify(explainResult()));
    const badCompleted = await completed('bad-1', '{"model":"m", this is not JSON');
    const badProgress = await rig.redis.xadd(events, '*', 'event', 'progress', 'jobId', 'bad-2', 'data', 'half a progress');
    // JSON, but not a job result (a worker of another version): read, and not counted either.
    const foreign = await completed('foreign-1', JSON.stringify({ outcome: 'ok' }));
    const good2 = await completed('good-2', JSON.stringify(explainResult()));
    const exporter = first;
    await eventually('good-1 and good-2 to be counted', async () => ((await exporter.value(images)) === 2 ? true : undefined));
    await eventually('the three entries not counted to be counted as such', async () => ((await exporter.value(unreadable)) === 3 ? true : undefined));
    assert.equal(reading.readThrough(), good2, 'read to the end');
    const told = first.lines.filter((line) => line.msg !== undefined && /could not read an event/.test(String(line.msg)));
    assert.deepEqual(
      told.map(({ id, event }) => ({ id, event })),
      [
        { id: badCompleted, event: 'completed' },
        { id: badProgress, event: 'progress' },
        { id: foreign, event: 'completed' },
      ],
      'each logged once, with its id and event',
    );
    assert.match(String(told[0]?.excerpt), /this is not JSON/);
    // Not scraped: the next exporter counts all of it again, as it would any event.
    await first.close();

    second = startExporter(prefix, queue);
    const restarted = second;
    await eventually('the restarted exporter to count good-1 and good-2 past the bad entries', async () => ((await restarted.value(images)) === 2 ? true : undefined));
    assert.equal(await restarted.value(unreadable), 3);
    restarted.stream.scraped();
    const good3 = await completed('good-3', JSON.stringify(explainResult()));
    await eventually('good-3 to be counted', async () => ((await restarted.value(images)) === 3 ? true : undefined));
    restarted.stream.scraped();
    await second.close();
    assert.equal(await rig.redis.get(redisKeys(prefix).exporterEventsCursor), good3, 'the cursor is past the bad entries');

    third = startExporter(prefix, queue);
    const last = third;
    await eventually('the third exporter to start reading', () => last.stream.readThrough());
    await completed('good-4', JSON.stringify(explainResult()));
    await eventually('good-4 to be counted', async () => ((await last.value(images)) === 1 ? true : undefined));
    assert.equal(await last.value(unreadable), 0, 'nothing read again');
  } finally {
    await first?.close();
    await second?.close();
    await third?.close();
    await queue.close();
  }
});

test("an error in the exporter's own counting (a listener that throws) does not end the reading", async () => {
  const prefix = `t${randomUUID().slice(0, 8)}`;
  const queue = createExplainQueue({ connection: rig.redis, prefix, onError: () => {} });
  const events = queue.toKey('events');
  // A recorder with a bug: counting model 'boom' throws.
  class Throwing extends PipelineRecorder {
    override completed(returnvalue: unknown) {
      if (typeof returnvalue === 'object' && (returnvalue as { model?: unknown } | null)?.model === 'boom') throw new Error('a bug in counting');
      return super.completed(returnvalue);
    }
  }
  const exporter = startExporter(prefix, queue, (registry) => new Throwing(createMetrics(registry, pipelineMetrics)));
  try {
    await eventually('the exporter to start reading', () => exporter.stream.readThrough());
    await rig.redis.xadd(events, '*', 'event', 'completed', 'jobId', 'boom-1', 'returnvalue', JSON.stringify(explainResult({ model: 'boom' })));
    const good = await rig.redis.xadd(events, '*', 'event', 'completed', 'jobId', 'good-1', 'returnvalue', JSON.stringify(explainResult()));
    await eventually('the event after the throwing one to be counted', async () => ((await exporter.value(images)) === 1 ? true : undefined));
    assert.equal(exporter.stream.readThrough(), good);
    assert.ok(
      exporter.lines.some((line) => JSON.stringify(line).includes('a bug in counting')),
      'the error is logged',
    );
  } finally {
    await exporter.close();
    await queue.close();
  }
});

test("without a cursor it can read (a key of another type), reading starts at a known entry: an entry QueueEvents cannot parse as the very first one read is read past and counted, and the events after it are counted, not skipped", async () => {
  const prefix = `t${randomUUID().slice(0, 8)}`;
  const queue = createExplainQueue({ connection: rig.redis, prefix, onError: () => {} });
  const events = queue.toKey('events');
  await rig.redis.xadd(events, '*', 'event', 'completed', 'jobId', 'history', 'returnvalue', JSON.stringify(explainResult()));
  // GET on a hash: WRONGTYPE, so the resume point cannot be read.
  await rig.redis.hset(redisKeys(prefix).exporterEventsCursor, 'not', 'a cursor');
  const exporter = startExporter(prefix, queue);
  try {
    await eventually('the exporter to start reading', () => exporter.stream.readThrough());
    const bad = await rig.redis.xadd(events, '*', 'event', 'completed', 'jobId', 'bad-1', 'returnvalue', 'not JSON');
    const good = await rig.redis.xadd(events, '*', 'event', 'completed', 'jobId', 'good-1', 'returnvalue', JSON.stringify(explainResult()));
    await eventually('good-1 to be counted', async () => ((await exporter.value(images)) === 1 ? true : undefined));
    assert.equal(await exporter.value(unreadable), 1, 'the entry read past is counted as such');
    assert.equal(exporter.stream.readThrough(), good);
    assert.deepEqual(
      exporter.lines.filter((line) => /could not read an event/.test(String(line.msg))).map(({ id }) => id),
      [bad],
    );
    assert.ok(exporter.lines.some((line) => /could not read the event-stream cursor/.test(String(line.msg))), 'the cursor it could not read is logged');
  } finally {
    await exporter.close();
    await queue.close();
  }
});

test("during a rolling upgrade (workers of another version writing results alongside the current ones), what the exporter counts from a result is counted though the result lacks fields it does not use, and the entries it cannot count at all are told once with a count, not a warning each", async () => {
  const prefix = `t${randomUUID().slice(0, 8)}`;
  const queue = createExplainQueue({ connection: rig.redis, prefix, onError: () => {} });
  const events = queue.toKey('events');
  const completed = (jobId: string, returnvalue: unknown) => rig.redis.xadd(events, '*', 'event', 'completed', 'jobId', jobId, 'returnvalue', JSON.stringify(returnvalue));
  const exporter = startExporter(prefix, queue, undefined, { unreadableLogEveryMs: 200 });
  try {
    await eventually('the exporter to start reading', () => exporter.stream.readThrough());
    // A worker of another version: its result has what the counters need (model, methods,
    // explanations, the two times) but not the per-batch fields the exporter does not use.
    const { manifestKey: _m, batchSize: _b, batchLeader: _l, stageSeconds: _s, ...counted } = explainResult();
    // And one the exporter cannot count at all (its model renamed, say).
    const { model: _model, ...foreign } = { ...explainResult(), modelName: 'm' };
    for (let i = 0; i < 20; i++) {
      await completed(`partial-${i}`, counted);
      await completed(`foreign-${i}`, foreign);
    }
    await eventually('the partial results to be counted', async () => ((await exporter.value(images)) === 20 ? true : undefined));
    await eventually('the foreign ones to be counted as unreadable', async () => ((await exporter.value(unreadable)) === 20 ? true : undefined));
    const told = () => exporter.lines.filter((line) => /could not read an event|more events of the queue's event stream/.test(String(line.msg)));
    const more = () => told().reduce((sum, line) => sum + (typeof line.more === 'number' ? line.more : 0), 0);
    await eventually('the rest to be told as a count', () => (more() === 19 ? true : undefined));
    const detailed = told().filter((line) => line.excerpt !== undefined);
    assert.equal(detailed.length, 1, 'the first one told with its excerpt, once');
    assert.ok(told().length < 20, `${told().length} lines for 20 entries`);
  } finally {
    await exporter.close();
    await queue.close();
  }
});

/** A queue of its own for one test, and a writer of `completed` events (an explanation's result) to its stream, under `id` ('*': the next). */
function queueOfItsOwn() {
  const prefix = `t${randomUUID().slice(0, 8)}`;
  const queue = createExplainQueue({ connection: rig.redis, prefix, onError: () => {} });
  const events = queue.toKey('events');
  const completed = (jobId: string, id = '*') => rig.redis.xadd(events, id, 'event', 'completed', 'jobId', jobId, 'returnvalue', JSON.stringify(explainResult()));
  return { prefix, queue, events, completed };
}

test("a stream deleted and written again below the read position while the exporter reads it (its old ids from a clock that was ahead) is read from its beginning: the new events are counted, not skipped until the clock catches up", async () => {
  const { prefix, queue, events, completed } = queueOfItsOwn();
  const exporter = startExporter(prefix, queue, undefined, { positionCheckMs: 100 });
  try {
    await eventually('the exporter to start reading', () => exporter.stream.readThrough());
    // Numbered while Redis's clock was an hour ahead; the stream is then deleted (a FLUSHALL, a
    // Redis restarted empty) and written again under the right clock: its ids are below that one's.
    const ahead = await completed('ahead', `${Date.now() + 3_600_000}-0`);
    await eventually('the entry from the clock ahead to be counted', async () => ((await exporter.value(images)) === 1 ? true : undefined));
    await rig.redis.del(events);
    const first = await completed('after-1');
    const second = await completed('after-2');
    assert.ok(ahead !== null && first !== null && second !== null && first < ahead, "numbered below the read position");
    await eventually('the events of the stream written again to be counted', async () => ((await exporter.value(images)) === 3 ? true : undefined));
    assert.equal(exporter.stream.readThrough(), second);
    assert.ok(exporter.lines.some((line) => /numbered below/.test(String(line.msg))), 'the rewind is logged');
    const third = await completed('after-3');
    await eventually('a later event to be counted once', async () => ((await exporter.value(images)) === 4 ? true : undefined));
    assert.equal(exporter.stream.readThrough(), third);
  } finally {
    await exporter.close();
    await queue.close();
  }
});

test('a stream rolled back under the read position (Redis restarted from an AOF that missed its last second) is not read again: the events read before are not counted twice', async () => {
  const { prefix, queue, events, completed } = queueOfItsOwn();
  // How often the position was checked (XINFO STREAM; `xinfo|stream` since Redis 7).
  const xinfoCalls = async () => Number(/cmdstat_xinfo(?:\|stream)?:calls=(\d+)/.exec(await rig.redis.info('commandstats'))?.[1] ?? 0);
  const exporter = startExporter(prefix, queue, undefined, { positionCheckMs: 50 });
  try {
    await eventually('the exporter to start reading', () => exporter.stream.readThrough());
    const kept = await completed('kept');
    const lost = await completed('lost');
    await eventually('both events to be counted', async () => ((await exporter.value(images)) === 2 ? true : undefined));
    assert.equal(exporter.stream.readThrough(), lost);
    // What Redis holds after a restart from an AOF written up to 'kept': the stream is numbered below the
    // read position, but by the clock that numbers it now, so its next entries come after that position.
    await rig.redis.del(events);
    assert.ok(kept !== null);
    await completed('kept', kept);
    const checks = await xinfoCalls();
    await eventually('the read position to be checked a few times', async () => ((await xinfoCalls()) >= checks + 3 ? true : undefined));
    const next = await completed('next');
    await eventually('the next event to be counted', async () => ((await exporter.value(images)) >= 3 ? true : undefined));
    assert.equal(await exporter.value(images), 3, 'kept is not counted again');
    assert.equal(exporter.stream.readThrough(), next);
    assert.ok(!exporter.lines.some((line) => /numbered below/.test(String(line.msg))), 'no rewind');
  } finally {
    await exporter.close();
    await queue.close();
  }
});

test("a stream that lost an event the exporter read (Redis restarted from an empty or older dataset, the stream deleted and written again) is said once, whatever the clock; entries trimmed or deleted from it are not taken for a loss", async () => {
  const { prefix, queue, events, completed } = queueOfItsOwn();
  const xinfoCalls = async () => Number(/cmdstat_xinfo(?:\|stream)?:calls=(\d+)/.exec(await rig.redis.info('commandstats'))?.[1] ?? 0);
  /** Until the read position has been checked after now: the checks run one at a time, so the third from now began after one that saw it. */
  const checked = async () => {
    const calls = await xinfoCalls();
    await eventually('the read position to be checked', async () => ((await xinfoCalls()) >= calls + 3 ? true : undefined));
  };
  const told = (exporter: Exporter) => exporter.lines.filter((line) => /no longer holds/.test(String(line.msg)));
  const exporter = startExporter(prefix, queue, undefined, { positionCheckMs: 50 });
  try {
    await eventually('the exporter to start reading', () => exporter.stream.readThrough());
    // Trimmed past the position (BullMQ caps the stream), or deleted from it: no loss to tell.
    const trimmedAway = await completed('one');
    await eventually('the first event to be counted', async () => ((await exporter.value(images)) === 1 ? true : undefined));
    await checked();
    await completed('two');
    await rig.redis.xtrim(events, 'MAXLEN', 1);
    await eventually('the second event to be counted', async () => ((await exporter.value(images)) === 2 ? true : undefined));
    await checked();
    const deleted = exporter.stream.readThrough();
    assert.ok(deleted !== undefined && deleted !== trimmedAway);
    await rig.redis.xdel(events, deleted);
    await checked();
    assert.deepEqual(told(exporter), [], 'nothing lost');
    // Redis restarted from an empty dataset, under the right clock: the new stream is numbered after the
    // position, so nothing needs reading again, but what the old stream held unread is gone.
    await completed('three');
    await eventually('the third event to be counted', async () => ((await exporter.value(images)) === 3 ? true : undefined));
    await checked();
    const lostAt = exporter.stream.readThrough();
    await rig.redis.del(events);
    await completed('after');
    await eventually('the event of the stream written again to be counted', async () => ((await exporter.value(images)) === 4 ? true : undefined));
    await eventually('the loss to be told', async () => (told(exporter).length > 0 ? true : undefined));
    await checked();
    await checked();
    assert.deepEqual(told(exporter).map(({ read }) => read), [lostAt], 'told once, naming the event read that the stream lost');
    assert.ok(!exporter.lines.some((line) => /numbered below/.test(String(line.msg))), 'not read again');
    assert.equal(await exporter.value(images), 4);
  } finally {
    await exporter.close();
    await queue.close();
  }
});
