import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { processRunning } from '@gradcam/dev-services';
import { engineRestarts } from './test-support/engine-restarts.ts';

// The worker's supervising process (superviseEngineProcesses, as main.ts runs it) over tiny
// stand-ins for the engine processes: what its /readyz says and how it ends does not depend on
// what the engines do, and the real ones take seconds each to load their models.
// (main.test.ts runs it over the real ones.)
const supervise = fileURLToPath(new URL('./supervise-engine-processes.ts', import.meta.url));
const config = fileURLToPath(new URL('../../../packages/config/src/index.ts', import.meta.url));
const announce = fileURLToPath(new URL('../../../packages/process-supervisor/src/index.ts', import.meta.url));

/**
 * A stand-in engine process, by TEST_ENGINE: `ready` says `engine <index> <pid> uv=<its
 * UV_THREADPOOL_SIZE>`, announces it is ready, and on SIGTERM drains for TEST_DRAIN_MS then exits
 * with TEST_DRAIN_EXIT_<index> (0); `crash` exits 1 at once, as an engine process whose model
 * does not load.
 */
const engineSource = `
  import { announceReady } from ${JSON.stringify(announce)};
  const index = process.argv[2];
  if (process.env.TEST_ENGINE === 'crash') process.exit(1);
  process.on('SIGTERM', () => setTimeout(() => process.exit(Number(process.env['TEST_DRAIN_EXIT_' + index] ?? 0)), Number(process.env.TEST_DRAIN_MS ?? 0)));
  setInterval(() => {}, 1000);
  console.log('engine ' + index + ' ' + process.pid + ' uv=' + process.env.UV_THREADPOOL_SIZE);
  announceReady();
`;

const supervisorSource = (engine: string) => `
  import { loadConfigOrExit, readWorkerConfig } from ${JSON.stringify(config)};
  import { superviseEngineProcesses } from ${JSON.stringify(supervise)};
  await superviseEngineProcesses(loadConfigOrExit(readWorkerConfig, 'worker'), ${JSON.stringify(engine)});
`;

interface RunningSupervisor {
  readonly child: ChildProcess;
  readonly lines: string[];
  /** Its own log lines (pino's JSON), by message: the level an operator's filter sees them at. */
  readonly levels: Map<string, string>;
  readonly exited: Promise<number | null>;
  /** The first output line (a log line's msg, or a raw line) matching `pattern`. */
  line(pattern: RegExp, timeoutMs?: number): Promise<string>;
}

let dir: string;
const pids = new Set<number>();

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gradcam-worker-supervisor-'));
  await writeFile(join(dir, 'engine.mjs'), engineSource);
  await writeFile(join(dir, 'supervisor.mjs'), supervisorSource(join(dir, 'engine.mjs')));
});

after(async () => {
  for (const pid of pids) if (processRunning(pid)) process.kill(pid, 'SIGKILL');
  if (dir) await rm(dir, { recursive: true, force: true });
});

