import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '@gradcam/config';
import { type ExplainJob, explainQueueName } from '@gradcam/contracts';
import { type TestRedis, processRunning, startTestRedis } from '@gradcam/dev-services';
import { FsBlobStore, listAll } from '@gradcam/storage';
import { Queue } from 'bullmq';
import { checkMemoryCeilingAtStart, watchMemoryCeiling } from './memory-ceiling.ts';
import { engineRestarts } from './test-support/engine-restarts.ts';
import { startWorkerMain, workerTestEnv } from './test-support/worker-main.ts';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const mb = 1024 * 1024;

test('a ceiling the warmed-up process is already over is a configuration error naming the variable; one it is close to, a warning; 0, none', () => {
  assert.equal(checkMemoryCeilingAtStart(0, 4096 * mb), undefined);
  assert.equal(checkMemoryCeilingAtStart(1000 * mb, 700 * mb), undefined);
  assert.match(checkMemoryCeilingAtStart(1000 * mb, 850 * mb) ?? '', /^GRADCAM_ENGINE_MAX_RSS_MB \(1000 MB\) leaves little room over the 850 MB/);
  assert.throws(
    () => checkMemoryCeilingAtStart(300 * mb, 612 * mb),
    (error: unknown) => error instanceof ConfigError && error.variable === 'GRADCAM_ENGINE_MAX_RSS_MB' && /is 300 MB, but this engine process already holds 612 MB/.test(error.message),
  );
});

test('the watch calls back once, the first time the resident memory is at or past the ceiling; 0 never looks', async () => {
  const readings = [100, 200, 300, 400, 500];
  const over: number[] = [];
  let read = 0;
  const watch = watchMemoryCeiling(300, (rss) => over.push(rss), { everyMs: 1, rss: () => readings[Math.min(read++, readings.length - 1)] as number });
  await new Promise((r) => setTimeout(r, 100));
  watch.stop();
  assert.deepEqual(over, [300]);
  assert.equal(read, 3, 'no reading after the one past the ceiling');

  let looked = false;
  watchMemoryCeiling(0, () => assert.fail('no ceiling'), { everyMs: 1, rss: () => ((looked = true), Number.MAX_SAFE_INTEGER) }).stop();
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(looked, false);
});

// The real worker (`node services/worker/src/main.ts`, one engine process on wasm) from here on.
let redis: TestRedis;
let dir: string;
const pids = new Set<number>();

before(async () => {
  redis = await startTestRedis({ runtime: 'process' });
  dir = await mkdtemp(join(tmpdir(), 'gradcam-worker-memory-'));
});

