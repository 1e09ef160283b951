import assert from 'node:assert/strict';
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type ExplainJob, explainQueueName } from '@gradcam/contracts';
import { type TestRedis, processRunning, startTestRedis } from '@gradcam/dev-services';
import { jobStalledCode, parseFailedReason } from '@gradcam/queue';
import { FsBlobStore } from '@gradcam/storage';
import { Queue } from 'bullmq';
import { engineRestarts } from './test-support/engine-restarts.ts';
import { type LogLine, type RunningMain, startWorkerMain, workerTestEnv } from './test-support/worker-main.ts';

// The worker's composition root run as `node services/worker/src/main.ts`, as in production:
// how it starts its engine processes, and how they stop.
const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

let redis: TestRedis;
let dir: string;
const pids = new Set<number>();

async function until(what: string, check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function eventually<T>(what: string, check: () => Promise<T | undefined>, timeoutMs: number, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = await check();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** The TCP ports a process listens on, from /proc (its sockets' inodes in the LISTEN state). */
function listeningPorts(pid: number): number[] {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const socket = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (socket) inodes.add(socket[1] as string);
    } catch {
      // Closed since the listing.
    }
  }
  const rows = ['tcp', 'tcp6'].flatMap((table) => readFileSync(`/proc/net/${table}`, 'utf8').trim().split('\n').slice(1));
  // sl, local address:port (hex), remote, state (0A: LISTEN), …, inode (the 10th column).
  return rows
    .map((row) => row.trim().split(/\s+/))
    .filter((columns) => columns[3] === '0A' && inodes.has(columns[9] ?? ''))
    .map((columns) => parseInt(columns[1]?.split(':')[1] ?? '', 16));
}

/** One sample of an exposition text, by metric name and labels (a subset of the series' labels); undefined when absent. */
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  const wanted = Object.entries(labels).map(([key, value]) => `${key}="${value}"`);
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && wanted.every((pair) => l.includes(pair)));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

function startMain(env: Record<string, string>): RunningMain {
  // Its tests choose the process count and the status port themselves.
  const { GRADCAM_WORKER_PROCESSES: _processes, GRADCAM_WORKER_METRICS_PORT: _port, ...defaults } = workerTestEnv(redis.url, join(dir, 'storage'), { GRADCAM_QUEUE_PREFIX: `main-${process.pid}-${pids.size}` });
  return startWorkerMain({ ...defaults, ...env }, (pid) => pids.add(pid));
}

before(async () => {
  redis = await startTestRedis({ runtime: 'process' });
  dir = await mkdtemp(join(tmpdir(), 'gradcam-worker-main-'));
});

