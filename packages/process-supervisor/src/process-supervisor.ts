import type { ChildProcess } from 'node:child_process';
import { isReadyAnnouncement } from './announce-ready.ts';

export interface SupervisorOptions {
  /** How many processes to keep running. */
  readonly processes: number;
  /**
   * Starts process `index` (0…processes−1): `child_process.fork` for independent processes,
   * `cluster.fork(...).process` for processes that share a listening socket.
   */
  readonly spawn: (index: number) => ChildProcess;
  readonly log: (message: string) => void;
  /** What the processes are called in log lines, e.g. 'worker process'. */
  readonly label: string;
  /** Restart delay after a crash, doubled per quick successive crash, capped at 30 s. */
  readonly restartDelayMs?: number;
  /**
   * How long stop() lets a child drain after its signal before SIGKILL (default 30 s): a child
   * stuck in its shutdown (say, closing a connection to a Redis that is down) must not keep the
   * supervisor from exiting. Give more than the child's own shutdown deadline.
   */
  readonly killAfterMs?: number;
}

/** A process that dies sooner than this after its start is crashing on start-up: back off. */
const quickCrashMs = 10_000;
const maxRestartDelayMs = 30_000;

/**
 * Keeps N copies of a process running (one per core for CPU-bound services on a single-threaded
 * runtime) and restarts any that die. stop() forwards the signal and resolves once every child has
 * exited, so each one drains its own work (a batch, open requests) first.
 */
export class ProcessSupervisor {
  private readonly children = new Map<number, ChildProcess>();
  /** Indexes whose current process has announced it is ready (announceReady). */
  private readonly ready = new Set<number>();
  private readonly restartDelayMs: number;
  private readonly killAfterMs: number;
  private stopping = false;

  constructor(private readonly options: SupervisorOptions) {
    this.restartDelayMs = options.restartDelayMs ?? 1000;
    this.killAfterMs = options.killAfterMs ?? 30_000;
  }

  start(): void {
    for (let index = 0; index < this.options.processes; index++) this.startOne(index, this.restartDelayMs);
  }

  private startOne(index: number, delayMs: number): void {
    const { label, log } = this.options;
    const started = Date.now();
    const child = this.options.spawn(index);
    this.children.set(index, child);
    child.on('error', (error) => log(`${label} ${index}: ${error.message}`));
    child.on('message', (message: unknown) => {
      if (isReadyAnnouncement(message) && this.children.get(index) === child) this.ready.add(index);
    });
    child.once('exit', (code, signal) => {
      this.children.delete(index);
      this.ready.delete(index);
      if (this.stopping) return;
      // A process that crashes at once would crash in a tight loop: back off.
      const next = Date.now() - started < quickCrashMs ? Math.min(delayMs * 2, maxRestartDelayMs) : this.restartDelayMs;
      log(`${label} ${index} exited (${signal ?? `code ${code}`}); restarting in ${next} ms`);
      setTimeout(() => this.stopping || this.startOne(index, next), next);
    });
  }

  /**
   * How many of the processes are ready: those whose current process has announced it
   * (announceReady) since it started. A process that exits is not ready, nor its replacement until
   * it announces again.
   */
  readiness(): { readonly ready: number; readonly processes: number } {
    return { ready: this.ready.size, processes: this.options.processes };
  }

  /**
   * For a supervising process: on SIGTERM or SIGINT, stops every child with SIGTERM (so each one
   * drains; Ctrl-C reaches them too) and exits 0 once they are gone.
   */
  stopOnSignals(): void {
    const stop = (signal: NodeJS.Signals) => {
      this.options.log(`${signal}: stopping ${this.options.processes} × ${this.options.label}`);
      void this.stop('SIGTERM').then(() => process.exit(0));
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  }

  /** Sends `signal` to every child, SIGKILL to any still running `killAfterMs` later; resolves once all have exited. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    this.stopping = true;
    const { label, log } = this.options;
    await Promise.all(
      [...this.children].map(
        ([index, child]) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            const kill = setTimeout(() => {
              log(`${label} ${index} still running ${this.killAfterMs} ms after ${signal}: SIGKILL`);
              child.kill('SIGKILL');
            }, this.killAfterMs);
            child.once('exit', () => {
              clearTimeout(kill);
              resolve();
            });
            child.kill(signal);
          }),
      ),
    );
  }
}
