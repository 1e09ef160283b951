import type { FixtureImages } from './pipeline-fixtures.ts';
import { benchRecord } from './pipeline-fixtures.ts';

/**
 * How the load is offered. Closed: `clients` concurrent clients, each POSTing its next batch as
 * soon as the last is answered: the most the service accepts, with the latency of a saturated
 * service. Paced: batches sent on a fixed schedule at `recordsPerSecond`, whether or not earlier
 * ones were answered (open loop): the latency a service sees at that rate.
 */
export type LoadShape = { readonly kind: 'closed'; readonly clients: number } | { readonly kind: 'paced'; readonly recordsPerSecond: number };

export interface LoadPlan {
  readonly url: string;
  readonly token: string;
  readonly model: string;
  readonly images: FixtureImages;
  /** Records per request, all by reference. */
  readonly batch: number;
  readonly shape: LoadShape;
  readonly seconds: number;
  /** Makes ids unique across windows (warm-up, timed) and batch sizes. */
  readonly idPrefix: string;
}

export interface LoadResult {
  /**
   * From the first request (paced: when it was due) to the last answer; requests started in the
   * window all finish. Paced, accepted ÷ seconds is close to the rate offered while the service
   * keeps up (n requests over n − 1 intervals plus the last one's latency), and below it when the
   * service falls behind.
   */
  readonly seconds: number;
  /** Records sent. */
  readonly offered: number;
  /**
   * Per request answered 200. Paced requests count from when the schedule said to send them, so a
   * request held back by a late timer or a busy client still shows the wait (no coordinated
   * omission). Failed requests are left out: a fast 4xx/5xx would otherwise lower the p99.
   */
  readonly requestMs: readonly number[];
  readonly accepted: number;
  readonly rejected: number;
  /**
   * Requests answered with a status other than 200, or not answered at all (the connection
   * failed); their records count as rejected, their latencies are not in `requestMs`.
   */
  readonly failedRequests: number;
  readonly firstErrors: readonly string[];
}

interface BatchAnswer {
  readonly accepted?: number;
  readonly rejected?: number;
  readonly results?: readonly { readonly error?: { readonly code: string; readonly message: string } }[];
  readonly error?: { readonly code: string; readonly message: string };
}

/** The answer's JSON, or undefined when it is not JSON (a proxy's HTML error page, a cut-off body). */
function parseAnswer(text: string): BatchAnswer | undefined {
  try {
    const answer: unknown = JSON.parse(text);
    return typeof answer === 'object' && answer !== null ? (answer as BatchAnswer) : undefined;
  } catch {
    return undefined;
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, Math.max(0, ms)));

/**
 * Offers `plan.batch`-record requests to the batch endpoint for `plan.seconds`, shaped as
 * `plan.shape` says. Closed-loop clients build each body just before sending it (outside the
 * time measured), paced load builds them all first.
 */
export async function runIngestLoad(plan: LoadPlan): Promise<LoadResult> {
  const requestMs: number[] = [];
  const firstErrors: string[] = [];
  let accepted = 0;
  let rejected = 0;
  let failedRequests = 0;
  let offered = 0;
  let lastAnswerAt = 0;
  const note = (error: string) => void (firstErrors.length < 3 && firstErrors.push(error));
  const started = performance.now();
  const deadline = started + plan.seconds * 1000;

  /** A request body: ids must be unique, so each is built for its request. */
  const body = (name: string, seq: number): string =>
    JSON.stringify({ records: Array.from({ length: plan.batch }, (_, i) => benchRecord(plan.images, plan.model, `${plan.idPrefix}-${name}-${seq}-${i}`, seq * plan.batch + i, false)) });

  /** One request; its latency counts from `since` (now, unless the schedule wanted it earlier). */
  const post = async (json: string, since?: number): Promise<void> => {
    const t = since ?? performance.now();
    offered += plan.batch;
    const failed = (error: string) => {
      failedRequests++;
      rejected += plan.batch;
      note(error);
    };
    let status: number;
    let text: string;
    try {
      const response = await fetch(`${plan.url}/v1/inferences:batch`, {
        method: 'POST',
        headers: { authorization: `Bearer ${plan.token}`, 'content-type': 'application/json' },
        body: json,
      });
      status = response.status;
      text = await response.text();
    } catch (error) {
      lastAnswerAt = performance.now();
      failed(`no answer: ${error instanceof Error ? error.message : String(error)}`);
      return;
    }
    lastAnswerAt = performance.now();
    const answer = parseAnswer(text);
    if (status !== 200 || answer === undefined) {
      failed(`HTTP ${status}: ${answer?.error ? `${answer.error.code} ${answer.error.message}` : text.slice(0, 200)}`);
      return;
    }
    requestMs.push(lastAnswerAt - t);
    accepted += answer.accepted ?? 0;
    rejected += answer.rejected ?? 0;
    const error = answer.results?.find((r) => r.error)?.error;
    if (error) note(`${error.code} ${error.message}`);
  };

  const { shape } = plan;
  let firstSentAt = started;
  if (shape.kind === 'closed') {
    const client = async (index: number) => {
      for (let seq = 0; performance.now() < deadline; seq++) {
        const json = body(`c${index}`, seq);
        await post(json);
      }
    };
    await Promise.all(Array.from({ length: shape.clients }, (_, i) => client(i)));
  } else {
    const intervalMs = (plan.batch / shape.recordsPerSecond) * 1000;
    // Every body is built before the first is sent: building them on schedule would put the
    // benchmark's own CPU and garbage collection into the latencies it measures.
    const bodies = Array.from({ length: Math.ceil((plan.seconds * 1000) / intervalMs) }, (_, seq) => body('p', seq));
    const opened = performance.now();
    firstSentAt = opened;
    const inFlight: Promise<void>[] = [];
    for (const [seq, json] of bodies.entries()) {
      const due = opened + seq * intervalMs;
      await sleep(due - performance.now());
      inFlight.push(post(json, due));
    }
    await Promise.all(inFlight);
  }
  return { seconds: (lastAnswerAt - firstSentAt) / 1000, offered, requestMs, accepted, rejected, failedRequests, firstErrors };
}
