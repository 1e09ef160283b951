import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { explainQueueName, redisKeys } from '@gradcam/contracts';
import { closeConnection, createExplainQueue, createProducerConnection, enqueueExplainJobs, explainJob, jobInvalidCode } from '@gradcam/queue';
import { explainJobFixture } from '@gradcam/queue/test-fixtures';
import { type RedisServer, freePort, startOutageProxy, startRedisServer } from '@gradcam/dev-services';
import { Queue, UnrecoverableError, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { explainResult } from './test-support/explain-result.ts';

// The exporter's composition root run as `node services/metrics-exporter/src/main.ts`, as in
// production: what it does with the queue's event stream is wired there.
const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

let server: RedisServer;
before(async () => {
  server = await startRedisServer();
});
after(async () => {
  await server.stop();
});

/** Polls `check` until it gives a value; a timeout names what it waited for, with the exporters' logs. */
async function eventually<T>(what: string, check: () => Promise<T | undefined>, timeoutMs: number, ...exporters: (ExporterProcess | undefined)[]): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = await check();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n${exporters.map((e) => e?.output()).join('\n')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

interface ExporterProcess {
  /**
   * The metric line starting with `series` (name and labels), or undefined; fails the test if the
   * exporter ended. Asked as Prometheus asks (its scrape-timeout header), unless `by` is 'curl'.
   */
  line(series: string, by?: 'prometheus' | 'curl'): Promise<string | undefined>;
  /** SIGTERM, then the exit status. */
  stop(): Promise<string>;
  /** What it logged so far. */
  output(): string;
}

function startExporter(prefix: string, port: number, redisUrl = server.url): ExporterProcess {
  const env = { ...process.env, REDIS_URL: redisUrl, GRADCAM_EXPORTER_PORT: String(port), GRADCAM_HOST: '127.0.0.1', GRADCAM_QUEUE_PREFIX: prefix, LOG_LEVEL: 'info' };
  const child = spawn(process.execPath, ['--import', 'tsx', 'services/metrics-exporter/src/main.ts'], { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  let exit: string | undefined;
  const exited = new Promise<string>((resolve) => child.once('exit', (code, signal) => resolve((exit = `exit ${code} (${signal})`))));
  return {
    line: async (series, by = 'prometheus') => {
      if (exit !== undefined) assert.fail(`the exporter ended: ${exit}\n${output}`);
      const headers: Record<string, string> = by === 'prometheus' ? { 'X-Prometheus-Scrape-Timeout-Seconds': '10' } : {};
      const body = await fetch(`http://127.0.0.1:${port}/metrics`, { headers }).then((response) => response.text(), () => undefined);
      return body?.split('\n').find((line) => line.startsWith(`${series} `));
    },
    stop: () => {
      if (exit === undefined) child.kill('SIGTERM');
      return exited;
    },
    output: () => output,
  };
}

test('a job whose data fails the schema fails with JOB_INVALID: the exporter lives on and counts it', async () => {
  const prefix = `t${randomUUID().slice(0, 8)}`;
  const exporter = startExporter(prefix, await freePort());
  const connection = { host: '127.0.0.1', port: Number(new URL(server.url).port) };
  const queue = new Queue(explainQueueName, { connection, prefix });
  // What the batching worker does with data that fails the schema.
  const worker = new Worker(explainQueueName, () => Promise.reject(new UnrecoverableError(`${jobInvalidCode}: model: Required; explain: Required`)), { connection, prefix });
  worker.on('error', () => {});
  const failedTotal = () => exporter.line(`gradcam_jobs_failed_total{code="${jobInvalidCode}"}`);
  const redis = new Redis(server.url);
  try {
    // Born at 0 before any failure (see PipelineRecorder), which also says the exporter is up.
    assert.equal(await eventually('the exporter to answer', failedTotal, 30_000, exporter), `gradcam_jobs_failed_total{code="${jobInvalidCode}"} 0`);
    // The metrics answer before the stream is read: a first start saves where it reads from before it reads.
    await eventually('the exporter to save its start', async () => (await redis.get(redisKeys(prefix).exporterEventsCursor)) ?? undefined, 30_000, exporter);
    await queue.add('explain', { inferenceId: 'bad-1', hand: 'written' }, { jobId: 'bad-1' });
    await eventually('the failure to be counted', async () => ((await failedTotal())?.endsWith(' 1') ? true : undefined), 15_000, exporter);
    // And it is still there a moment later: the handler of the failure did not end it.
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(await failedTotal(), `gradcam_jobs_failed_total{code="${jobInvalidCode}"} 1`);
  } finally {
    await exporter.stop();
    await worker.close();
    await queue.close();
    redis.disconnect();
  }
});

test('a restarted exporter counts the jobs that completed or failed while none ran, and those only a healthcheck saw; a first start counts no history', async () => {
  const prefix = `t${randomUUID().slice(0, 8)}`;
  const port = await freePort();
  const connection = { host: '127.0.0.1', port: Number(new URL(server.url).port) };
  const redis = new Redis(server.url);
  const queue = new Queue(explainQueueName, { connection, prefix });
  const result = explainResult();
  // What a worker does: a job whose id starts with 'bad' fails for good, any other completes.
  const worker = new Worker(explainQueueName, (job) => (job.id?.startsWith('bad') === true ? Promise.reject(new UnrecoverableError('IMAGE_INVALID: not an image')) : Promise.resolve(result)), { connection, prefix });
  worker.on('error', () => {});
  const finished = async (jobId: string) => {
    await queue.add('explain', explainJobFixture(jobId), { jobId });
    await eventually(`job ${jobId} to finish`, async () => (['completed', 'failed'].includes(await queue.getJobState(jobId)) ? true : undefined), 15_000);
  };
  const images = 'gradcam_images_explained_total{model="m"}';
  const imageInvalid = 'gradcam_jobs_failed_total{code="IMAGE_INVALID"}';
  const failedExplanations = 'gradcam_explanations_total{model="mobilenet",method="gradcam",outcome="failed"}';
  let first: ExporterProcess | undefined;
  let second: ExporterProcess | undefined;
  try {
    // History: finished before any exporter ran, in the stream all the same.
    await finished('old-1');
    await finished('bad-old-2');
    first = startExporter(prefix, port);
    // A first start saves where it starts reading: from then on every event is read.
    await eventually('the first exporter to save its start', async () => (await redis.get(redisKeys(prefix).exporterEventsCursor)) ?? undefined, 30_000, first);
    // Prometheus's first scrape of a process shows the stream's counters at 0 (see the next test).
    await first.line(imageInvalid);
    await finished('live-1');
    const exporter = first;
    // A series born after Prometheus's first answer: at 0 in the first answer it takes of it.
    assert.equal(await eventually('the first exporter to count live-1', () => exporter.line(images), 15_000, first), `${images} 0`);
    assert.equal(await first.line(images), `${images} 1`, 'live-1 only: the history is not counted');
    assert.equal(await first.line(imageInvalid), undefined, 'the history failure is not counted');
    // Seen by a healthcheck or a person's curl, not by Prometheus: nothing kept it.
    await finished('live-2');
    assert.equal(await eventually('the first exporter to count live-2', async () => ((await exporter.line(images, 'curl'))?.endsWith(' 2') ? true : undefined), 15_000, first), true);
    assert.equal(await first.stop(), 'exit 0 (null)');

    // While no exporter runs.
    await finished('gap-1');
    await finished('bad-gap-2');

    second = startExporter(prefix, port);
    const restarted = second;
    // The failure is the last event; it is counted once its job is read, after gap-1's completion.
    await eventually('the second exporter to count the gap failure', async () => ((await restarted.line(imageInvalid))?.endsWith(' 1') ? true : undefined), 30_000, second);
    assert.equal(await second.line(images), `${images} 2`, 'live-2 and gap-1, and not live-1 again: Prometheus scraped it');
    assert.equal(await second.line(failedExplanations), `${failedExplanations} 1`);
  } finally {
    await first?.stop();
    await second?.stop();
    await worker.close();
    await queue.close();
    redis.disconnect();
  }
});

test("a restarted exporter's first answer Prometheus takes has the event-stream counters at 0, the replayed gap only the next: a counter at 1 before the restart and 2 after is a reset that rate() counts whole, not a rise of 1", { timeout: 90_000 }, async () => {
  const prefix = `t${randomUUID().slice(0, 8)}`;
  const port = await freePort();
  const connection = { host: '127.0.0.1', port: server.port };
  const redis = new Redis(server.url);
  const queue = new Queue(explainQueueName, { connection, prefix });
  const worker = new Worker(explainQueueName, () => Promise.reject(new UnrecoverableError('IMAGE_INVALID: not an image')), { connection, prefix });
  worker.on('error', () => {});
  const failed = async (jobId: string) => {
    await queue.add('explain', explainJobFixture(jobId), { jobId });
    await eventually(`job ${jobId} to fail`, async () => ((await queue.getJobState(jobId)) === 'failed' ? true : undefined), 15_000);
  };
  const imageInvalid = 'gradcam_jobs_failed_total{code="IMAGE_INVALID"}';
  const counted = (exporter: ExporterProcess, by: 'prometheus' | 'curl', value: number) => async () => ((await exporter.line(imageInvalid, by)) === `${imageInvalid} ${value}` ? true : undefined);
  let first: ExporterProcess | undefined;
  let second: ExporterProcess | undefined;
  try {
    first = startExporter(prefix, port);
    await eventually('the first exporter to save its start', async () => (await redis.get(redisKeys(prefix).exporterEventsCursor)) ?? undefined, 30_000, first);
    await failed('bad-1');
    // Prometheus stores 1 (and the cursor moves past bad-1's failure).
    await eventually('Prometheus to take the first failure', counted(first, 'prometheus', 1), 15_000, first);
    assert.equal(await first.stop(), 'exit 0 (null)');

    await failed('bad-2');
    await failed('bad-3');
    second = startExporter(prefix, port);
    // The gap replayed before Prometheus's first scrape of the new process (a curl sees it).
    await eventually('the second exporter to count the gap', counted(second, 'curl', 2), 30_000, second);
    assert.equal(await second.line(imageInvalid), `${imageInvalid} 0`, 'the first answer Prometheus takes: the counter as the process started it, below the 1 stored, so the reset is seen');
    assert.equal(await second.line(imageInvalid), `${imageInvalid} 2`, 'then the replayed gap, counted whole from the reset: bad-2 and bad-3, not bad-1 again');
  } finally {
    await first?.stop();
    await second?.stop();
    await worker.close();
    await queue.close();
    redis.disconnect();
  }
});

test('a restart gap of thousands of jobs is counted whole: the event stream is kept long enough (about four events a job)', { timeout: 120_000 }, async () => {
  const prefix = `t${randomUUID().slice(0, 8)}`;
  const port = await freePort();
  const connection = { host: '127.0.0.1', port: Number(new URL(server.url).port) };
  // The queue as ingest makes it: whatever event-stream length the pipeline sets is set here.
  const producer = createProducerConnection(server.url, { onError: () => {} });
  const queue = createExplainQueue({ connection: producer, prefix, onError: () => {} });
  const redis = new Redis(server.url);
  const worker = new Worker(explainQueueName, (job) => Promise.resolve(explainResult({ acceptedAt: (job.data as { acceptedAt: number }).acceptedAt })), { connection, prefix, concurrency: 100 });
  worker.on('error', () => {});
  const images = 'gradcam_images_explained_total{model="m"}';
  // 4,000 jobs: added, waiting, active and completed make ~16,000 events, past BullMQ's default
  // stream length of 10,000, which at 1,000 jobs/s is what a few seconds of restart produce.
  const jobs = 4_000;
  let first: ExporterProcess | undefined;
  let second: ExporterProcess | undefined;
  try {
    first = startExporter(prefix, port);
    await eventually('the first exporter to save its start', async () => (await redis.get(redisKeys(prefix).exporterEventsCursor)) ?? undefined, 30_000, first);
    assert.equal(await first.stop(), 'exit 0 (null)');

    for (let at = 0; at < jobs; at += 1_000) await enqueueExplainJobs(queue, Array.from({ length: 1_000 }, (_, i) => explainJobFixture(`gap-${at + i}`)));
    await eventually('every job to complete', async () => ((await queue.getJobCounts('completed')).completed === jobs ? true : undefined), 60_000);

    second = startExporter(prefix, port);
    const restarted = second;
    await eventually(`the second exporter to count all ${jobs}`, async () => ((await restarted.line(images))?.endsWith(` ${jobs}`) ? true : undefined), 30_000, second);
    assert.doesNotMatch(second.output(), /trimmed past/, 'no event was trimmed unread');
  } finally {
    await first?.stop();
    await second?.stop();
    await worker.close();
    await queue.close();
    await closeConnection(producer);
    redis.disconnect();
  }
});

test("a Queue made on the explain queue without the pipeline's event-stream length (a dashboard, a script) does not shorten the stream for good: the exporter sets the length back", { timeout: 60_000 }, async () => {
  const prefix = `t${randomUUID().slice(0, 8)}`;
  const exporter = startExporter(prefix, await freePort());
  const redis = new Redis(server.url);
  const lengthIs = (expected: number) => async () => ((await redis.hget(`${prefix}:${explainQueueName}:meta`, 'opts.maxLenEvents')) === String(expected) ? true : undefined);
  let foreign: Queue | undefined;
  try {
    await eventually("the exporter's queue to write the pipeline's length", lengthIs(explainJob.eventStreamLength), 30_000, exporter);
    // What Bull Board or a script inspecting the queue makes: BullMQ writes its default into the
    // queue's meta, and every later event trims the stream to it (as every add does after a flushed
    // Redis lost the meta). Ingest's and the exporter's queues wrote theirs only at their start.
    foreign = new Queue(explainQueueName, { connection: { host: '127.0.0.1', port: server.port }, prefix });
    await eventually("the foreign queue to write BullMQ's default", lengthIs(10_000), 15_000);
    await foreign.close();
    await eventually('the exporter to set the length back', lengthIs(explainJob.eventStreamLength), 30_000, exporter);
    // Its warning reaches this process's pipe after Redis has the length back, not necessarily before.
    const warned = /"level":40.*event stream was set to keep 10000 events/;
    await eventually('the exporter to warn that the length was changed', async () => (warned.test(exporter.output()) ? true : undefined), 10_000, exporter);
  } finally {
    await foreign?.close();
    await exporter.stop();
    redis.disconnect();
  }
});

test('a Redis outage while Prometheus scrapes: each kind of failure is logged once (then a count a minute), /metrics answers without the sources it cannot read, and it recovers by itself', { timeout: 120_000 }, async () => {
  const prefix = `t${randomUUID().slice(0, 8)}`;
  const proxy = await startOutageProxy(Number(new URL(server.url).port));
  const exporter = startExporter(prefix, await freePort(), `redis://127.0.0.1:${proxy.port}`);
  const queueSuccess = 'gradcam_exporter_collect_success{source="queue"}';
  const warnings = () => exporter.output().split('\n').filter((line) => /"level":(40|50)/.test(line));
  let scraping: NodeJS.Timeout | undefined;
  try {
    await eventually('the queue to be read', async () => ((await exporter.line(queueSuccess))?.endsWith(' 1') ? true : undefined), 30_000, exporter);
    const before = warnings().length;
    proxy.cut();
    // Ten seconds of outage, scraped five times a second (Prometheus' every 15 s, compressed).
    scraping = setInterval(() => void exporter.line(queueSuccess).catch(() => {}), 200);
    await new Promise((r) => setTimeout(r, 10_000));
    assert.equal(await exporter.line(queueSuccess), `${queueSuccess} 0`, 'told as a failed read');
    assert.equal(await exporter.line('gradcam_queue_jobs{state="waiting"}'), undefined, 'no stale queue depth');
    const during = warnings().slice(before);
    // One line per kind: the connections' errors, and each source's failed read, each once however
    // many scrapes fail (50 here, 10 sources each). How many kinds an outage shows depends on
    // timing (a reset, a timeout, the retry limit), so what is checked is that none repeats.
    const messages = during.map((line) => (JSON.parse(line) as { msg: string }).msg);
    assert.ok(during.length > 0, 'the outage was logged');
    assert.deepEqual(messages.filter((msg, i) => messages.indexOf(msg) !== i), [], `a warning repeated in 10 s of outage:\n${during.join('\n')}`);
    assert.ok(during.length <= 30, `${during.length} warnings in 10 s of outage:\n${during.join('\n')}`);

    proxy.restore();
    await eventually('the queue to be read again', async () => ((await exporter.line(queueSuccess))?.endsWith(' 1') ? true : undefined), 30_000, exporter);
    assert.match(exporter.output(), /Redis answers again/);
  } finally {
    clearInterval(scraping);
    await exporter.stop();
    await proxy.close();
  }
});

/**
 * A Redis user allowed everything but `denied` (an ACL rule's command, e.g. xread, client|setname),
 * named after the test's prefix: its name and the URL an exporter connects with.
 */
async function userWithout(admin: Redis, prefix: string, denied: string): Promise<{ user: string; url: string }> {
  const user = `exporter-${prefix}`;
  await admin.call('ACL', 'SETUSER', user, 'on', '>exporter-secret', '~*', '&*', '+@all', `-${denied}`);
  return { user, url: `redis://${user}:exporter-secret@127.0.0.1:${server.port}` };
}

test("an exporter that cannot read the event stream says so: the age of its oldest unread event grows, where a reading one's is 0", { timeout: 60_000 }, async () => {
  const prefix = `t${randomUUID().slice(0, 8)}`;
  const admin = new Redis(server.url);
  // A user allowed everything but XREAD: every scrape-time read works, the stream is never read.
  const { user, url } = await userWithout(admin, prefix, 'xread');
  const blind = startExporter(prefix, await freePort(), url);
  const reading = startExporter(prefix, await freePort());
  const queue = new Queue(explainQueueName, { connection: { host: '127.0.0.1', port: server.port }, prefix });
  const lag = 'gradcam_exporter_events_lag_seconds';
  const lagOf = async (exporter: ExporterProcess) => Number((await exporter.line(lag))?.split(' ')[1] ?? Number.NaN);
  try {
    await eventually('both exporters to read their resume point', async () => ((await blind.line(lag)) !== undefined && (await reading.line(lag)) !== undefined ? true : undefined), 30_000, blind, reading);
    assert.equal(await lagOf(blind), 0, 'nothing to read yet');
    await queue.add('explain', explainJobFixture('first'), { jobId: 'first' });
    const behind = await eventually('the blind exporter to be 2 s behind', async () => ((await lagOf(blind)) >= 2 ? lagOf(blind) : undefined), 10_000, blind);
    assert.ok(behind < 10, `lag ${behind} s`);
    assert.equal(await blind.line('gradcam_exporter_collect_success{source="event_stream"}'), 'gradcam_exporter_collect_success{source="event_stream"} 1');
    assert.equal(await eventually('the reading exporter to catch up', async () => ((await lagOf(reading)) === 0 ? 0 : undefined), 10_000, reading), 0);
  } finally {
    await blind.stop();
    await reading.stop();
    await queue.close();
    await admin.call('ACL', 'DELUSER', user);
    admin.disconnect();
  }
});

test("an exporter that cannot tell where its reading of the event stream starts (no cursor and no newest entry it may read: an ACL without the stream commands) does not say it is caught up: event_stream fails and the lag has no sample", { timeout: 60_000 }, async () => {
  const prefix = `t${randomUUID().slice(0, 8)}`;
  const admin = new Redis(server.url);
  const { user, url } = await userWithout(admin, prefix, '@stream');
  const exporter = startExporter(prefix, await freePort(), url);
  const queue = new Queue(explainQueueName, { connection: { host: '127.0.0.1', port: server.port }, prefix });
  const success = 'gradcam_exporter_collect_success{source="event_stream"}';
  try {
    await queue.add('explain', explainJobFixture('first'), { jobId: 'first' });
    await eventually('the cursor not read to be logged', async () => (/could not read the event-stream cursor/.test(exporter.output()) ? true : undefined), 30_000, exporter);
    // Scraped until the queue source is read, and a few times more.
    await eventually('a scrape with the queue read', async () => ((await exporter.line('gradcam_exporter_collect_success{source="queue"}')) === 'gradcam_exporter_collect_success{source="queue"} 1' ? true : undefined), 30_000, exporter);
    for (let i = 0; i < 3; i++) {
      assert.equal(await exporter.line(success), `${success} 0`, exporter.output());
      assert.equal(await exporter.line('gradcam_exporter_events_lag_seconds'), undefined, 'no lag sample, not 0');
      await new Promise((r) => setTimeout(r, 500));
    }
  } finally {
    await exporter.stop();
    await queue.close();
    await admin.call('ACL', 'DELUSER', user);
    admin.disconnect();
  }
});

/** How many times Redis refused `user` the command `object` (e.g. client|setname), from ACL LOG. */
async function deniedCount(admin: Redis, user: string, object: string): Promise<number> {
  const entries = (await admin.call('ACL', 'LOG')) as unknown[][];
  let count = 0;
  for (const entry of entries) {
    const fields = new Map<unknown, unknown>();
    for (let i = 0; i + 1 < entry.length; i += 2) fields.set(entry[i], entry[i + 1]);
    if (fields.get('username') === user && fields.get('object') === object) count += Number(fields.get('count'));
  }
  return count;
}

test("an exporter whose Redis user may not run CLIENT SETNAME (an ACL), so BullMQ's reader never starts, says so once through the throttled error log, not every 5 s, and its lag grows", { timeout: 90_000 }, async () => {
  const prefix = `t${randomUUID().slice(0, 8)}`;
  const admin = new Redis(server.url);
  // BullMQ's QueueEvents.run() names its connection first and gives up on NOPERM; every other read works.
  const { user, url } = await userWithout(admin, prefix, 'client|setname');
  const exporter = startExporter(prefix, await freePort(), url);
  const queue = new Queue(explainQueueName, { connection: { host: '127.0.0.1', port: server.port }, prefix });
  const lag = 'gradcam_exporter_events_lag_seconds';
  const lagOf = async () => Number((await exporter.line(lag))?.split(' ')[1] ?? Number.NaN);
  try {
    await eventually('the exporter to read its resume point', async () => ((await exporter.line(lag)) !== undefined ? true : undefined), 30_000, exporter);
    await queue.add('explain', explainJobFixture('first'), { jobId: 'first' });
    const behind = await eventually('the exporter to be 2 s behind', async () => ((await lagOf()) >= 2 ? lagOf() : undefined), 15_000, exporter);
    assert.ok(behind < 15, `lag ${behind} s`);
    // Its reader tried again at least twice more (every 5 s), by Redis's own record rather than a
    // clock: each new reader's connection is refused CLIENT SETNAME (ioredis' connectionName, then BullMQ's).
    await eventually('the first refusal in the log', async () => (/setname/i.test(exporter.output()) ? true : undefined), 30_000, exporter);
    const refused = await deniedCount(admin, user, 'client|setname');
    await eventually('two more readers refused', async () => ((await deniedCount(admin, user, 'client|setname')) >= refused + 4 ? true : undefined), 40_000, exporter);
    const told = exporter.output().split('\n').filter((line) => /setname/i.test(line));
    assert.equal(told.length, 1, `one line for the refusal until its minute is up:\n${told.join('\n')}`);
    assert.match(told[0] as string, /"level":40.*the queue event stream's reading stopped; reading again from after \d+-\d+ in 5 s: NOPERM .*'client\|setname'/);
  } finally {
    await exporter.stop();
    await queue.close();
    await admin.call('ACL', 'DELUSER', user);
    admin.disconnect();
  }
});

test('a second exporter on the same queue is told, not silent: both export gradcam_exporter_instances 2 and log an error; 1 again once one stops', { timeout: 60_000 }, async () => {
  const prefix = `t${randomUUID().slice(0, 8)}`;
  const first = startExporter(prefix, await freePort());
  const second = startExporter(prefix, await freePort());
  const instances = 'gradcam_exporter_instances';
  try {
    for (const exporter of [first, second]) {
      await eventually('both exporters to see each other', async () => ((await exporter.line(instances)) === `${instances} 2` ? true : undefined), 30_000, first, second);
    }
    await eventually('the error in the log', async () => (/"level":50.*2 metrics exporters run on this queue/.test(second.output()) ? true : undefined), 15_000, second);
    await first.stop();
    assert.equal(await second.line(instances), `${instances} 1`, 'a stopped exporter leaves at once');
    await eventually('the all-clear in the log', async () => (/only metrics exporter on the queue again/.test(second.output()) ? true : undefined), 15_000, second);
  } finally {
    await first.stop();
    await second.stop();
  }
});
