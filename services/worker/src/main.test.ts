import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type TestRedis, processRunning, startTestRedis } from '@gradcam/dev-services';

// The worker's composition root run as `node services/worker/src/main.ts`, as in production:
// how it starts its engine processes, and how they stop.
const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

interface LogLine {
  readonly pid: number;
  readonly name: string;
  readonly msg: string;
}

interface RunningMain {
  readonly child: ChildProcess;
  readonly lines: LogLine[];
  readonly exited: Promise<number | null>;
  /** Resolves with the first line (already logged or still to come) that matches. */
  line(match: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
}

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

function startMain(env: Record<string, string>): RunningMain {
  const child = spawn(process.execPath, ['--import', 'tsx', 'services/worker/src/main.ts'], {
    cwd: repoRoot,
    env: {
      ...process.env,
      REDIS_URL: redis.url,
      GRADCAM_QUEUE_PREFIX: `main-${process.pid}-${pids.size}`,
      GRADCAM_STORAGE_DIR: join(dir, 'storage'),
      GRADCAM_HOST: '127.0.0.1',
      GRADCAM_BACKEND: 'wasm',
      GRADCAM_RENDER_THREADS: '0',
      GRADCAM_BATCH_SIZE: '1',
      LOG_LEVEL: 'info',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  pids.add(child.pid as number);
  const lines: LogLine[] = [];
  const waiting: { match: (line: LogLine) => boolean; resolve: (line: LogLine) => void }[] = [];
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (text) => {
    let line: LogLine;
    try {
      line = JSON.parse(text) as LogLine;
    } catch {
      return process.stderr.write(`[worker] ${text}\n`);
    }
    pids.add(line.pid);
    lines.push(line);
    for (const waiter of waiting.filter((w) => w.match(line))) waiter.resolve(line);
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    lines,
    exited,
    line: (match, timeoutMs = 120_000) =>
      new Promise<LogLine>((resolve, reject) => {
        const found = lines.find(match);
        if (found) return resolve(found);
        const timer = setTimeout(() => reject(new Error(`no such log line within ${timeoutMs} ms; got:\n${lines.map((l) => `${l.name}: ${l.msg}`).join('\n')}`)), timeoutMs);
        waiting.push({ match, resolve: (line) => (clearTimeout(timer), resolve(line)) });
      }),
  };
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

test('GRADCAM_WORKER_METRICS_PORT=0: every engine process takes a free port; a SIGKILLed supervisor takes its engine processes with it', { timeout: 240_000 }, async () => {
  const main = startMain({ GRADCAM_WORKER_PROCESSES: '2', GRADCAM_WORKER_METRICS_PORT: '0' });
  const ready = await Promise.all([0, 1].map((index) => main.line((l) => l.msg.startsWith(`worker ${index} ready`))));
  const ports = [0, 1].map((index) => {
    const line = main.lines.find((l) => l.name === `worker-${index}` && l.msg.startsWith('status server'));
    return Number(/:(\d+)$/.exec(line?.msg ?? '')?.[1]);
  });
  // Before, process i listened on 0 + i: port 1 for the second one.
  assert.ok(ports.every((port) => port >= 1024), `free ports, not 0 + index: ${ports.join(', ')}`);
  assert.notEqual(ports[0], ports[1]);
  for (const port of ports) assert.equal((await fetch(`http://127.0.0.1:${port}/readyz`)).status, 200, `worker on :${port} is ready`);

  const engines = ready.map((line) => line.pid);
  assert.ok(!engines.includes(main.child.pid as number), 'the engines are the supervisor’s children');
  main.child.kill('SIGKILL');
  await until('the engine processes to exit', () => engines.every((pid) => !processRunning(pid)), 30_000);
  for (const index of [0, 1]) await main.line((l) => l.name === `worker-${index}` && l.msg === 'supervisor gone: finishing the current batch', 1000);
});

// Last in the file: it stops the file's Redis.
test('SIGTERM while Redis is down: the engine process exits once its shutdown deadline (lock + 5 s) passes', { timeout: 240_000 }, async () => {
  const main = startMain({ GRADCAM_WORKER_PROCESSES: '1', GRADCAM_WORKER_METRICS_PORT: '0', GRADCAM_LOCK_DURATION_MS: '1000' });
  await main.line((l) => l.msg.startsWith('worker 0 ready'));
  await redis.stop();
  const signalled = Date.now();
  main.child.kill('SIGTERM');
  const code = await Promise.race([main.exited, new Promise<'still running'>((r) => setTimeout(() => r('still running'), 30_000))]);
  assert.equal(code, 1, 'it gave up on closing and exited');
  const took = Date.now() - signalled;
  assert.ok(took >= 5_000 && took < 20_000, `after its 6 s deadline, took ${took} ms`);
  await main.line((l) => l.msg.startsWith('SIGTERM: not closed after 6000 ms'), 1000);
});
