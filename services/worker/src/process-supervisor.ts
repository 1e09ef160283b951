import { type ChildProcess, fork } from 'node:child_process';
import { childEnvironment } from '@gradcam/config';

export interface SupervisorOptions {
  readonly script: string;
  readonly processes: number;
  readonly log: (message: string) => void;
  /** Restart delay after a crash, doubled per quick successive crash, capped. */
  readonly restartDelayMs?: number;
}

/**
 * Runs N engine processes (the wasm backend uses one thread per process, so one per core) and
 * restarts any that crash. SIGTERM is forwarded; stop() resolves once every child has exited,
 * having flushed its current batch.
 */
export class ProcessSupervisor {
  private readonly children = new Map<number, ChildProcess>();
  private stopping = false;

  constructor(private readonly options: SupervisorOptions) {}

  start(): void {
    for (let index = 0; index < this.options.processes; index++) this.spawn(index, this.options.restartDelayMs ?? 1000);
  }

  private spawn(index: number, delayMs: number): void {
    const started = Date.now();
    // sharp and the filesystem share libuv's pool (4 threads by default): with several batches
    // in flight, uploads would queue behind decoding and rendering.
    const child = fork(this.options.script, [String(index)], { stdio: 'inherit', env: childEnvironment({ UV_THREADPOOL_SIZE: '16' }) });
    this.children.set(index, child);
    child.on('error', (error) => this.options.log(`worker process ${index}: ${error.message}`));
    child.on('exit', (code, signal) => {
      this.children.delete(index);
      if (this.stopping) return;
      // A process that crashes at once would crash in a tight loop: back off, up to 30 s.
      const next = Date.now() - started < 10_000 ? Math.min(delayMs * 2, 30_000) : (this.options.restartDelayMs ?? 1000);
      this.options.log(`worker process ${index} exited (${signal ?? `code ${code}`}); restarting in ${next} ms`);
      setTimeout(() => this.stopping || this.spawn(index, next), next);
    });
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    this.stopping = true;
    await Promise.all(
      [...this.children.values()].map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            child.once('exit', () => resolve());
            child.kill(signal);
          }),
      ),
    );
  }
}
