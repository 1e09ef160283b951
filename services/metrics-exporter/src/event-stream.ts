import { batchFiguresEvent, explainQueueName, redisKeys } from '@gradcam/contracts';
import { type ExplainQueue, explainJob } from '@gradcam/queue';
import type { Logger } from '@gradcam/telemetry';
import { QueueEvents, type QueueEventsListener } from 'bullmq';
import type { Redis } from 'ioredis';
import { EventsCursor } from './events-cursor.ts';
import type { PipelineRecorder } from './pipeline-recorder.ts';
import { resumePoint } from './resume-point.ts';
import { createReadPositionCheck, positionCheckMs } from './read-position-check.ts';
import { entryAfter, newestEntryId, unparsableByQueueEvents } from './stream-entry.ts';
import { createUnreadableEventLog } from './unreadable-event-log.ts';

export interface EventStreamDeps {
  /** A worker connection of its own: the resume point is read on it, then QueueEvents blocks on it (XREAD). */
  readonly connection: Redis;
  /** The producer connection: the cursor is saved on it, failing at once while Redis is down. */
  readonly redis: Redis;
  /** Reads a failed job's data; its events stream is the one read. */
  readonly queue: ExplainQueue;
  readonly prefix: string;
  readonly recorder: PipelineRecorder;
  readonly log: Logger;
  /** Errors that may repeat for as long as their cause lasts: main.ts's throttled error log. */
  readonly onError: (error: Error) => void;
  /** How often the read position is checked against the stream's numbering (`positionCheckMs`). */
  readonly positionCheckMs?: number;
  /** How long the events read past of one kind are counted before being told in one line (`unreadableLogEveryMs`). */
  readonly unreadableLogEveryMs?: number;
}

export interface EventStream {
  /**
   * A scrape is about to render: returns what to call once Prometheus has the answer, after which
   * what was counted at the render need not be counted again after a restart (EventsCursor.scraping).
   */
  scraping(): () => void;
  /** A scrape rendered now and delivered: `scraping()` with its answer taken at once. */
  scraped(): void;
  /**
   * The id of the last stream entry read, whatever its event (`added`, `active`… are read and
   * ignored): the resume point until the first is read; undefined until reading begins.
   */
  readThrough(): string | undefined;
  /** When reading began (epoch ms, this host's clock); undefined until it does. */
  readingSince(): number | undefined;
  /** Stops reading and saves the cursor; safe to call twice, also before reading began. */
  close(): Promise<void>;
}

const streamId = /^(\d+)-\d+$/;

const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

/** The pause before reading again when QueueEvents' loop ended, not on an entry it cannot parse. */
const rereadDelayMs = 5_000;

type Emit = (event: string, ...args: unknown[]) => boolean;

/**
 * Follows the id of the last entry `reader` read, of any event: QueueEvents emits each with its
 * stream id last. Its emit is wrapped because it has no listener for every event, and the events
 * nothing counts (added, waiting, active…) are read too.
 */
function followReadPosition(reader: QueueEvents, start: string): () => string {
  let readThrough = start;
  const emit = (reader.emit as Emit).bind(reader);
  (reader as unknown as { emit: Emit }).emit = (event, ...args) => {
    const id = args.at(-1);
    if (typeof id === 'string' && streamId.test(id)) readThrough = id;
    return emit(event, ...args);
  };
  return () => readThrough;
}

/**
 * The queue's event stream turned into pipeline metrics (PipelineRecorder), read from where the
 * previous exporter left off (EventsCursor): reading starts once the resume point is read, which
 * waits for Redis, so the metrics route answers meanwhile.
 */
