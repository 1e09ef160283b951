import { Worker, type Transferable, type WorkerOptions } from 'node:worker_threads';

export interface ThreadCallsOptions {
  /** The thread's module. It answers each `{ id, request }` message with `{ id, reply }`. */
  readonly url: URL;
  /** `execArgv` defaults to none: the process's own flags (--input-type, a loader) break or slow a thread. */
  readonly workerOptions?: WorkerOptions;
  /** What each call in flight rejects with when the thread dies, from the cause and exit code. */
  readonly failure: (cause: string, exitCode: number) => Error;
}

interface Pending<Reply> {
  readonly resolve: (reply: Reply) => void;
  readonly reject: (error: Error) => void;
}

/**
 * Calls into one worker thread: each request posted with an id, each reply matched by it.
 *
 * - The thread starts at the first call (or `start()`), and a thread that dies fails only the
 *   calls it had. The next call starts a new one; the exit does not, so a thread that cannot
 *   start at all never respawns in a loop.
 * - An idle thread never keeps the process alive; one with calls in flight does.
 * - `close()` lets the calls in flight finish, then ends the thread; later calls are refused.
 */
export class ThreadCalls<Request, Reply> {
  private worker: Worker | undefined;
  private readonly pending = new Map<number, Pending<Reply>>();
  private readonly drained: (() => void)[] = [];
  private nextId = 0;
  private closed = false;

  constructor(private readonly options: ThreadCallsOptions) {}

  /** Calls in flight. */
  get inFlight(): number {
    return this.pending.size;
  }

  /** Starts the thread ahead of the first call, so that call does not wait for it to load. */
  start(): void {
    if (!this.closed) this.worker ??= this.spawn();
  }

  call(request: Request, transfer: readonly Transferable[] = []): Promise<Reply> {
    if (this.closed) return Promise.reject(new Error('the thread is closed'));
    return new Promise((resolve, reject) => {
      const id = this.nextId++;
      this.pending.set(id, { resolve, reject });
      const worker = (this.worker ??= this.spawn());
      worker.ref();
      try {
        worker.postMessage({ id, request }, transfer);
      } catch (error) {
        // A request that cannot be cloned never left: it must not stay in flight (close waits).
        this.pending.delete(id);
        if (this.pending.size === 0) this.idle(worker);
        reject(error as Error);
      }
    });
  }

  /** Refuses new calls, lets those in flight finish, then ends the thread. Safe twice. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.pending.size > 0) await new Promise<void>((resolve) => this.drained.push(resolve));
    const worker = this.worker;
    this.worker = undefined;
    await worker?.terminate();
  }

  private spawn(): Worker {
    const worker = new Worker(this.options.url, { execArgv: [], ...this.options.workerOptions });
    worker.unref();
    worker.on('message', ({ id, reply }: { id: number; reply: Reply }) => {
      const waiting = this.pending.get(id);
      this.pending.delete(id);
      waiting?.resolve(reply);
      if (this.pending.size === 0) this.idle(worker);
    });
    let cause = 'it exited';
    worker.once('error', (error) => (cause = error.message));
    worker.once('exit', (code) => {
      if (this.worker === worker) this.worker = undefined;
      const failure = this.options.failure(cause, code);
      for (const waiting of this.pending.values()) waiting.reject(failure);
      this.pending.clear();
      this.idle(worker);
    });
    return worker;
  }

  private idle(worker: Worker): void {
    worker.unref();
    for (const drained of this.drained.splice(0)) drained();
  }
}
