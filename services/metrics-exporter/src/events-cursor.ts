import type { Redis } from 'ioredis';

/** The most often the cursor is written; Prometheus scrapes every 15 s, so this only bounds extra scrapers. */
export const cursorSaveIntervalMs = 1_000;

export interface EventsCursorOptions {
  /** A producer connection (`enableOfflineQueue: false`): while Redis is down a save fails at once rather than queueing. */
  readonly redis: Redis;
  /** `redisKeys(prefix).exporterEventsCursor`. */
  readonly key: string;
  /** The entry reading resumed after (`resumePoint`), already saved. */
  readonly start: string;
  readonly saveIntervalMs?: number;
  /** A save failed: called once per run of failures; the next scrape (or close) tries again. */
  readonly onSaveError: (error: unknown) => void;
}

/**
 * How far the exporter's counts of the event stream have reached Prometheus, saved in Redis so
 * the next exporter resumes reading there: what completes or fails while none runs (a deploy, a
 * crash, a restart) is counted by the next one.
 *
 * The saved id is the last entry counted when a scrape rendered, not the last one counted: the
 * counters start at 0 in every process, so what this one counted after its last scrape never
 * reached Prometheus, and the next exporter counts it again. Prometheus takes the drop to 0 as a
 * counter reset and adds the new process's values whole.
 *
 * Saves are throttled (at most one per `saveIntervalMs`, one in flight) and one more is made on
 * close. After a crash the saved id can lag the last scrape by up to that interval, and the
 * events in between are counted twice; that small overcount is preferred to losing the whole
 * restart gap (the alternative, '$', drops every completion and failure while the exporter is
 * away, the failure bursts GradcamExplainFailureRatioHigh exists for included), and to a write
 * per event.
 */
export class EventsCursor {
  /** Events read whose counting has not finished, in stream order (a `failed` job is read from Redis first). */
  private readonly inFlight: { readonly id: string; done: boolean }[] = [];
  /** Every event up to this one is counted. */
  private countedThrough: string;
  /** Every event up to this one was counted when a scrape rendered. */
  private scrapedThrough: string;
  /** Scrapes begun (`scraping`), and the latest of them whose answer Prometheus took. */
  private scrapes = 0;
  private scrapedScrape = 0;
  private savedThrough: string;
  private saving: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private lastSaveAt = 0;
  private failing = false;
  private closed = false;

  private readonly options: EventsCursorOptions;

  constructor(options: EventsCursorOptions) {
    this.options = options;
    this.countedThrough = this.scrapedThrough = this.savedThrough = options.start;
  }

  /** An event counted at once (or ignored: either way, done with). */
  counted(id: string): void {
    this.begin(id)();
  }

  /**
   * An event whose counting finishes later; call the returned function once it has (or gave up).
   * Until then neither it nor any later event is taken as counted, so a scrape that renders
   * before a failure is counted does not let the cursor pass it.
   */
  begin(id: string): () => void {
    const entry = { id, done: false };
    this.inFlight.push(entry);
    return () => {
      entry.done = true;
      for (let head = this.inFlight[0]; head?.done === true; head = this.inFlight[0]) {
        this.inFlight.shift();
        this.countedThrough = head.id;
      }
    };
  }

  /**
   * A scrape is about to render the registry: returns what to call once Prometheus has its answer
   * (written whole, within its timeout), which takes what was counted at the render as scraped.
   * An answer Prometheus gave up on is never stored: had it moved the cursor, a restart before the
   * next stored scrape would resume after events that never reached Prometheus, and lose them.
   */
  scraping(): () => void {
    const through = this.countedThrough;
    const scrape = ++this.scrapes;
    return () => {
      // Two scrapers' answers may land out of order: an older one never takes the cursor back. Not
      // by id: a stream written again is read again from 0-0, below the ids read before.
      if (scrape <= this.scrapedScrape) return;
      this.scrapedScrape = scrape;
      this.scrapedThrough = through;
      if (this.scrapedThrough !== this.savedThrough) this.schedule();
    };
  }

  /** A scrape rendered now and delivered: `scraping()` with its answer taken at once. */
  scraped(): void {
    this.scraping()();
  }

  /** Stops the timer and saves what the last scrape covered. Never rejects; safe to call twice. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.save();
  }

  private schedule(): void {
    if (this.closed || this.timer !== undefined) return;
    const intervalMs = this.options.saveIntervalMs ?? cursorSaveIntervalMs;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        void this.save();
      },
      Math.max(0, this.lastSaveAt + intervalMs - Date.now()),
    );
    this.timer.unref();
  }

  /** One write at a time, so an older id never lands after a newer one. */
  private async save(): Promise<void> {
    while (this.saving !== undefined) await this.saving;
    const id = this.scrapedThrough;
    if (id === this.savedThrough) return;
    this.lastSaveAt = Date.now();
    this.saving = this.options.redis.set(this.options.key, id).then(
      () => {
        this.savedThrough = id;
        this.failing = false;
      },
      (error: unknown) => {
        if (!this.failing) this.options.onSaveError(error);
        this.failing = true;
      },
    );
    try {
      await this.saving;
    } finally {
      this.saving = undefined;
    }
  }
}