after(async () => {
  for (const pid of pids) if (processRunning(pid)) process.kill(pid, 'SIGKILL');
  await redis?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const workerEnv = (env: Record<string, string>) => workerTestEnv(redis.url, join(dir, 'storage'), { GRADCAM_QUEUE_PREFIX: `memory-${process.pid}-${pids.size}`, ...env });

test('GRADCAM_ENGINE_MAX_RSS_MB below what the engine process holds warmed up: one line naming it, before any job is taken, and the supervisor gives up', { timeout: 240_000 }, async () => {
  const child = spawn(process.execPath, ['--import', 'tsx', 'services/worker/src/main.ts'], { cwd: repoRoot, env: workerEnv({ GRADCAM_ENGINE_MAX_RSS_MB: '64' }), stdio: ['ignore', 'pipe', 'pipe'] });
  pids.add(child.pid as number);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', (exitCode) => resolve(exitCode)));
  assert.equal(code, 1, `${stdout}\n${stderr}`);
  assert.match(stderr.trim(), /^worker: configuration error: GRADCAM_ENGINE_MAX_RSS_MB: is 64 MB, but this engine process already holds \d+ MB with its models loaded and warmed up: it would drain as soon as it started\. Raise it above \d+ MB plus what a batch of your largest images needs, or set 0 for no ceiling$/);
  assert.match(stdout, /worker process 0 exited before it was ready \(code 78: a failure every start would repeat\); giving up/);
  assert.doesNotMatch(stdout, /worker 0 ready/);
});

test('an engine process past its ceiling finishes its job, exits 76 and is replaced by a fresh one that takes the next job; the restart counts as memory_ceiling, not a crash', { timeout: 300_000 }, async () => {
  // Warmed up at batch 1 on wasm an engine process holds about 300 MB; one Score-CAM job takes it
  // to about 700 MB (its perturbation passes grow the WebAssembly heap, which never shrinks). A
  // 512 MB ceiling sits in between with some 200 MB of room either side.
  const prefix = `memory-${process.pid}-recycle`;
  const main = startWorkerMain(workerEnv({ GRADCAM_ENGINE_MAX_RSS_MB: '512', GRADCAM_QUEUE_PREFIX: prefix }), (pid) => pids.add(pid));
  const queue = new Queue(explainQueueName, { connection: { url: redis.url }, prefix });
  try {
    const listening = await main.line((l) => l.msg.startsWith('status server'));
    const base = `http://127.0.0.1:${/:(\d+)$/.exec(listening.msg)?.[1]}`;
    const serving = await main.line((l) => l.msg.startsWith('serving '));
    const [, model, version] = /^serving (\S+)@(\S+) /.exec(serving.msg) ?? [];
    const ready = await main.line((l) => l.msg.startsWith('worker 0 ready'));
    const residentAtReady = Number(/, (\d+) MB resident$/.exec(ready.msg)?.[1]);
    assert.ok(residentAtReady > 0 && residentAtReady < 512, `warmed up under the ceiling: ${ready.msg}`);

    const store = new FsBlobStore({ rootDir: join(dir, 'storage'), publicBaseUrl: 'http://127.0.0.1:1', signingSecret: 'test-secret-0123456789' });
    await store.put('inputs/cat.jpg', await readFile(join(repoRoot, 'test/fixtures/images/house-cat-locomotion.jpg')), { contentType: 'image/jpeg' });
    const job = (id: string, methods: ExplainJob['explain']['methods']): ExplainJob => ({
      inferenceId: id,
      model: { name: model as string, version: version as string },
      folder: `out/${id}/`,
      image: { key: 'inputs/cat.jpg' },
      explain: { methods },
      acceptedAt: Date.now(),
      capture: { explain: true, reason: 'all', policy: 'all' },
    });
    await queue.add('explain', job('large-1', ['scorecam']), { jobId: 'large-1' });

    const drain = await main.line((l) => l.name === 'worker-0' && l.msg.startsWith('resident memory'), 120_000);
    assert.equal(drain.level, 40);
    assert.match(drain.msg, /^resident memory \d+ MB is at or past GRADCAM_ENGINE_MAX_RSS_MB \(512 MB\): taking no more jobs, finishing the batches held, then exiting/);
    await main.line((l) => l.name === 'worker-supervisor' && /^worker process 0 exited \(code 76\); restarting in \d+ ms$/.test(l.msg), 120_000);
    // The job it held was finished, not handed over: done once, by the process that drained.
    const large = await queue.getJob('large-1');
    assert.equal(await large?.getState(), 'completed');
    assert.equal(large?.attemptsMade, 1);
    assert.ok((await listAll(store, 'out/large-1/')).some((key) => key.endsWith('explanation.json')));

    // A fresh process, back down to what a warmed-up one holds, takes the next job.
    const again = await main.line((l) => l.name === 'worker-0' && l.msg.startsWith('worker 0 ready') && l.pid !== ready.pid, 120_000);
    assert.ok(Number(/, (\d+) MB resident$/.exec(again.msg)?.[1]) < 512, again.msg);
    await queue.add('explain', job('small-1', ['gradcam']), { jobId: 'small-1' });
    const small = await waitForState(queue, 'small-1', 'completed', 120_000);
    assert.equal(small.processedBy?.endsWith(String(again.pid)), true, `${small.processedBy} is the fresh process`);

    assert.equal(await engineRestarts(base, 'memory_ceiling'), 1);
    assert.equal(await engineRestarts(base, 'crashed'), 0);
  } finally {
    await queue.close();
    main.child.kill('SIGKILL');
  }
});

async function waitForState(queue: Queue, id: string, state: string, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const job = await queue.getJob(id);
    if (job !== undefined && (await job.getState()) === state) return job;
    if (Date.now() > deadline) throw new Error(`job ${id} not ${state} within ${timeoutMs} ms: ${job === undefined ? 'missing' : await job.getState()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
