import type { Logger } from '@gradcam/telemetry';
import type { Redis } from 'ioredis';
import { compareStreamIds, lostUntrimmed, streamInfo } from './stream-entry.ts';

/** How often the read position is checked against the stream's numbering (a stream written again below it). */
export const positionCheckMs = 10_000;

const streamId = /^(\d+)-\d+$/;

export interface ReadPositionCheckOptions {
  /** The producer connection (not the one blocked on XREAD). */
  readonly redis: Redis;
  /** The queue's event stream (`queue.toKey('events')`). */
  readonly eventsKey: string;
  readonly log: Logger;
  /** The id of the last entry read (`EventStream.readThrough`). */
  readonly position: () => string | undefined;
  /** The exporter is closing: nothing is told or read again. */
  readonly closing: () => boolean;
  /** The stream is numbered below the position, and Redis's clock too: read it again from its beginning. */
  readonly onRewritten: () => void;
}

/**
 * Checks the read position against the stream's numbering (call `check` one at a time, every
 * `positionCheckMs`).
 *
 * The stream numbered below the read position, and Redis's clock too: deleted and written again
 * (a FLUSHALL, a Redis restarted empty) when its old ids came from a clock ahead of the one
 * numbering it now. XREAD after the position would skip every new event until the clock caught
 * up, and the lag would read 0 (nothing after the position), as resumePoint's 'cursor-ahead' at a
 * start: every entry of the new stream is unread, so it is read from its beginning (`onRewritten`).
 * A stream only rolled back below the position (Redis restarted from an AOF that missed its last
 * second, a failover to a replica behind) numbers its next entries after it by the clock, and its
 * entries were read already: it is left alone.
 *
 * Each check also looks in the stream for the position the check before found there: a stream
 * that lost it neither by trimming nor by XDEL (lostUntrimmed) was deleted and written again, or
 * Redis lost data, and the events it held that the exporter had not read are lost to the
 * counters. That is told once, whatever the clock: with the right one the new entries are
 * numbered after the position and nothing else would say so.
 */
export function createReadPositionCheck(options: ReadPositionCheckOptions): { check(): Promise<void> } {
  const { redis, eventsKey, log } = options;
  /** The read position the last check found in the stream, which the next one looks for there. */
  let checkedThrough: string | undefined;
  /** The read position when a loss was told: nothing is looked for again until reading moves on. */
  let toldAt: string | undefined;

  const check = async () => {
    const position = options.position();
    const positionAt = position === undefined ? undefined : streamId.exec(position)?.[1];
    if (position === undefined || positionAt === undefined) return;
    const previous = checkedThrough;
    const lookFor = previous !== undefined && previous !== '0-0' ? previous : undefined;
    // Sent in this order on one connection: an entry trimmed or deleted before the XRANGE is one the XINFO counts so.
    const [held, info, [seconds = 0, micros = 0]] = await Promise.all([
      lookFor === undefined ? undefined : redis.xrange(eventsKey, lookFor, lookFor),
      streamInfo(redis, eventsKey),
      redis.time(),
    ]);
    // No stream (deleted, not written again yet): what it lost is told once it is back.
    if (options.closing() || info === undefined) return;
    if (lookFor !== undefined && held?.length === 0 && lostUntrimmed(info, lookFor) === true) {
      log.warn(
        { read: lookFor, last: info.lastGeneratedId },
        "the queue's event stream no longer holds an event the exporter read, though it was neither trimmed nor deleted from it: the stream was deleted and written again, or Redis lost data (restarted from an older or an empty dataset, a failover to a replica behind); the events it held that the exporter had not read yet are not counted",
      );
      checkedThrough = undefined;
      toldAt = position;
    } else if (position !== toldAt) {
      checkedThrough = position;
      toldAt = undefined;
    }
    const last = info.lastGeneratedId;
    // A position that moved meanwhile was read from this stream: it is not below it.
    if (compareStreamIds(last, position) >= 0 || options.position() !== position) return;
    // Redis's clock has passed the position: its next entries are numbered after it (a rollback).
    if (BigInt(positionAt) <= BigInt(seconds) * 1000n + BigInt(micros) / 1000n) return;
    log.warn({ position, last }, "the queue's event stream is numbered below the exporter's read position (deleted and written again, its old ids from a clock that was ahead?); reading it from its beginning");
    checkedThrough = undefined;
    options.onRewritten();
  };
  return { check };
}