export function startEventStream(deps: EventStreamDeps): EventStream {
  const { log, recorder } = deps;
  let events: QueueEvents | undefined;
  let readThrough: (() => string) | undefined;
  let readingSince: number | undefined;
  let cursor: EventsCursor | undefined;
  let closing: Promise<void> | undefined;
  let positionCheck: NodeJS.Timeout | undefined;
  /** A check of the read position is running: they run one at a time. */
  let checking = false;
  const cursorKey = redisKeys(deps.prefix).exporterEventsCursor;
  const eventsKey = deps.queue.toKey('events');
  const unreadableLog = createUnreadableEventLog(log, deps.unreadableLogEveryMs);

  /**
   * An event read past without being counted: counted as such, and told (the first of its kind
   * with where to find it, the rest as a count: workers of another version may write one per job).
   */
  const readPast = (opened: EventsCursor, id: string, event: unknown, fields: unknown, why: string) => {
    recorder.unreadable();
    unreadableLog.tell(id, event, fields, why);
    opened.counted(id);
  };

  const open = (after: string) => {
    const opened = new EventsCursor({
      redis: deps.redis,
      key: cursorKey,
      start: after,
      onSaveError: (error) => log.warn({ err: error }, 'could not save the event-stream cursor; a restart now would count some events twice'),
    });
    cursor = opened;
    readingSince = Date.now();
    read(opened, after);
    const positionChecker = createReadPositionCheck({
      redis: deps.redis,
      eventsKey,
      log,
      position: () => readThrough?.(),
      closing: () => closing !== undefined,
      onRewritten: () => {
        if (events !== undefined) retire(events);
        read(opened, '0-0');
      },
    });
    positionCheck = setInterval(() => {
      if (checking) return;
      checking = true;
      void positionChecker
        .check()
        .catch((error: unknown) => deps.onError(new Error(`could not check the queue event stream's numbering against the read position: ${messageOf(error)}`)))
        .finally(() => {
          checking = false;
        });
    }, deps.positionCheckMs ?? positionCheckMs);
    positionCheck.unref();
  };

  /**
   * A reader replaced by another: it counts nothing more (a closed QueueEvents still emits the
   * batch its last XREAD returned), and its end is no reason to read on.
   */
  const retire = (reader: QueueEvents) => {
    reader.removeAllListeners();
    reader.on('error', () => {});
    // Its connection is a duplicate of its own; not waited for, as closing it may wait for Redis.
    void reader.close().catch(() => {});
  };

  /** A QueueEvents reading after `after`; where its loop ends before closing, `readOn` takes over. */
  const read = (opened: EventsCursor, after: string) => {
    const reader = new QueueEvents(explainQueueName, { connection: deps.connection, prefix: deps.prefix, lastEventId: after, autorun: false });
    readThrough = followReadPosition(reader, after);
    reader.on('error', deps.onError);
    // Each listener's second argument is the event's stream id: the cursor moves only past events
    // whose counting is done.
    reader.on('completed', ({ returnvalue }, id) => {
      if (recorder.completed(returnvalue)) opened.counted(id);
      else readPast(opened, id, 'completed', returnvalue, 'a job result the exporter does not understand');
    });
    // A custom event (published by workers after each micro-batch): QueueEvents emits it by name.
    reader.on<QueueEventsListener & Record<typeof batchFiguresEvent, (event: unknown, id: string) => void>>(batchFiguresEvent, (event: unknown, id: string) => {
      if (recorder.batch(event)) opened.counted(id);
      else readPast(opened, id, batchFiguresEvent, event, 'batch figures the exporter does not understand');
    });
    reader.on('failed', ({ jobId, failedReason }, id) => {
      // The job's data is read first: a scrape meanwhile does not cover this failure, so the cursor
      // waits for it (getJob fails within the producer's command timeout if Redis is gone).
      const done = opened.begin(id);
      // The job's data is whatever was enqueued (recorder.failed parses it); and nothing here may
      // reject unhandled, which would end the exporter and blind every pipeline alert.
      void deps.queue
        .getJob(jobId)
        .then(
          (job): unknown => job?.data,
          (error: unknown) => void log.warn({ err: error, jobId }, 'could not read a failed job; counted without its explanations'),
        )
        .then((data) => recorder.failed(failedReason, data))
        .catch((error: unknown) => log.error({ err: error, jobId }, 'could not count a failed job'))
        .finally(done);
    });
    events = reader;
    // A listener that throws does not end the loop (BullMQ reports it as an 'error'); an entry
    // whose JSON it cannot parse does, for good. run() resolves once closed.
    reader.run().catch((error: unknown) => void readOn(opened, reader, error));
  };

  /**
   * QueueEvents' loop ended before closing. It ends on the first entry past the last one it
   * emitted when it cannot parse it (not JSON where BullMQ writes JSON): that entry is read past,
   * and a new reader goes on after it, so a restart from the cursor does not end on it again.
   * Anything else is read again from the last event emitted, after a pause: nothing is skipped.
   */
  const readOn = async (opened: EventsCursor, ended: QueueEvents, error: unknown) => {
    // A reader replaced (the read position check) is closed by whoever replaced it.
    if (closing !== undefined || ended !== events) return;
    // Set by read(), which made the reader that ended: a stream id, never '$'.
    const position = readThrough?.() ?? '0-0';
    // Its connection is a duplicate of its own; not waited for, as closing it may wait for Redis.
    void ended.close().catch(() => {});
    const next = await entryAfter(deps.connection, eventsKey, position).catch(() => undefined);
    if (closing !== undefined || ended !== events) return;
    const why = next === undefined ? undefined : unparsableByQueueEvents(next.fields);
    if (next !== undefined && why !== undefined) {
      readPast(opened, next.id, next.fields.event, next.fields, why);
      read(opened, next.id);
      return;
    }
    // Through the throttled error log (onError), as Redis outages are: a cause that lasts (a Redis
    // user without client|setname, which BullMQ's reader runs before it reads) ends every reader
    // at once, and would otherwise be a line every 5 s for ever. Its lag metric still grows.
    deps.onError(new Error(`the queue event stream's reading stopped; reading again from after ${position} in ${rereadDelayMs / 1000} s: ${messageOf(error)}`));
    setTimeout(() => {
      if (closing === undefined && ended === events) read(opened, position);
    }, rereadDelayMs).unref();
  };

  void resumePoint(deps.connection, { cursor: cursorKey, events: eventsKey }).then(
    (point) => {
      if (closing !== undefined) return;
      if (point.from === 'bad-cursor') log.warn({ key: cursorKey }, 'the saved event-stream cursor was not a stream id; reading from the newest event, as at a first start');
      if (point.from === 'cursor-ahead') log.warn({ key: cursorKey }, "the saved event-stream cursor is past the stream's newest event (the stream was deleted and written again?); reading the stream from its beginning");
      if (point.trimmed) {
        log.warn(
          { cursor: point.after },
          `the queue's event stream was trimmed past the exporter's cursor (it keeps about ${explainJob.eventStreamLength} events): any completions, failures or batch figures among the events trimmed unread were not counted`,
        );
      }
      log.info({ after: point.after, from: point.from }, 'reading the queue event stream');
      open(point.after);
    },
    (error: unknown) => {
      // Closing the connection while Redis is away ends the wait; anything else (a key of the wrong
      // type, an ACL) must not leave the exporter counting nothing: it reads as it did without a cursor.
      if (closing !== undefined) return;
      log.error({ err: error, key: cursorKey }, 'could not read the event-stream cursor; reading from the newest event, and events while no exporter ran are not counted');
      openAtNewest();
    },
  );

  /**
   * Reading from after the stream's newest entry, once its id can be read. Never from QueueEvents'
   * '$': that is resolved by its first XREAD, so what came meanwhile would be skipped, an entry it
   * cannot parse as the first one read would have no known place to read past, and while no event
   * was read the read position would be unknown, so the lag could only claim 0 (an ACL without the
   * stream commands read as caught up). Until the id is read the exporter is not reading:
   * event_stream fails at each scrape and the lag has no sample.
   */
  const openAtNewest = () => {
    void newestEntryId(deps.connection, eventsKey).then(
      (newest) => {
        if (closing === undefined) open(newest);
      },
      (error: unknown) => {
        if (closing !== undefined) return;
        deps.onError(new Error(`could not read the queue event stream's newest entry, after which reading starts; trying again in ${rereadDelayMs / 1000} s: ${messageOf(error)}`));
        setTimeout(() => {
          if (closing === undefined) openAtNewest();
        }, rereadDelayMs).unref();
      },
    );
  };

  return {
    scraping: () => cursor?.scraping() ?? (() => {}),
    scraped: () => cursor?.scraped(),
    readThrough: () => readThrough?.(),
    readingSince: () => readingSince,
    close: () =>
      (closing ??= (async () => {
        // Before the resume point is known there is nothing to close, and waiting for it could
        // wait for a Redis that is gone: the caller's closing of the connection ends that wait.
        clearInterval(positionCheck);
        unreadableLog.close();
        await events?.close();
        await cursor?.close();
      })()),
  };
}
