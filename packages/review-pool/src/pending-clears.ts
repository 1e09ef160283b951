import type { Redis } from 'ioredis';

/** A marker clear waiting for the connection: `send` runs it, worth sending until `until` (epoch ms). */
export interface PendingClear {
  readonly send: () => Promise<unknown>;
  readonly until: number;
}

/**
 * How many clears wait at most (per pool). Each is a closure of a few hundred bytes; a begin fails
 * this way once per reviewer action during an outage, so this only bounds a pathological one.
 */
export const defaultMaxPendingClears = 1_000;

/**
 * Marker clears that could not be sent when their begin failed (Redis unreachable: a producer
 * connection has no offline queue, so a command issued while it reconnects rejects at once), sent
 * on the connection's next 'ready'. ioredis emits 'ready' on the tick after it has resent the
 * commands a dropped connection left unanswered (the begin itself among them), so the clear runs
 * after the begin it undoes, and before any command issued after the reconnect (the verdict sent
 * again). A clear that fails again waits for the next 'ready'. One past `until` is dropped (its
 * marker no longer blocks anything); past `limit`, the oldest is dropped (its marker then times
 * out, as before). Nothing here holds a timer or a promise anyone awaits: closing never waits on it.
 */
export class PendingClears {
  private readonly pending = new Map<string, PendingClear>();

  private listening = false;

  private closed = false;

  private readonly redis: Redis;
  private readonly limit: number;

  constructor(
    redis: Redis,
    limit = defaultMaxPendingClears,
  ) {
    this.redis = redis;
    this.limit = limit;
  }

  /** How many clears wait now (for the tests). */
  get size(): number {
    return this.pending.size;
  }

  /** Keeps `clear` (under `key`, a marker's token: one per marker) for the next 'ready'. */
  add(key: string, clear: PendingClear): void {
    if (this.closed) return;
    this.pending.delete(key);
    this.pending.set(key, clear);
    this.dropExpired(Date.now());
    for (const oldest of this.pending.keys()) {
      if (this.pending.size <= this.limit) break;
      this.pending.delete(oldest);
    }
    this.listen();
  }

  /** Forgets every waiting clear and stops listening; safe to call twice. */
  close(): void {
    this.closed = true;
    this.pending.clear();
    this.listen();
  }

  private readonly onReady = (): void => {
    const now = Date.now();
    const due = [...this.pending].filter(([, clear]) => clear.until > now);
    this.pending.clear();
    this.listen();
    // Each clear is issued here, synchronously, so that it is written before anything a caller
    // sends once it sees the connection ready.
    for (const [key, clear] of due) clear.send().catch(() => this.add(key, clear));
  };

  private dropExpired(now: number): void {
    for (const [key, clear] of this.pending) if (clear.until <= now) this.pending.delete(key);
  }

  /** Listens for 'ready' exactly while a clear waits (a pool per test, or per replica, leaves no listener behind). */
  private listen(): void {
    const wanted = !this.closed && this.pending.size > 0;
    if (wanted === this.listening) return;
    if (wanted) this.redis.on('ready', this.onReady);
    else this.redis.off('ready', this.onReady);
    this.listening = wanted;
  }
}
