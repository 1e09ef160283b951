import { Worker, type Transferable, type WorkerOptions } from 'node:worker_threads';
import { ThreadStuckError } from './thread-stuck-error.ts';

export interface ThreadCallsOptions {
  /** The thread's module. It answers each `{ id, request }` message with `{ id, reply }`. */
  readonly url: URL;
  /** `execArgv` defaults to none: the process's own flags (--input-type, a loader) break or slow a thread. */
  readonly workerOptions?: WorkerOptions;
  /** What each call in flight rejects with when the thread dies, from the cause and exit code. */
  readonly failure: (cause: string, exitCode: number) => Error;
  /**
   * How long a thread with calls in flight may stay silent (default: for ever): neither a reply
   * nor a progress note (`threadProgress`, which a thread working through a long call posts now
   * and then) for that long, and it is taken to be stuck: its calls fail with `ThreadStuckError`,
   * it is terminated (without waiting: a thread blocked in a system call stops only when the call
   * returns) and the next call starts a new one. Silence, not a call's total time: a call that
   * carries many slow steps (a thousand fsyncs on a slow disk) is not stuck while it moves.
   */
  readonly timeoutMs?: number;
}

/** What a thread posts, without an id, to say it is still working through its calls. */
export const threadProgress = { progress: true } as const;

const isReply = <Reply>(message: unknown): message is { id: number; reply: Reply } =>
  typeof message === 'object' && message !== null && typeof (message as { id?: unknown }).id === 'number';

const isProgress = (message: unknown): boolean => typeof message === 'object' && message !== null && (message as { progress?: unknown }).progress === true;

const describe = (message: unknown): string => (message === null ? 'null' : typeof message === 'object' ? 'an object' : `a ${typeof message}`);

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
 * - With `timeoutMs`, a thread with calls in flight that stays silent that long is given up:
 *   its calls fail, it is terminated, and the next call starts a new one.
 * - `close()` lets the calls in flight finish (or reach their deadline), then ends the thread;
 *   later calls are refused.
 */
export class ThreadCalls<Request, Reply> {
  private worker: Worker | undefined;
  private readonly pending = new Map<number, Pending<Reply>>();
  private readonly drained: (() => void)[] = [];
  private nextId = 0;
  private closed = false;
  private stuck = 0;
  /** Armed while calls are in flight (once the thread runs); it reads `heardAt` when it fires. */
  private watchdog: NodeJS.Timeout | undefined;
  /** Bumped at each arming and disarming: a check from an earlier arming stops. */
  private watchdogArming = 0;
  /** When the current thread last said something, or got its first call after being idle. */
  private heardAt = 0;
  /** The current thread has started running its module (its load time is no silence). */
  private online = false;

  private readonly options: ThreadCallsOptions;

  constructor(options: ThreadCallsOptions) {
    this.options = options;
    const { timeoutMs } = options;
    if (timeoutMs !== undefined && !(timeoutMs > 0)) throw new RangeError(`timeoutMs must be positive, got ${timeoutMs}`);
  }

  /** Calls in flight. */
  get inFlight(): number {
    return this.pending.size;
  }

  /**
   * How long the thread has said nothing while it has calls in flight (0 when it has none): a
   * thread working through a long call says it is moving now and then, so a caller may keep new
   * work off one silent for a while.
   */
  get silentMs(): number {
    return this.pending.size === 0 || !this.online ? 0 : Date.now() - this.heardAt;
  }

  /**
   * Threads given up as stuck that have not ended yet: each still holds its OS thread and memory
   * until its blocked call returns.
   */
  get stuckThreads(): number {
    return this.stuck;
  }

  /** Starts the thread ahead of the first call, so that call does not wait for it to load. */
  start(): void {
    if (!this.closed) this.worker ??= this.spawn();
  }