after(async () => {
  for (const pid of pids) if (processRunning(pid)) process.kill(pid, 'SIGKILL');
  await redis?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('GRADCAM_WORKER_PROCESSES=2: one status server on one free port (0) sums both engine processes; /readyz waits for both; a SIGKILLed engine process stays counted', { timeout: 300_000 }, async () => {
  const prefix = `status-${process.pid}`;
  const main = startMain({ GRADCAM_WORKER_PROCESSES: '2', GRADCAM_WORKER_METRICS_PORT: '0', GRADCAM_QUEUE_PREFIX: prefix });
  const queue = new Queue(explainQueueName, { connection: { url: redis.url }, prefix });
  try {
    const listening = await main.line((l) => l.name === 'worker-supervisor' && l.msg.startsWith('status server'));
    const port = Number(/:(\d+)$/.exec(listening.msg)?.[1]);
    assert.ok(port >= 1024, `a free port, not 0: ${listening.msg}`);
    const base = `http://127.0.0.1:${port}`;
    const scrape = async () => (await fetch(`${base}/metrics`)).text();

    // The supervisor answers at once; the engines are still loading their models.
    assert.equal((await fetch(`${base}/healthz`)).status, 200);
    const reasons = new Set<string>();
    await eventually('/readyz to answer 200', async () => {
      const response = await fetch(`${base}/readyz`);
      if (response.status === 200) return true;
      assert.equal(response.status, 503);
      reasons.add(((await response.json()) as { reason: string }).reason);
      return undefined;
    }, 180_000, 50);
    assert.ok(reasons.has('0 of 2 engine processes ready'), [...reasons].join(', '));
    for (const reason of reasons) assert.match(reason, /^[01] of 2 engine processes ready$/);
    const engines = await Promise.all([0, 1].map((index) => main.line((l) => l.msg.startsWith(`worker ${index} ready`))));

    // One port for the replica: the engine processes listen on none.
    assert.deepEqual(listeningPorts(main.child.pid as number), [port]);
    for (const engine of engines) assert.deepEqual(listeningPorts(engine.pid), [], `engine process ${engine.name} listens on no port`);
    assert.ok(!main.lines.some((l) => l.name !== 'worker-supervisor' && l.msg.startsWith('status server')), 'only the supervisor starts a status server');

    // Jobs that fail at once (invalid payload) until each engine process has failed one: both
    // processes' counters, each under its own `worker` label, in the one scrape.
    const failed = (text: string, worker: string) => sample(text, 'gradcam_worker_jobs_total', { outcome: 'failed', worker }) ?? 0;
    const both = await eventually('a failed job counted for each engine process', async () => {
      await queue.add('explain', { not: 'an explain job' });
      const text = await scrape();
      return failed(text, '0') >= 1 && failed(text, '1') >= 1 ? text : undefined;
    }, 60_000, 200);
    assert.ok((sample(both, 'process_cpu_seconds_total', { worker: 'supervisor' }) ?? 0) > 0, 'the supervisor\'s own process metrics');
    assert.ok((sample(both, 'process_cpu_seconds_total', { worker: '1' }) ?? 0) > 0);
    await eventually('the queue to drain', async () => {
      const counts = await queue.getJobCounts('waiting', 'active', 'prioritized');
      return Object.values(counts).every((n) => n === 0) ? true : undefined;
    }, 30_000);

    // SIGKILL engine process 1: its counters stay at its last report, and its replacement adds to them.
    const before = await scrape();
    const victim = engines[1]?.pid as number;
    process.kill(victim, 'SIGKILL');
    await main.line((l) => l.name === 'worker-supervisor' && l.msg.startsWith('worker process 1 exited (SIGKILL)'), 10_000);
    const afterKill = await scrape();
    assert.equal(failed(afterKill, '1'), failed(before, '1'), 'the killed process\'s count did not drop');
    assert.ok((sample(afterKill, 'process_cpu_seconds_total', { worker: '1' }) ?? 0) >= (sample(before, 'process_cpu_seconds_total', { worker: '1' }) ?? Infinity));
    assert.equal(sample(afterKill, 'process_resident_memory_bytes', { worker: '1' }), undefined, 'its gauges went with it');
    const notReady = await fetch(`${base}/readyz`);
    assert.equal(notReady.status, 503);
    assert.deepEqual(await notReady.json(), { status: 'not-ready', reason: '1 of 2 engine processes ready' });

    const replacement = await main.line((l) => l.msg.startsWith('worker 1 ready') && l.pid !== victim);
    await eventually('/readyz to answer 200 again', async () => ((await fetch(`${base}/readyz`)).status === 200 ? true : undefined), 30_000, 50);
    await eventually(`the replacement (pid ${replacement.pid}) to add to worker 1's count`, async () => {
      await queue.add('explain', { not: 'an explain job' });
      const count = failed(await scrape(), '1');
      assert.ok(count >= failed(before, '1'), `never below the killed process's count: ${count}`);
      return count > failed(before, '1') ? true : undefined;
    }, 60_000, 200);
  } finally {
    await queue.close();
    main.child.kill('SIGKILL');
  }
});

test('a SIGKILLed supervisor takes its engine processes with it', { timeout: 240_000 }, async () => {
  const main = startMain({ GRADCAM_WORKER_PROCESSES: '2', GRADCAM_WORKER_METRICS_PORT: '0' });
  const ready = await Promise.all([0, 1].map((index) => main.line((l) => l.msg.startsWith(`worker ${index} ready`))));
  const engines = ready.map((line) => line.pid);
  assert.ok(!engines.includes(main.child.pid as number), 'the engines are the supervisor’s children');
  main.child.kill('SIGKILL');
  await until('the engine processes to exit', () => engines.every((pid) => !processRunning(pid)), 30_000);
  for (const index of [0, 1]) await main.line((l) => l.name === `worker-${index}` && l.msg === 'supervisor gone: finishing the current batch', 1000);
});

test('a supervisor SIGKILLed while its engine processes still load their modules takes them with it at once', { timeout: 120_000 }, async () => {
  const main = startMain({ GRADCAM_WORKER_PROCESSES: '2', GRADCAM_WORKER_METRICS_PORT: '0' });
  const supervisor = main.child.pid as number;
  await main.line((l) => l.name === 'worker-supervisor' && l.msg.startsWith('status server'));
  const children = () => readFileSync(`/proc/${supervisor}/task/${supervisor}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  await until('both engine processes to be forked', () => children().length === 2, 10_000);
  const engines = children();
  for (const pid of engines) pids.add(pid);
  main.child.kill('SIGKILL');
  await until('the engine processes to exit', () => engines.every((pid) => !processRunning(pid)), 60_000);
  // Through main.ts's first-line watch, not the engine's own shutdown once tfjs and the rest have
  // loaded (which would log this), nor later still with the queue consumed.
  const late = main.lines.filter((l) => l.name.startsWith('worker-') && l.name !== 'worker-supervisor');
  assert.deepEqual(late.map((l) => l.msg), [], 'they exited before running anything of their own');
});

test('an engine call past GRADCAM_ENGINE_TIMEOUT_SECONDS: its process names the batch and exits 75 leaving the job active, the supervisor restarts it, and a job that overruns on every run fails JOB_STALLED after its takeovers', { timeout: 240_000 }, async () => {
  // A real Score-CAM call on wasm (tens of seconds) against a 1 s deadline stands in for a hung
  // GPU call: it never settles in time, and yields, so the process's locks renew meanwhile.
  const prefix = `overdue-${process.pid}`;
  const main = startMain({
    GRADCAM_WORKER_PROCESSES: '2',
    GRADCAM_WORKER_METRICS_PORT: '0',
    GRADCAM_QUEUE_PREFIX: prefix,
    GRADCAM_ENGINE_TIMEOUT_SECONDS: '1',
    GRADCAM_LOCK_DURATION_MS: '1000',
    GRADCAM_STALLED_INTERVAL_MS: '500',
  });
  const queue = new Queue(explainQueueName, { connection: { url: redis.url }, prefix });
  try {
    const serving = await main.line((l) => l.msg.startsWith('serving '));
    const [, model, version] = /^serving (\S+)@(\S+) /.exec(serving.msg) ?? [];
    await Promise.all([0, 1].map((index) => main.line((l) => l.msg.startsWith(`worker ${index} ready`))));
    const store = new FsBlobStore({ rootDir: join(dir, 'storage'), publicBaseUrl: 'http://127.0.0.1:1', signingSecret: 'test-secret-0123456789' });
    await store.put('inputs/overdue.jpg', await readFile(join(repoRoot, 'test/fixtures/images/house-cat-locomotion.jpg')), { contentType: 'image/jpeg' });
    const data: ExplainJob = {
      inferenceId: 'overdue-1',
      model: { name: model as string, version: version as string },
      folder: 'out/overdue-1/',
      image: { key: 'inputs/overdue.jpg' },
      explain: { methods: ['scorecam'] },
      acceptedAt: Date.now(),
      capture: { explain: true, reason: 'all', policy: 'all' },
    };
    await queue.add('explain', data, { jobId: data.inferenceId });

    const fatal = (await main.line((l) => l.msg.startsWith('engine call hung'), 60_000)) as LogLine & Record<string, unknown>;
    assert.equal(fatal.level, 60);
    assert.match(fatal.msg, new RegExp(`^engine call hung: a batch of 1 image of ${model}@${version}, methods scorecam, unsettled after 1 s`));
    assert.deepEqual([fatal.images, fatal.model, fatal.methods], [1, `${model}@${version}`, ['scorecam']]);
    // Seconds after it was ready: backed off, twice the base delay.
    await main.line((l) => l.name === 'worker-supervisor' && /^worker process \d exited \(code 75\); restarting in 2000 ms$/.test(l.msg), 10_000);
    // Neither completed nor failed by the process that gave up on it: the input may be innocent.
    const job = await queue.getJob(data.inferenceId);
    assert.equal(job?.failedReason, undefined);
    assert.equal(job?.attemptsMade, 0);
    assert.ok(['active', 'waiting'].includes((await job?.getState()) ?? ''), 'still to be run');

    // It comes back as stalled and runs alone, overruns each time, and fails by itself.
    const failedReason = await eventually('the job to fail', async () => {
      const current = await queue.getJob(data.inferenceId);
      return (await current?.getState()) === 'failed' ? current?.failedReason : undefined;
    }, 150_000, 200);
    assert.equal(parseFailedReason(failedReason).code, jobStalledCode);
    const hung = main.lines.filter((l) => l.msg.startsWith('engine call hung'));
    assert.ok(hung.length >= 3, `a run per takeover: ${hung.length}`);
    // Each exit was a crash of a ready process, never given up on; one soon after its process was
    // ready is backed off from: its slot's delay doubles (1 s again after a process that stayed up 60 s).
    const exits = main.lines.filter((l) => l.name === 'worker-supervisor' && l.msg.startsWith('worker process'));
    assert.ok(exits.length >= hung.length - 1, exits.map((l) => l.msg).join('\n'));
    const lastDelay = new Map<string, number>();
    for (const exit of exits) {
      const [, slot, delay] = /^worker process (\d) exited \(code 75\); restarting in (\d+) ms$/.exec(exit.msg) ?? [];
      assert.ok(slot !== undefined, exit.msg);
      const expected = [Math.min((lastDelay.get(slot) ?? 1000) * 2, 30_000), 1000];
      assert.ok(expected.includes(Number(delay)), `${exit.msg} (expected ${expected.join(' or ')} ms)`);
      lastDelay.set(slot, Number(delay));
    }
    const listening = await main.line((l) => l.name === 'worker-supervisor' && l.msg.startsWith('status server'));
    const base = `http://127.0.0.1:${/:(\d+)$/.exec(listening.msg)?.[1]}`;
    await eventually('/readyz to answer 200 again', async () => ((await fetch(`${base}/readyz`)).status === 200 ? true : undefined), 60_000, 100);
    // Counted apart from crashes: the exit code says the engine call overran.
    assert.equal(await engineRestarts(base, 'engine_timeout'), exits.length);
    assert.equal(await engineRestarts(base, 'crashed'), 0);
  } finally {
    await queue.close();
    main.child.kill('SIGKILL');
  }
});

// Last in the file: it stops the file's Redis.
test('one engine process has a supervisor too; SIGTERM while Redis is down: /readyz says stopping while it drains; the engine process exits once its shutdown deadline (lock + 5 s) passes', { timeout: 240_000 }, async () => {
  const main = startMain({ GRADCAM_WORKER_PROCESSES: '1', GRADCAM_WORKER_METRICS_PORT: '0', GRADCAM_LOCK_DURATION_MS: '1000' });
  const listening = await main.line((l) => l.msg.startsWith('status server'));
  // The status server, the watchdog and the restart count are the supervisor's, whatever the
  // process count: the one-GPU replica (one engine process) is the usual production shape.
  assert.equal(listening.name, 'worker-supervisor');
  const base = `http://127.0.0.1:${/:(\d+)$/.exec(listening.msg)?.[1]}`;
  const ready = await main.line((l) => l.msg.startsWith('worker 0 ready'));
  assert.notEqual(ready.pid, main.child.pid, 'the engine runs in a process of its own');
  assert.equal((await fetch(`${base}/readyz`)).status, 200);
  assert.equal(await engineRestarts(base, 'crashed'), 0);
  await redis.stop();
  const signalled = Date.now();
  main.child.kill('SIGTERM');
  await main.line((l) => l.msg === 'SIGTERM: finishing the current batch', 5_000);
  // It takes no more jobs from here on: count it out now, not once it has exited.
  const draining = await fetch(`${base}/readyz`);
  assert.equal(draining.status, 503);
  assert.deepEqual(await draining.json(), { status: 'not-ready', reason: 'stopping' });
  const code = await Promise.race([main.exited, new Promise<'still running'>((r) => setTimeout(() => r('still running'), 30_000))]);
  assert.equal(code, 1, 'it gave up on closing and exited');
  const took = Date.now() - signalled;
  assert.ok(took >= 5_000 && took < 20_000, `after its 6 s deadline, took ${took} ms`);
  await main.line((l) => l.msg.startsWith('SIGTERM: not closed after 6000 ms'), 1000);
  // The reconnect errors counted since the first was logged are told before the exit, not lost with the process.
  assert.ok(main.lines.some((l) => l.name === 'worker-0' && /^\d+ more like it in the last \d+ s, the last: /.test(l.msg)), main.lines.map((l) => `${l.name}: ${l.msg}`).join('\n'));
});
