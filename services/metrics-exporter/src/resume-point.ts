import type { Redis } from 'ioredis';
import { compareStreamIds, streamInfo } from './stream-entry.ts';

export interface ResumePoint {
  /** The stream entry id to read after (QueueEvents' `lastEventId`); already saved as the cursor. */
  readonly after: string;
  /**
   * `cursor`: a previous exporter's saved cursor. `first-start`: none was saved, so reading starts
   * after the stream's newest entry (as QueueEvents' '$' would), and history is not counted.
   * `bad-cursor`: the saved value was not a stream id, and was replaced as at a first start.
   * `cursor-ahead`: the saved id is past the stream's newest entry (the stream was deleted and
   * written again, or a restore came from another clock): XREAD after it would skip every new
   * event until the clock caught up, so reading starts at the stream's beginning instead.
   */
  readonly from: 'cursor' | 'first-start' | 'bad-cursor' | 'cursor-ahead';
  /**
   * The stream no longer holds the cursor's entry (for a cursor of '0-0', the stream's first
   * one): BullMQ caps the stream (`explainJob.eventStreamLength`), and entries after the cursor
   * may have been trimmed before anyone read them.
   */
  readonly trimmed: boolean;
}

export interface ResumePointKeys {
  /** `redisKeys(prefix).exporterEventsCursor`. */
  readonly cursor: string;
  /** The queue's event stream (`queue.toKey('events')`). */
  readonly events: string;
}

const streamId = /^\d+-\d+$/;

/**
 * Where this exporter starts reading the event stream. Run on the events connection before
 * QueueEvents takes it: that connection waits out Redis being down, as the XREAD would, where a
 * producer connection would fail at once at boot. On a first start the resume point is saved at
 * once, so an exporter stopped before its first scrape still hands the next one its start.
 */
export async function resumePoint(connection: Redis, keys: ResumePointKeys): Promise<ResumePoint> {
  const saved = await connection.get(keys.cursor);
  if (saved !== null && streamId.test(saved)) {
    const [oldest] = await connection.xrange(keys.events, '-', '+', 'COUNT', 1);
    // Against the id the stream numbers after, not its newest entry: an erasure deletes its job's
    // entries (XDEL), the last one the exporter read included (the job's 'removed', the newest on a
    // quiet queue), and a cursor past the newest entry left is not one past the stream. A missing
    // stream is ahead of any cursor but '0-0' too: it was deleted, and its next entries may be
    // numbered below the cursor.
    const info = await streamInfo(connection, keys.events);
    if (saved !== '0-0' && (info === undefined || compareStreamIds(saved, info.lastGeneratedId) > 0)) {
      await connection.set(keys.cursor, '0-0');
      return { after: '0-0', from: 'cursor-ahead', trimmed: false };
    }
    // '0-0' is a first start on an empty stream (or a stream read from its beginning): every entry
    // there is newer, and none was skipped unless the stream dropped some since it was made.
    const trimmed = oldest !== undefined && (saved === '0-0' ? await droppedEntries(connection, keys.events) : compareStreamIds(oldest[0], saved) > 0);
    return { after: saved, from: 'cursor', trimmed };
  }
  const [newest] = await connection.xrevrange(keys.events, '+', '-', 'COUNT', 1);
  const after = newest?.[0] ?? '0-0';
  await connection.set(keys.cursor, after);
  return { after, from: saved === null ? 'first-start' : 'bad-cursor', trimmed: false };
}

/**
 * Whether the stream ever lost an entry (trimmed, or deleted): it was added more entries than it
 * holds (XINFO STREAM's entries-added, Redis 7; false on an older Redis, which does not say).
 */
export async function droppedEntries(connection: Redis, key: string): Promise<boolean> {
  const info = (await connection.xinfo('STREAM', key)) as unknown[];
  const field = (name: string) => {
    const at = info.indexOf(name);
    return at === -1 ? undefined : Number(info[at + 1]);
  };
  const added = field('entries-added');
  const length = field('length');
  return added !== undefined && length !== undefined && added > length;
}
