import type { IngestClient, InferenceStatusBody } from '../local-stack/ingest-client.ts';
import { mapConcurrent } from './pipeline-concurrency.ts';

export interface Verification {
  readonly checked: number;
  /** Status → count, as GET /v1/inferences/{id} answered (done, failed, queued, …). */
  readonly byStatus: Readonly<Record<string, number>>;
  /** The backend the workers' manifests name (engine.backend), if any manifest was read. */
  readonly backend: string | undefined;
}

/** The manifest holds more than the client's type spells out; the engine block is all we need here. */
type WithEngine = InferenceStatusBody & { readonly manifest?: { readonly engine?: { readonly backend?: string } } };

/**
 * Asks the public API about every id after the run, as a client would: the queue's counts say the
 * jobs finished, this says the API agrees and the manifests are readable. Not timed.
 */
export async function verifyThroughApi(client: IngestClient, ids: readonly string[], concurrency = 8): Promise<Verification> {
  const byStatus: Record<string, number> = {};
  let backend: string | undefined;
  await mapConcurrent(ids, concurrency, async (id) => {
    let status: string;
    try {
      const body = (await client.status(id)) as WithEngine;
      status = body.status;
      backend ??= body.manifest?.engine?.backend;
    } catch {
      status = 'error';
    }
    byStatus[status] = (byStatus[status] ?? 0) + 1;
  });
  return { checked: ids.length, byStatus, backend };
}
