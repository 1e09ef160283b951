import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { signalLeashed, spawnLeashed, withLaunchPrefix } from '@gradcam/dev-services';
import { ServiceExitedError } from './service-exited-error.ts';

export const repoRoot = fileURLToPath(new URL('../../../../', import.meta.url));

export interface ServiceProcess {
  readonly name: string;
  readonly child: ChildProcess;
  /** Resolves with the exit code (or signal) once the process is gone. */
  readonly exited: Promise<string>;
  /**
   * The line of its stderr that best says why it stopped: the last one naming an error (a
   * configuration error, `Error: …`), else the last one that is not a stack frame or Node's
   * version banner. Undefined while it has written nothing there.
   */
  lastErrorLine(): string | undefined;
  stop(signal?: NodeJS.Signals): Promise<string>;
}

/** Lines that say nothing about the cause: stack frames, Node's closing version line, braces. */
const noiseLine = /^\s*(at\s|[{}\]]?$)|^Node\.js v\d/;
const errorLine = /configuration error|^\s*(\w+)?(Error|Exception)\b|^\w*Error:/;

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
  let lastError: string | undefined;
  let lastOther: string | undefined;
  for (const stream of [child.stdout, child.stderr]) {
    if (!stream) continue;
    createInterface({ input: stream }).on('line', (line) => {
      if (stream === child.stderr && !noiseLine.test(line)) {
        if (errorLine.test(line)) lastError = line.trim();
        else lastOther = line.trim();
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
    lastErrorLine: () => lastError ?? lastOther,
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
  throw new Error(`${service.name} was not ready at ${url} within ${timeoutMs / 1000} s (${last})`);
}
