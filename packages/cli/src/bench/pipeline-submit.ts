import type { IngestClient } from '../local-stack/ingest-client.ts';
import { mapConcurrent } from './pipeline-concurrency.ts';
import type { BenchRecord } from './pipeline-fixtures.ts';

export interface SubmitResult {
  /** Epoch ms just before the first POST left: the start of the end-to-end window. */
  readonly startedAt: number;
  readonly seconds: number;
  readonly postMs: readonly number[];
  /** Ids ingest queued for explanation, in submission order. */
  readonly queued: readonly string[];
  readonly skipped: number;
  readonly rejected: number;
  /** The first few rejections, as `id: CODE message`. */
  readonly firstErrors: readonly string[];
}

/** POSTs `records` to /v1/inferences:batch in chunks of `perPost`, `concurrency` requests at a time. */
export async function submitRecords(client: IngestClient, records: readonly BenchRecord[], perPost: number, concurrency: number): Promise<SubmitResult> {
  const chunks: BenchRecord[][] = [];
  for (let at = 0; at < records.length; at += perPost) chunks.push(records.slice(at, at + perPost));
  const startedAt = Date.now();
  const started = performance.now();
  const answers = await mapConcurrent(chunks, concurrency, async (chunk) => {
    const t = performance.now();
    const body = await client.postBatch(chunk);
    return { ms: performance.now() - t, body };
  });
  const seconds = (performance.now() - started) / 1000;
  const queued: string[] = [];
  const firstErrors: string[] = [];
  let skipped = 0;
  let rejected = 0;
  for (const { body } of answers) {
    for (const result of body.results) {
      if (result.status === 'queued' && result.id !== undefined && !result.duplicate) queued.push(result.id);
      else if (result.status === 'skipped') skipped++;
      else if (result.error) {
        rejected++;
        if (firstErrors.length < 3) firstErrors.push(`${result.id ?? `#${result.index}`}: ${result.error.code} ${result.error.message}`);
      }
    }
  }
  return { startedAt, seconds, postMs: answers.map((a) => a.ms), queued, skipped, rejected, firstErrors };
}
