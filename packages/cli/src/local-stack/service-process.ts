import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { signalLeashed, spawnLeashed, withLaunchPrefix } from '@gradcam/dev-services';
import { LocalStackError } from './local-stack-error.ts';
import { ServiceExitedError } from './service-exited-error.ts';

export const repoRoot = fileURLToPath(new URL('../../../../', import.meta.url));

export interface ServiceProcess {
  readonly name: string;
  readonly child: ChildProcess;
  /** Resolves with the exit code (or signal) once the process is gone. */
  readonly exited: Promise<string>;
  /**
   * The line that best says why it stopped: the last fatal log line on its stdout (`msg: err`),
   * else the last stderr line naming an error (a configuration error, `Error: …`), else the last
   * error log line on stdout, else the last stderr line that is not a stack frame or Node's
   * version banner. Undefined while it has written none of these.
   */
  lastErrorLine(): string | undefined;
  stop(signal?: NodeJS.Signals): Promise<string>;
}

/** Lines that say nothing about the cause: stack frames, Node's closing version line, braces. */
const noiseLine = /^\s*(at\s|[{}\]]?$)|^Node\.js v\d/;
const errorLine = /configuration error|^\s*(\w+)?(Error|Exception)\b|^\w*Error:/;

/** pino's levels: 50 error, 60 fatal. */
const pinoError = 50;
const pinoFatal = 60;

/**
 * A pino JSON line of level error or fatal, as one line: its message, and the error's code and
 * message when one is attached (`worker failed to start: MODEL_NOT_FOUND: unknown model …`).
 * Services log their fatal errors this way on stdout, not on stderr.
 */
export function pinoErrorLine(line: string): { level: number; text: string } | undefined {
  if (!line.startsWith('{"level":')) return undefined;
  let entry: { level?: unknown; msg?: unknown; err?: { message?: unknown; code?: unknown } };
  try {
    entry = JSON.parse(line) as typeof entry;
  } catch {
    return undefined;
  }
  if (typeof entry.level !== 'number' || entry.level < pinoError) return undefined;
  const msg = typeof entry.msg === 'string' ? entry.msg : '';
  const errMessage = typeof entry.err?.message === 'string' ? entry.err.message : '';
  const code = typeof entry.err?.code === 'string' ? `${entry.err.code}: ` : '';
  // pino uses the error's message as msg when none is given: say it once.
  const cause = errMessage === '' || errMessage === msg ? '' : `${code}${errMessage}`;
  const text = msg === '' ? cause : cause === '' ? msg : `${msg}: ${cause}`;
  return text === '' ? undefined : { level: entry.level, text: text.split('\n')[0] as string };
}

/** After the service exits, how long its output may stay open (a grandchild holding the pipe). */
const outputDrainMs = 5_000;

export interface StartServiceOptions {
  readonly name: string;
  /** Entry point relative to the repository root, run with tsx. */
  readonly entry: string;
  readonly env: NodeJS.ProcessEnv;
  /** Each output line, already prefixed with the service name. */
  readonly onLine?: (line: string) => void;
  /** A command that runs Node, such as `['taskset', '-c', '0,1']` (benchmarks pin a service to cores). */
  readonly launchPrefix?: readonly string[] | undefined;
}

/**
 * Runs one service entry point as a child process, its output prefixed line by line. The service
 * gets its own process group, so a Ctrl-C in the terminal reaches only `gradcam up`, which stops
 * the services in its order (ingest, workers, exporter, then Redis); should `gradcam up` die
 * without stopping them (SIGKILL), each gets SIGTERM when its leash notices (see spawnLeashed).
 */
export function startService(options: StartServiceOptions): ServiceProcess {
  const launch = withLaunchPrefix(options.launchPrefix, process.execPath, ['--import', 'tsx', options.entry]);
  const child = spawnLeashed(launch.command, launch.args, { cwd: repoRoot, env: options.env, output: { stdout: 'pipe', stderr: 'pipe' } });
  let lastFatal: string | undefined;
  let lastError: string | undefined;
  let lastLoggedError: string | undefined;
  let lastOther: string | undefined;
  for (const stream of [child.stdout, child.stderr]) {
    if (!stream) continue;
    createInterface({ input: stream }).on('line', (line) => {
      if (stream === child.stderr && !noiseLine.test(line)) {
        if (errorLine.test(line)) lastError = line.trim();
        else lastOther = line.trim();
      } else if (stream === child.stdout) {
        const logged = pinoErrorLine(line);
        if (logged !== undefined && logged.level >= pinoFatal) lastFatal = logged.text;
        else if (logged !== undefined) lastLoggedError = logged.text;
      }
      options.onLine?.(`[${options.name}] ${line}`);
    });
  }
  const exited = new Promise<string>((resolve) => {
    child.once('exit', (code, signal) => resolve(signal ?? `code ${code}`));
    child.once('error', (error) => resolve(`failed to start: ${error.message}`));
  });
  // A process the service started and left behind would keep these pipes open, and with them
  // this process (gradcam up would never exit): a grace period for the last lines, then close.
  void exited.then(() => {
    setTimeout(() => {
      child.stdout?.destroy();
      child.stderr?.destroy();
    }, outputDrainMs).unref();
  });
  return {
    name: options.name,
    child,
    exited,
    lastErrorLine: () => lastFatal ?? lastError ?? lastLoggedError ?? lastOther,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      signalLeashed(child, signal);
      return exited;
    },
  };
}

/** Polls `url` until it answers 2xx, the process exits, or the deadline passes. */
export async function waitUntilReady(service: ServiceProcess, url: string, timeoutMs: number): Promise<void> {
  let exit: string | undefined;
  void service.exited.then((how) => (exit = how));
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer yet';
  while (Date.now() < deadline) {
    if (exit !== undefined) {
      // The exit comes before the last stderr lines are read: give them a moment.
      await sleep(100);
      throw new ServiceExitedError(service.name, exit, 'before it was ready', service.lastErrorLine());
    }
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(2000) });
      if (response.ok) return;
      last = `HTTP ${response.status}: ${(await response.text()).slice(0, 200)}`;
    } catch (error) {
      last = error instanceof Error ? error.message : String(error);
    }
    await sleep(200);
  }
  throw new LocalStackError('SERVICE_NOT_READY', `${service.name} was not ready at ${url} within ${timeoutMs / 1000} s (${last})`);
}
