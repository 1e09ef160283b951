import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { signalLeashed, spawnLeashed, withLaunchPrefix } from '@gradcam/dev-services';

export const repoRoot = fileURLToPath(new URL('../../../../', import.meta.url));

export interface ServiceProcess {
  readonly name: string;
  readonly child: ChildProcess;
  /** Resolves with the exit code (or signal) once the process is gone. */
  readonly exited: Promise<string>;
  stop(signal?: NodeJS.Signals): Promise<string>;
}

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
  for (const stream of [child.stdout, child.stderr]) {
    if (stream) createInterface({ input: stream }).on('line', (line) => options.onLine?.(`[${options.name}] ${line}`));
  }
  const exited = new Promise<string>((resolve) => {
    child.once('exit', (code, signal) => resolve(signal ?? `code ${code}`));
    child.once('error', (error) => resolve(`failed to start: ${error.message}`));
  });
  return {
    name: options.name,
    child,
    exited,
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
    if (exit !== undefined) throw new Error(`${service.name} exited (${exit}) before it was ready`);
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
