import { Worker } from 'node:worker_threads';

export interface FileWrite {
  /** Where the object ends up; its folder is created as needed. */
  readonly path: string;
  /** A fresh name next to `path`: written, then renamed over `path`. */
  readonly temporary: string;
  readonly body: Uint8Array;
  readonly fsync: boolean;
}

/** A failed write: the errno `code` and the step it failed at, for the store's error mapping. */
export class FileWriteError extends Error {
  constructor(
    readonly stage: 'mkdir' | 'write' | 'rename',
    readonly code: string | undefined,
    message: string,
  ) {
    super(message);
    this.name = 'FileWriteError';
  }
}

interface Pending {
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

interface Lane {
  readonly worker: Worker;
  readonly pending: Map<number, Pending>;
}

type Reply = { id: number; error?: { stage: FileWriteError['stage']; code?: string; message: string } };

const threadScript = new URL('./file-write-thread.mjs', import.meta.url);

/**
 * Writes whole in-memory objects atomically on a few threads. Through libuv's pool an atomic
 * write is six requests (mkdir, open, write, fsync, close, rename), and on virtual machines each
 * request's hand-off between threads costs the event loop 15–30 µs; here it is one message each
 * way, so the event loop keeps its time for requests. Threads start on the first write, keep the
 * process alive only while writes are pending, and end with close().
 */
export class FileWritePool {
  private readonly lanes: Lane[] = [];
  private nextId = 0;
  private nextLane = 0;

  constructor(private readonly threads: number) {
    if (!(Number.isInteger(threads) && threads >= 1)) throw new RangeError(`threads must be a positive integer, got ${threads}`);
  }

  write(request: FileWrite): Promise<void> {
    const lane = this.lane();
    const id = this.nextId++;
    return new Promise<void>((resolve, reject) => {
      if (lane.pending.size === 0) lane.worker.ref();
      lane.pending.set(id, { resolve, reject });
      lane.worker.postMessage({ id, ...request });
    });
  }

  async close(): Promise<void> {
    const lanes = this.lanes.splice(0);
    await Promise.all(lanes.map((lane) => lane.worker.terminate()));
  }

  private lane(): Lane {
    if (this.lanes.length < this.threads) {
      const lane: Lane = { worker: new Worker(threadScript), pending: new Map() };
      lane.worker.unref();
      lane.worker.on('message', (reply: Reply) => this.settle(lane, reply));
      // A thread that dies fails its pending writes; the next write starts a fresh thread.
      const fail = (error: Error) => this.retire(lane, error);
      lane.worker.on('error', fail);
      lane.worker.on('exit', (code) => fail(new Error(`the file-write thread exited (code ${code})`)));
      this.lanes.push(lane);
      return lane;
    }
    return this.lanes[this.nextLane++ % this.lanes.length] as Lane;
  }

  private settle(lane: Lane, reply: Reply): void {
    const pending = lane.pending.get(reply.id);
    lane.pending.delete(reply.id);
    if (lane.pending.size === 0) lane.worker.unref();
    if (!pending) return;
    if (reply.error) pending.reject(new FileWriteError(reply.error.stage, reply.error.code, reply.error.message));
    else pending.resolve();
  }

  private retire(lane: Lane, error: Error): void {
    const at = this.lanes.indexOf(lane);
    if (at >= 0) this.lanes.splice(at, 1);
    for (const pending of lane.pending.values()) pending.reject(error);
    lane.pending.clear();
  }
}
