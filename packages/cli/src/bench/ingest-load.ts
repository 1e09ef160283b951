import type { FixtureImages } from './pipeline-fixtures.ts';
import { benchRecord } from './pipeline-fixtures.ts';

export interface LoadPlan {
  readonly url: string;
  readonly token: string;
  readonly model: string;
  readonly images: FixtureImages;
  /** Records per request, all by reference. */
  readonly batch: number;
  readonly clients: number;
  readonly seconds: number;
  /** Makes ids unique across windows (warm-up, timed) and batch sizes. */
  readonly idPrefix: string;
}

export interface LoadResult {
  /** From the first request to the last answer (requests started in the window all finish). */
  readonly seconds: number;
  readonly requestMs: readonly number[];
  readonly accepted: number;
  readonly rejected: number;
  /** Requests answered with a status other than 200 (their records count as not accepted). */
  readonly failedRequests: number;
  readonly firstErrors: readonly string[];
}

interface BatchAnswer {
  readonly accepted?: number;
  readonly rejected?: number;
  readonly results?: readonly { readonly error?: { readonly code: string; readonly message: string } }[];
  readonly error?: { readonly code: string; readonly message: string };
}

/**
 * Closed loop: `clients` concurrent clients, each POSTing its next batch as soon as the last is
 * answered, until `seconds` have passed. Each request is built when sent (ids must be unique),
 * which costs the benchmark process well under a millisecond per 100 records.
 */
export async function runIngestLoad(plan: LoadPlan): Promise<LoadResult> {
  const requestMs: number[] = [];
  const firstErrors: string[] = [];
  let accepted = 0;
  let rejected = 0;
  let failedRequests = 0;
  const note = (error: string) => void (firstErrors.length < 3 && firstErrors.push(error));
  const started = performance.now();
  const deadline = started + plan.seconds * 1000;

  const client = async (clientIndex: number): Promise<void> => {
    for (let seq = 0; performance.now() < deadline; seq++) {
      const records = Array.from({ length: plan.batch }, (_, i) =>
        benchRecord(plan.images, plan.model, `${plan.idPrefix}-${clientIndex}-${seq}-${i}`, seq * plan.batch + i, false),
      );
      const t = performance.now();
      const response = await fetch(`${plan.url}/v1/inferences:batch`, {
        method: 'POST',
        headers: { authorization: `Bearer ${plan.token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ records }),
      });
      const text = await response.text();
      requestMs.push(performance.now() - t);
      const body = JSON.parse(text) as BatchAnswer;
      if (response.status !== 200) {
        failedRequests++;
        rejected += plan.batch;
        note(`HTTP ${response.status}: ${body.error?.code ?? ''} ${body.error?.message ?? text.slice(0, 200)}`);
        continue;
      }
      accepted += body.accepted ?? 0;
      rejected += body.rejected ?? 0;
      const error = body.results?.find((r) => r.error)?.error;
      if (error) note(`${error.code} ${error.message}`);
    }
  };
  await Promise.all(Array.from({ length: plan.clients }, (_, i) => client(i)));
  return { seconds: (performance.now() - started) / 1000, requestMs, accepted, rejected, failedRequests, firstErrors };
}
