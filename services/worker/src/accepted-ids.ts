import { type ExplainJob, captureDecisionField, indexEntryOfJob, indexEntryTtlSeconds, redisKeys } from '@gradcam/contracts';
import type { Redis } from 'ioredis';

// KEYS: the inference key, the capture-decisions hash. ARGV: entry, TTL (s), decision field.
// Never over anything: an entry (ingest's, or an earlier run's) or a claim (an attempt in flight,
// which records the id itself once it has queued the job).
const recordScript = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
redis.call('HINCRBY', KEYS[2], ARGV[3], 1)
return 1`;

export interface AcceptedIds {
  /**
   * After a job's explanation is stored: records its inference id in ingest's index
   * (`redisKeys.inference`) if nothing is there. An attempt answered 503 ACCEPT_INCOMPLETE queued
   * the job but recorded nothing; its client may never retry, or retry only once the completed job
   * was removed (BullMQ keeps 50,000 or 3 days of them), when ingest, finding neither entry nor
   * job, would queue the record a second time. The capture decision is counted with it, as
   * ingest counts it: once per id. Resolves whether this call recorded it.
   */
  recordExplained(job: ExplainJob): Promise<boolean>;
}

export function acceptedIds(redis: Redis, prefix: string, ttlSeconds = indexEntryTtlSeconds): AcceptedIds {
  const keys = redisKeys(prefix);
  return {
    async recordExplained(job) {
      const entry = indexEntryOfJob(job);
      const recorded = await redis.eval(
        recordScript,
        2,
        keys.inference(job.inferenceId),
        keys.captureDecisions,
        JSON.stringify(entry),
        ttlSeconds,
        captureDecisionField(entry.model, entry.explain, entry.reason),
      );
      return recorded === 1;
    },
  };
}
