import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';

/** How often each exporter says it is there. */
export const presenceBeatMs = 10_000;
/** An exporter not heard of for this long is gone (a crash leaves its member behind). */
export const presenceExpiryMs = 3 * presenceBeatMs;

export interface ExporterPresenceOptions {
  /** A producer connection: while Redis is down a beat fails at once and is tried again at the next. */
  readonly redis: Redis;
  /** `redisKeys(prefix).exporterInstances`. */
  readonly key: string;
  readonly beatMs?: number;
  /** The exporters seen reading this queue's events, when that changes (this one included). */
  readonly onChange: (others: readonly string[], all: number) => void;
  /** A beat failed (Redis down): reported through the exporter's throttled error log. */
  readonly onError: (error: Error) => void;
}

/**
 * Tells the exporters of one queue of each other. The pipeline counters come from the queue's
 * event stream, which every exporter reads whole: two exporters each count every event (a sum()
 * over them doubles the counters) and move one shared resume cursor, so a restarted one resumes
 * from where the other left off and loses its own restart gap. One exporter per queue is how it
 * is run; this makes a second one visible (gradcam_exporter_instances, and an error in the log)
 * instead of silently wrong.
 *
 * Each exporter keeps a member `host pid start-id` in a sorted set scored by the time it last
 * beat; members older than `presenceExpiryMs` are dropped at each beat, and its own on close.
 * A member last heard from before this exporter started is not taken for another exporter: it is
 * most often the one this replaces, killed or crashed without removing its member (in a container
 * its host and pid are this one's too), and one still running beats again within `beatMs`.
 */
export class ExporterPresence {
  readonly id = `${hostname()} pid ${process.pid} ${randomUUID().slice(0, 8)}`;
  private readonly startedAt = Date.now();
  private timer: NodeJS.Timeout | undefined;
  private lastOthers = '';
  private closed = false;

  private readonly options: ExporterPresenceOptions;

  constructor(options: ExporterPresenceOptions) {
    this.options = options;
  }

  /** Beats now (or once the connection is up: a producer connection fails at once before) and every `beatMs` until closed. */
  start(): void {
    if (this.closed || this.timer !== undefined) return;
    const { redis } = this.options;
    if (redis.status === 'ready') void this.beat();
    else redis.once('ready', () => void this.beat());
    this.timer = setInterval(() => void this.beat(), this.options.beatMs ?? presenceBeatMs);
    this.timer.unref();
  }

  /**
   * How many exporters run on the queue: this one, and the others heard of within
   * `presenceExpiryMs` and since it started. This one counts before its first beat, and after a
   * flushed Redis lost its member: a running exporter never reads 0.
   */
  async count(now = Date.now()): Promise<number> {
    const others = await this.othersHeardSince(Math.max(now - presenceExpiryMs, this.startedAt));
    return others.length + 1;
  }

  /** Stops beating and removes this exporter's member. Never rejects; safe twice. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    await this.options.redis.zrem(this.options.key, this.id).catch(() => undefined);
  }

  private async othersHeardSince(since: number): Promise<string[]> {
    const members = await this.options.redis.zrangebyscore(this.options.key, since, '+inf');
    return members.filter((member) => member !== this.id);
  }

  private async beat(): Promise<void> {
    const now = Date.now();
    const { redis, key } = this.options;
    try {
      const replies = await redis
        .multi()
        .zadd(key, now, this.id)
        .zremrangebyscore(key, '-inf', now - presenceExpiryMs)
        .pexpire(key, presenceExpiryMs * 2)
        .zrangebyscore(key, this.startedAt, '+inf')
        .exec();
      const failed = replies?.find(([error]) => error !== null)?.[0];
      if (failed) throw failed;
      if (this.closed) return;
      const members = (replies?.[3]?.[1] as string[] | undefined) ?? [];
      const others = members.filter((member) => member !== this.id);
      const told = others.join(', ');
      if (told === this.lastOthers) return;
      this.lastOthers = told;
      this.options.onChange(others, others.length + 1);
    } catch (error) {
      this.options.onError(error instanceof Error ? error : new Error(String(error)));
    }
  }
}
