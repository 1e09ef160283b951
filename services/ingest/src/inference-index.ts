import { captureDecisionField, captureReasonSchema, redisKeys } from '@gradcam/contracts';
import type { Redis } from 'ioredis';
import { z } from 'zod';

/** What ingest remembers per accepted id: enough to answer a status query and refuse a replay. */
export const indexEntrySchema = z.object({
  folder: z.string(),
  model: z.string(),
  explain: z.boolean(),
  reason: captureReasonSchema,
  acceptedAt: z.number(),
});
export type IndexEntry = z.infer<typeof indexEntrySchema>;

/**
 * The idempotency record of each accepted inference, in Redis next to the queue. Written after
 * prediction.json and the job, so an entry always points at something that exists; entries expire
 * with the retention period.
 */
export class InferenceIndex {
  private readonly keys: ReturnType<typeof redisKeys>;

  constructor(
    private readonly redis: Redis,
    prefix: string,
    private readonly ttlSeconds: number,
  ) {
    this.keys = redisKeys(prefix);
  }

  async getMany(ids: readonly string[]): Promise<(IndexEntry | undefined)[]> {
    if (ids.length === 0) return [];
    const values = await this.redis.mget(ids.map((id) => this.keys.inference(id)));
    return values.map((value) => (value === null ? undefined : indexEntrySchema.parse(JSON.parse(value))));
  }

  async get(id: string): Promise<IndexEntry | undefined> {
    return (await this.getMany([id]))[0];
  }

  /** Records accepted entries and counts their capture decisions, in one round trip. */
  async record(entries: readonly { id: string; entry: IndexEntry }[]): Promise<void> {
    if (entries.length === 0) return;
    const pipeline = this.redis.multi();
    // One HINCRBY per distinct decision rather than per entry: a batch has a handful of them.
    const decisions = new Map<string, number>();
    for (const { id, entry } of entries) {
      pipeline.set(this.keys.inference(id), JSON.stringify(entry), 'EX', this.ttlSeconds, 'NX');
      const field = captureDecisionField(entry.model, entry.explain, entry.reason);
      decisions.set(field, (decisions.get(field) ?? 0) + 1);
    }
    for (const [field, count] of decisions) pipeline.hincrby(this.keys.captureDecisions, field, count);
    const results = await pipeline.exec();
    const failed = results?.find(([error]) => error !== null);
    if (failed) throw failed[0] as Error;
  }
}
