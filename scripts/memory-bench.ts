// An engine process's memory by batch size, methods and image size, and over a soak: the real
// worker (`services/worker/src/main.ts`, one wasm engine process) on its own redis-server and a
// filesystem store, fed explain jobs directly; after each phase it reads the replica's /metrics
// (resident, external and V8 heap memory, tensors, the WebAssembly heap, the engine calls made).
// Usage: npm run bench:memory [-- --help]
import { readFile, readdir, rm, mkdtemp } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { type ExplainJob, explainQueueName } from '@gradcam/contracts';
import { processRunning, startRedisServer } from '@gradcam/dev-services';
import { FsBlobStore } from '@gradcam/storage';
import { Queue } from 'bullmq';
import sharp from 'sharp';
import { type RunningMain, startWorkerMain, workerTestEnv } from '../services/worker/src/test-support/worker-main.ts';
import { type MemoryRow, engineCallsBetween, memoryTable, parseMemoryFigures, spread } from './memory-bench-report.ts';

const usage = `Usage: npm run bench:memory -- [options]

Runs the worker (one wasm engine process) on its own redis-server and a filesystem store and
reads its memory from the replica's /metrics after each phase.

  --batches 1,2,4,8,16  Grad-CAM batches of these sizes, one after another, in one engine process
                        (GRADCAM_BATCH_SIZE the largest); default 1,2,4,8,16
  --large N             then N generated JPEGs of 4000×3000, N of 8000×6000, and a batch of 8
                        photos again (default 0: none)
  --all-methods N       a fresh engine process runs one batch of N with all seven methods
                        (default 8; 0 skips it)
  --minutes M           a soak: a fresh engine process at GRADCAM_BATCH_SIZE 8 kept busy with
                        Grad-CAM jobs on the fixture photos for M minutes, sampled every
                        --sample-seconds (default 30) (default 0: none)
  --overlay-max-side N  GRADCAM_OVERLAY_MAX_SIDE for every engine process (default: the worker's,
                        2048; 0 decodes large images at full size)
  --json                one JSON document on stdout instead of the tables
  --help`;

