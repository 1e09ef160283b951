/**
 * Redis keys the pipeline keeps beside BullMQ's own, under the same prefix, defined once so
 * the ingest service, workers and the metrics exporter agree.
 */
export function redisKeys(prefix: string) {
  return {
    /** Per inference: where it is stored and whether it was sent to be explained (the idempotency record). */
    inference: (id: string) => `${prefix}:inference:${id}`,
    /** Hash `model|decision|reason` → count of capture-sampling decisions. */
    captureDecisions: `${prefix}:capture-decisions`,
    /** Hash model name → version, written by each worker for the models it has loaded. */
    servedModels: `${prefix}:served-models`,
  } as const;
}

export const captureDecisionField = (model: string, explain: boolean, reason: string) => `${model}|${explain ? 'explain' : 'skip'}|${reason}`;