  call(request: Request, transfer: readonly Transferable[] = []): Promise<Reply> {
    if (this.closed) return Promise.reject(new Error('the thread is closed'));
    return new Promise((resolve, reject) => {
      const id = this.nextId++;
      const worker = (this.worker ??= this.spawn());
      // Silence counts from when there is something to answer, not from the thread's last answer.
      if (this.pending.size === 0) this.watch(worker);
      this.pending.set(id, { resolve, reject });
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

  /**
   * Refuses new calls, lets those in flight finish, then ends the thread. Safe twice. With
   * `timeoutMs`, a thread silent that long is given up, so this waits no longer than the thread
   * keeps making progress.
   */
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
    this.online = false;
    worker.once('online', () => {
      if (this.worker !== worker) return;
      this.online = true;
      // Silence counts from here: loading the thread's module is not being stuck.
      if (this.pending.size > 0) this.watch(worker);
    });
    worker.on('message', (message: unknown) => {
      // A thread given up may still answer once its blocked call returns: its calls have failed.
      if (this.worker !== worker) return;
      if (isProgress(message)) return void (this.heardAt = Date.now());
      // Anything else (null, a number: a bug in the thread) is no answer, nor a sign of progress.
      if (!isReply<Reply>(message)) return void this.warn(`posted ${describe(message)}, neither { id, reply } nor a progress note: ignored`);
      this.heardAt = Date.now();
      const { id, reply } = message;
      const waiting = this.pending.get(id);
      this.pending.delete(id);
      waiting?.resolve(reply);
      if (this.pending.size === 0) this.idle(worker);
    });
    // A message that cannot be deserialized here: if it was a reply, its call waits for timeoutMs.
    worker.on('messageerror', (error) => this.warn(`posted a message that could not be read: ${error.message}`));
    let cause = 'it exited';
    worker.once('error', (error) => (cause = error.message));
    worker.once('exit', (code) => {
      // Not the current thread: closed (nothing in flight) or given up (its calls failed then).
      if (this.worker !== worker) return;
      this.worker = undefined;
      this.failAll(() => this.options.failure(cause, code));
      this.idle(worker);
    });
    return worker;
  }

  /**
   * Starts the silence watchdog for `worker`, which now has a call to answer (with `timeoutMs`),
   * once it runs. When it fires, the thread's messages already waiting are let in first (one
   * setImmediate: a main thread that was itself blocked past the deadline, a long synchronous
   * task or a paused container, runs expired timers before the replies that came meanwhile), and
   * the thread is given up only if it still has said nothing for `timeoutMs`.
   */
  private watch(worker: Worker): void {
    const { timeoutMs } = this.options;
    this.heardAt = Date.now();
    if (timeoutMs === undefined || !this.online) return;
    clearTimeout(this.watchdog);
    const arming = ++this.watchdogArming;
    const check = () =>
      setImmediate(() => {
        if (arming !== this.watchdogArming || this.worker !== worker || this.pending.size === 0) return;
        const silentFor = Date.now() - this.heardAt;
        if (silentFor >= timeoutMs) this.giveUp(worker, timeoutMs);
        else this.watchdog = setTimeout(check, timeoutMs - silentFor);
      });
    this.watchdog = setTimeout(check, timeoutMs);
  }

  /**
   * The thread said nothing for `timeoutMs` with calls in flight: it is stuck. Every call in
   * flight is on it (a thread's calls all fail when it goes, so the pending ones are all the
   * current thread's); the oldest is the one it is stuck in, the others are queued behind it. They
   * all fail now, and the next call starts a new thread. terminate() takes effect only when the
   * blocked call returns, so it is not awaited, and the thread no longer keeps the process alive;
   * until then it holds its memory and its OS thread.
   */
  private giveUp(worker: Worker, timeoutMs: number): void {
    if (this.worker !== worker) return;
    this.worker = undefined;
    const [late] = this.pending.keys();
    this.failAll((id) => new ThreadStuckError(timeoutMs, id === late));
    this.stuck++;
    worker.once('exit', () => this.stuck--);
    worker.unref();
    worker.terminate().catch(() => {});
    this.idle(worker);
  }

  /** A process warning (Node prints it on stderr): this class has no logger of its own. */
  private warn(what: string): void {
    process.emitWarning(`thread ${this.options.url.href} ${what}`, { code: 'GRADCAM_THREAD_MESSAGE' });
  }

  private failAll(error: (id: number) => Error): void {
    const pending = [...this.pending];
    this.pending.clear();
    for (const [id, waiting] of pending) waiting.reject(error(id));
  }

  private idle(worker: Worker): void {
    clearTimeout(this.watchdog);
    this.watchdog = undefined;
    this.watchdogArming++;
    worker.unref();
    for (const drained of this.drained.splice(0)) drained();
  }
}