const { values: flags } = parseArgs({
  options: {
    batches: { type: 'string', default: '1,2,4,8,16' },
    large: { type: 'string', default: '0' },
    'all-methods': { type: 'string', default: '8' },
    minutes: { type: 'string', default: '0' },
    'sample-seconds': { type: 'string', default: '30' },
    'overlay-max-side': { type: 'string' },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
if (flags.help) {
  console.log(usage);
  process.exit(0);
}
const whole = (flag: string, value: string, min: number) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) {
    console.error(`--${flag} must be a whole number ≥ ${min}, got "${value}"\n\n${usage}`);
    process.exit(2);
  }
  return n;
};
const batches = flags.batches.split(',').filter((s) => s.trim() !== '').map((s) => whole('batches', s.trim(), 1));
const large = whole('large', flags.large, 0);
const allMethods = whole('all-methods', flags['all-methods'], 0);
const minutes = Number(flags.minutes);
if (!(Number.isFinite(minutes) && minutes >= 0)) {
  console.error(`--minutes must be a number ≥ 0, got "${flags.minutes}"`);
  process.exit(2);
}
const sampleSeconds = whole('sample-seconds', flags['sample-seconds'], 1);
const overlayMaxSide = flags['overlay-max-side'] === undefined ? {} : { GRADCAM_OVERLAY_MAX_SIDE: String(whole('overlay-max-side', flags['overlay-max-side'], 0)) };
const allSevenMethods: ExplainJob['explain']['methods'] = ['gradcam', 'gradcam++', 'xgradcam', 'layercam', 'hirescam', 'eigencam', 'scorecam'];

const repoRoot = fileURLToPath(new URL('../', import.meta.url));
const say = (line: string) => (flags.json ? process.stderr : process.stdout).write(`${line}\n`);
const load = () => loadavg()[0] as number;
const startedAt = new Date();
const loadAtStart = load();

const dir = await mkdtemp(join(tmpdir(), 'gradcam-memory-bench-'));
const storageDir = join(dir, 'storage');
const redis = await startRedisServer();
const pids = new Set<number>();
const store = new FsBlobStore({ rootDir: storageDir, publicBaseUrl: 'http://127.0.0.1:1', signingSecret: 'bench-secret-0123456789' });

/** Stops every process it started and removes its folders; also on Ctrl-C. */
async function cleanUp(): Promise<void> {
  for (const pid of pids) if (processRunning(pid)) process.kill(pid, 'SIGKILL');
  await store.close();
  await redis.stop();
  await rm(dir, { recursive: true, force: true });
}
process.once('SIGINT', () => void cleanUp().then(() => process.exit(130)));

const rows: MemoryRow[] = [];
try {
  // The fixture photos (0.05–0.6 megapixels), stored as ingest stores a record's image.
  const photos: string[] = [];
  const fixtures = join(repoRoot, 'test/fixtures/images');
  for (const name of (await readdir(fixtures)).filter((n) => n.endsWith('.jpg')).sort()) {
    await store.put(`inputs/${name}`, await readFile(join(fixtures, name)), { contentType: 'image/jpeg' });
    photos.push(`inputs/${name}`);
  }
  let run = 0;
  let jobCount = 0;

  /** One worker replica (one engine process) at `batchSize`; `phases` pushes jobs and records rows. */
  async function withWorker(label: string, batchSize: number, env: Record<string, string>, phases: (w: Phases) => Promise<void>): Promise<void> {
    const prefix = `membench-${++run}`;
    const workerEnv = workerTestEnv(redis.url, storageDir, { GRADCAM_QUEUE_PREFIX: prefix, GRADCAM_BATCH_SIZE: String(batchSize), ...overlayMaxSide, ...env });
    // Overlays rendered as in production (workerTestEnv renders on the main thread).
    delete workerEnv.GRADCAM_RENDER_THREADS;
    say(`${label}: starting the worker (GRADCAM_BATCH_SIZE=${batchSize}, wasm)…`);
    const main = startWorkerMain(workerEnv, (pid) => pids.add(pid));
    const queue = new Queue(explainQueueName, { connection: { url: redis.url }, prefix });
    try {
      const listening = await main.line((l) => l.msg.startsWith('status server'), 300_000);
      const metricsUrl = `http://127.0.0.1:${/:(\d+)$/.exec(listening.msg)?.[1]}/metrics`;
      const serving = await main.line((l) => l.msg.startsWith('serving '), 300_000);
      const [, model, version] = /^serving (\S+)@(\S+) /.exec(serving.msg) ?? [];
      await main.line((l) => l.msg.startsWith('worker 0 ready'), 300_000);
      const read = async () => parseMemoryFigures(await (await fetch(metricsUrl)).text());
      let last = await read();
      let phaseStarted = performance.now();
      const record = async (phase: string, images: number) => {
        const now = await read();
        const row: MemoryRow = { run: label, phase, images, ...now, phaseEngineCalls: engineCallsBetween(last.engineCalls, now.engineCalls), seconds: (performance.now() - phaseStarted) / 1000, loadAverage: load() };
        rows.push(row);
        say(`  ${phase}: wasm heap ${(row.wasmHeapBytes / 2 ** 20).toFixed(0)} MB, tensors ${row.tensors}, external ${(row.externalBytes / 2 ** 20).toFixed(0)} MB, RSS ${(row.rssBytes / 2 ** 20).toFixed(0)} MB (load ${row.loadAverage.toFixed(1)})`);
        last = now;
        phaseStarted = performance.now();
        return row;
      };
      await record('ready (warmed up)', 0);
      const job = (key: string, methods: ExplainJob['explain']['methods']): ExplainJob => {
        const id = `mem-${++jobCount}`;
        return { inferenceId: id, model: { name: model as string, version: version as string }, folder: `out/${id}/`, image: { key }, explain: { methods }, acceptedAt: Date.now(), capture: { explain: true, reason: 'all', policy: 'all' } };
      };
      /** Pushes the jobs in one call and waits until each has completed; a failed one stops the benchmark. */
      const push = async (jobs: readonly ExplainJob[]) => {
        await queue.addBulk(jobs.map((data) => ({ name: 'explain', data, opts: { jobId: data.inferenceId } })));
        await waitForJobs(queue, jobs.map((j) => j.inferenceId));
      };
      await phases({ job, push, record, queue, photos, main });
    } finally {
      await queue.close();
      main.child.kill('SIGTERM');
      await Promise.race([main.exited, new Promise((r) => setTimeout(r, 30_000))]);
      if (processRunning(main.child.pid as number)) main.child.kill('SIGKILL');
    }
  }

  interface Phases {
    job(key: string, methods: ExplainJob['explain']['methods']): ExplainJob;
    push(jobs: readonly ExplainJob[]): Promise<void>;
    record(phase: string, images: number): Promise<MemoryRow>;
    readonly queue: Queue;
    readonly photos: readonly string[];
    readonly main: RunningMain;
  }
  const photoAt = (i: number) => photos[i % photos.length] as string;

  if (batches.length > 0) {
    await withWorker('Grad-CAM by batch', Math.max(...batches), { GRADCAM_BATCH_WAIT_MS: '2000' }, async ({ job, push, record }) => {
      for (const size of batches) {
        await push(Array.from({ length: size }, (_, i) => job(photoAt(i), ['gradcam'])));
        await record(`batch of ${size}`, size);
      }
      if (large > 0) {
        for (const [width, height] of [[4000, 3000], [8000, 6000]] as const) {
          const keys = [];
          for (let i = 0; i < large; i++) keys.push(await largeJpeg(photoAt(i), width, height));
          await push(keys.map((key) => job(key, ['gradcam'])));
          await record(`${large} JPEGs ${width}×${height}`, large);
        }
        await push(Array.from({ length: 8 }, (_, i) => job(photoAt(i), ['gradcam'])));
        await record('photos again, batch of 8', 8);
      }
    });
  }

  if (allMethods > 0) {
    await withWorker('all seven methods', allMethods, { GRADCAM_BATCH_WAIT_MS: '2000' }, async ({ job, push, record }) => {
      await push(Array.from({ length: allMethods }, (_, i) => job(photoAt(i), allSevenMethods)));
      await record(`batch of ${allMethods}, all methods`, allMethods);
    });
  }

  if (minutes > 0) {
    const batch = 8;
    await withWorker(`soak ${minutes} min`, batch, {}, async ({ job, record, queue }) => {
      const deadline = performance.now() + minutes * 60_000;
      let nextSample = performance.now() + sampleSeconds * 1000;
      const pushed: string[][] = [];
      let images = 0;
      let imagesRecorded = 0;
      while (performance.now() < deadline) {
        const counts = await queue.getJobCounts('waiting', 'active', 'failed');
        if ((counts.failed ?? 0) > 0) throw new Error(`${counts.failed} job(s) failed during the soak`);
        // Two batches waiting at most: the engine process is never idle, Redis never fills.
        if ((counts.waiting ?? 0) < 2 * batch) {
          const jobs = Array.from({ length: batch }, (_, i) => job(photoAt(images + i), ['gradcam']));
          await queue.addBulk(jobs.map((data) => ({ name: 'explain', data, opts: { jobId: data.inferenceId } })));
          pushed.push(jobs.map((j) => j.inferenceId));
          images += batch;
        }
        // The outputs of finished batches go, so the disk does not fill over a long soak.
        while (pushed.length > 0 && (await Promise.all((pushed[0] as string[]).map((id) => queue.getJobState(id)))).every((s) => s === 'completed')) {
          for (const id of pushed.shift() as string[]) await rm(join(storageDir, 'out', id), { recursive: true, force: true });
        }
        if (performance.now() >= nextSample) {
          await record(`${((performance.now() - deadline) / 60_000 + minutes).toFixed(1)} min`, images - imagesRecorded);
          imagesRecorded = images;
          nextSample += sampleSeconds * 1000;
        }
        await new Promise((r) => setTimeout(r, 200));
      }
      await record(`${minutes} min (end)`, 0);
    });
  }
} finally {
  await cleanUp();
}

/** A photo scaled to width×height, quality-90 JPEG (smoother than a real photo of that size), stored; its key. */
async function largeJpeg(photo: string, width: number, height: number): Promise<string> {
  const key = `inputs/large-${width}x${height}-${photo.split('/').pop()}`;
  const source = await readFile(join(storageDir, photo));
  await store.put(key, await sharp(source).resize(width, height, { fit: 'fill' }).jpeg({ quality: 90 }).toBuffer(), { contentType: 'image/jpeg' });
  return key;
}

async function waitForJobs(queue: Queue, ids: readonly string[], timeoutMs = 600_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const states = await Promise.all(ids.map((id) => queue.getJobState(id)));
    const failed = ids.filter((_, i) => states[i] === 'failed');
    if (failed.length > 0) {
      const job = await queue.getJob(failed[0] as string);
      throw new Error(`job ${failed[0]} failed: ${job?.failedReason}`);
    }
    if (states.every((s) => s === 'completed')) return;
    if (Date.now() > deadline) throw new Error(`jobs not completed within ${timeoutMs / 1000} s: ${states.join(', ')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const loadAtEnd = load();
const host = { cpus: availableParallelism(), node: process.version, startedAt: startedAt.toISOString(), loadAverage: { start: loadAtStart, end: loadAtEnd }, ...overlayMaxSide };
const noisy = Math.max(loadAtStart, loadAtEnd, ...rows.map((r) => r.loadAverage)) > host.cpus;
if (flags.json) {
  console.log(JSON.stringify({ host, noisy, rows }));
} else {
  console.log(`\nnpm run bench:memory: ${host.cpus} CPUs, Node ${host.node}, wasm backend${overlayMaxSide.GRADCAM_OVERLAY_MAX_SIDE === undefined ? '' : `, GRADCAM_OVERLAY_MAX_SIDE=${overlayMaxSide.GRADCAM_OVERLAY_MAX_SIDE}`}, ${startedAt.toISOString()}; 1-minute load average ${loadAtStart.toFixed(1)} at the start, ${loadAtEnd.toFixed(1)} at the end${noisy ? ' (above the CPU count: noisy, though memory figures depend little on it)' : ''}`);
  console.log('MB = MiB. wasm heap: gradcam_worker_wasm_memory_bytes; tensors: gradcam_worker_engine_tensors; heap used: nodejs_heap_size_used_bytes; external: nodejs_external_memory_bytes (includes the wasm heap); RSS: process_resident_memory_bytes; all of engine process 0 after the phase.\n');
  console.log(memoryTable(rows));
  const soak = rows.filter((r) => r.run.startsWith('soak') && r.phase !== 'ready (warmed up)');
  if (soak.length > 0) {
    console.log(`\nsoak: ${soak.at(-1)?.jobsCompleted} jobs; tensors ${spread(soak, (r) => r.tensors, 'count')}, heap used ${spread(soak, (r) => r.heapUsedBytes, 'MB')}, external ${spread(soak, (r) => r.externalBytes, 'MB')}, wasm heap ${spread(soak, (r) => r.wasmHeapBytes, 'MB')}, RSS ${spread(soak, (r) => r.rssBytes, 'MB')}`);
  }
}
