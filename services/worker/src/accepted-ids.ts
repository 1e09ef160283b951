import { type ExplainJob, captureDecisionField, indexEntryOfJob, indexEntryTtlSeconds, redisKeys } from '@gradcam/contracts';
import type { Redis } from 'ioredis';

// KEYS: the inference key, the capture-decisions hash. ARGV: entry, TTL (s), decision field.
// Never over an entry (JSON: ingest's, or an earlier run's). Over a claim, yes: the attempt in
// flight would record the id itself once it has queued the job, but it may fail (storage, Redis)
// and give its claim back, and then nobody records the id: once the completed job was removed, a
// resubmission made a second job. The attempt, finding this entry (the one it would write: the
// job's folder, acceptedAt and decision), answers the record accepted.
const recordScript = `
local value = redis.call('GET', KEYS[1])
if value and string.sub(value, 1, 1) == '{' then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
redis.call('HINCRBY', KEYS[2], ARGV[3], 1)
return 1`;

export interface AcceptedIds {
  /**
   * After a job's explanation is stored: records its inference id in ingest's index
   * (`redisKeys.inference`) unless an entry is there (over an attempt's claim too). An attempt answered 503 ACCEPT_INCOMPLETE queued
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