function startSupervisor(env: Record<string, string>): RunningSupervisor {
  const { UV_THREADPOOL_SIZE: _operators, ...inherited } = process.env;
  const child = spawn(process.execPath, ['--import', 'tsx', join(dir, 'supervisor.mjs')], {
    env: {
      ...inherited,
      REDIS_URL: 'redis://127.0.0.1:1',
      GRADCAM_STORAGE_DIR: join(dir, 'storage'),
      GRADCAM_HOST: '127.0.0.1',
      GRADCAM_WORKER_METRICS_PORT: '0',
      GRADCAM_WORKER_PROCESSES: '2',
      LOG_LEVEL: 'info',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  pids.add(child.pid as number);
  const lines: string[] = [];
  const levels = new Map<string, string>();
  const waiting: { pattern: RegExp; resolve: (line: string) => void }[] = [];
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (text) => {
    let line = text;
    try {
      const logged = JSON.parse(text) as { msg: string; level: number };
      line = logged.msg;
      levels.set(line, pinoLevels[logged.level] ?? String(logged.level));
    } catch {
      // An engine's own line.
    }
    const engine = /^engine \d+ (\d+) /.exec(line);
    if (engine) pids.add(Number(engine[1]));
    lines.push(line);
    for (const w of waiting) if (w.pattern.test(line)) w.resolve(line);
  });
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  return {
    child,
    lines,
    levels,
    exited,
    line: (pattern, timeoutMs = 20_000) =>
      new Promise((resolve, reject) => {
        const found = lines.find((l) => pattern.test(l));
        if (found !== undefined) return resolve(found);
        const timer = setTimeout(() => reject(new Error(`no line ${pattern} within ${timeoutMs} ms:\n${lines.join('\n')}`)), timeoutMs);
        waiting.push({ pattern, resolve: (line) => (clearTimeout(timer), resolve(line)) });
      }),
  };
}

const pinoLevels: Record<number, string> = { 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };

async function readyz(base: string): Promise<[number, string]> {
  const response = await fetch(`${base}/readyz`);
  return [response.status, JSON.stringify(await response.json())];
}

test('SIGTERM: /readyz says stopping while the engine processes drain (a second SIGTERM meanwhile changes nothing); the replica exits 1 when one of them failed its drain', { timeout: 60_000 }, async () => {
  const supervisor = startSupervisor({ TEST_ENGINE: 'ready', TEST_DRAIN_MS: '1500', TEST_DRAIN_EXIT_1: '1' });
  const listening = await supervisor.line(/^status server/);
  const base = `http://127.0.0.1:${/:(\d+)$/.exec(listening)?.[1]}`;
  await Promise.all([supervisor.line(/^engine 0 /), supervisor.line(/^engine 1 /)]);
  const deadline = Date.now() + 10_000;
  while ((await readyz(base))[0] !== 200) {
    assert.ok(Date.now() < deadline, 'both engines announced themselves ready');
    await new Promise((r) => setTimeout(r, 20));
  }
  supervisor.child.kill('SIGTERM');
  await supervisor.line(/^SIGTERM: stopping 2 × worker process/);
  assert.deepEqual(await readyz(base), [503, JSON.stringify({ status: 'not-ready', reason: 'stopping' })]);
  // An impatient second one: the replica goes on waiting for its engines' drain.
  supervisor.child.kill('SIGTERM');
  await supervisor.line(/^SIGTERM: already stopping; waiting for each worker process to drain$/);
  assert.deepEqual(await readyz(base), [503, JSON.stringify({ status: 'not-ready', reason: 'stopping' })]);
  assert.equal(await supervisor.exited, 1);
  assert.ok(supervisor.lines.includes('worker process 1 exited (code 1) after SIGTERM'), supervisor.lines.join('\n'));
  // A routine stop is info; an engine process that failed its drain is a warning.
  assert.equal(supervisor.levels.get('SIGTERM: stopping 2 × worker process'), 'info');
  assert.equal(supervisor.levels.get('worker process 1 exited (code 1) after SIGTERM'), 'warn');
});

test('the engine processes keep the operator\'s UV_THREADPOOL_SIZE, and get 16 libuv threads otherwise', { timeout: 60_000 }, async () => {
  for (const [env, expected] of [[{ UV_THREADPOOL_SIZE: '7' }, 'uv=7'], [{}, 'uv=16']] as const) {
    const supervisor = startSupervisor({ TEST_ENGINE: 'ready', ...env });
    const engines = await Promise.all([supervisor.line(/^engine 0 /), supervisor.line(/^engine 1 /)]);
    for (const engine of engines) assert.ok(engine.endsWith(` ${expected}`), engine);
    supervisor.child.kill('SIGTERM');
    assert.equal(await supervisor.exited, 0);
  }
});

test('an engine process that exits before it is ready, every time: the replica gives up after 5 tries and exits 1, saying so (each restart a warning, giving up an error)', { timeout: 90_000 }, async () => {
  // The supervisor backs off 2, 4, 8 and 16 s between the tries: half a minute.
  const supervisor = startSupervisor({ TEST_ENGINE: 'crash', GRADCAM_WORKER_PROCESSES: '1' });
  assert.equal(await supervisor.exited, 1);
  const said = supervisor.lines.filter((l) => l.startsWith('worker process 0 exited'));
  assert.deepEqual(said, [
    ...[2000, 4000, 8000, 16000].map((ms) => `worker process 0 exited (code 1); restarting in ${ms} ms`),
    'worker process 0 exited before it was ready 5 times in a row (last: code 1); giving up: stopping the other processes',
  ]);
  // An operator watching warn and above sees every crash, and the end as an error.
  assert.deepEqual(said.map((l) => supervisor.levels.get(l)), ['warn', 'warn', 'warn', 'warn', 'error']);
});

test('/metrics: engine restarts by reason, each at 0 from the start; an engine process killed by a signal not the supervisor\'s counts as crashed, and its restart is logged as a warning', { timeout: 60_000 }, async () => {
  const supervisor = startSupervisor({ TEST_ENGINE: 'ready' });
  try {
    const listening = await supervisor.line(/^status server/);
    const base = `http://127.0.0.1:${/:(\d+)$/.exec(listening)?.[1]}`;
    const engine = await supervisor.line(/^engine 0 /);
    assert.equal(await engineRestarts(base, 'crashed'), 0);
    assert.equal(await engineRestarts(base, 'unresponsive'), 0);
    // As the kernel's OOM killer would. Soon after it was ready: backed off, twice the base delay.
    process.kill(Number(engine.split(' ')[2]), 'SIGKILL');
    const restart = await supervisor.line(/^worker process 0 exited \(SIGKILL\); restarting in 2000 ms$/);
    assert.equal(supervisor.levels.get(restart), 'warn');
    assert.equal(await engineRestarts(base, 'crashed'), 1);
    assert.equal(await engineRestarts(base, 'unresponsive'), 0);
  } finally {
    supervisor.child.kill('SIGTERM');
    await supervisor.exited;
  }
});
