import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const repoRoot = fileURLToPath(new URL('../../../../', import.meta.url));

/** One line of the worker's JSON log (pino). */
export interface LogLine {
  readonly pid: number;
  readonly name: string;
  readonly msg: string;
  /** pino's number: 30 info, 40 warn, 50 error, 60 fatal. */
  readonly level: number;
}

export interface RunningMain {
  readonly child: ChildProcess;
  /** Every log line so far, in order. */
  readonly lines: LogLine[];
  readonly exited: Promise<number | null>;
  /** Resolves with the first line (already logged or still to come) that matches. */
  line(match: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
}

/**
 * The environment the worker tests run it in: this process's, on `redisUrl` and a filesystem store
 * in `storageDir`, one wasm engine process at batch 1 rendering on its main thread, its status
 * server on loopback and a free port; `env` adds or overrides.
 */
export function workerTestEnv(redisUrl: string, storageDir: string, env: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    REDIS_URL: redisUrl,
    GRADCAM_STORAGE_DIR: storageDir,
    GRADCAM_HOST: '127.0.0.1',
    GRADCAM_WORKER_METRICS_PORT: '0',
    GRADCAM_WORKER_PROCESSES: '1',
    GRADCAM_BACKEND: 'wasm',
    GRADCAM_RENDER_THREADS: '0',
    GRADCAM_BATCH_SIZE: '1',
    LOG_LEVEL: 'info',
    ...env,
  };
}

/**
 * The worker's composition root run as `node services/worker/src/main.ts` with `env` (the whole
 * environment), as in production. `onPid` hears of every process that logs (the supervisor and its
 * engine processes), so a test can kill what is left of them.
 */
export function startWorkerMain(env: NodeJS.ProcessEnv, onPid: (pid: number) => void = () => {}): RunningMain {
  const child = spawn(process.execPath, ['--import', 'tsx', 'services/worker/src/main.ts'], { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'inherit'] });
  onPid(child.pid as number);
  const lines: LogLine[] = [];
  const waiting: { match: (line: LogLine) => boolean; resolve: (line: LogLine) => void }[] = [];
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (text) => {
    let line: LogLine;
    try {
      line = JSON.parse(text) as LogLine;
    } catch {
      return process.stderr.write(`[worker] ${text}\n`);
    }
    onPid(line.pid);
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
