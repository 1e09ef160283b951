import { buildImageArtifacts } from '@gradcam/artifacts';
import {
  type BackendDetails,
  type ExplainJob,
  type ExplainJobResult,
  type ExplanationManifest,
  type ReviewItem,
  type ReviewSampling,
  explanationManifestSchema,
  keyIn,
  manifestFileName,
  parseS3Uri,
} from '@gradcam/contracts';
import type { Explainer, ImageExplanation, TargetSpec } from '@gradcam/engine';
import { type DecodedImage, type ImageHeader, type RenderOverlay, decodeImage, decodedPixels, decodeSideFor, defaultImageLimits, readImageHeader, toModelInput } from '@gradcam/imaging';
import { DeferJobError } from '@gradcam/queue';
import type { BlobStore } from '@gradcam/storage';
import type { AcceptedIds } from './accepted-ids.ts';
import type { EngineCallDeadline } from './engine-call-deadline.ts';
import { assertImageUnchanged, changedOr, readUnchanged } from './image-unchanged.ts';
import { JobFailure, toJobFailure } from './job-failure.ts';
import type { ReviewSampler } from './review-sampler.ts';
import { threadCpuSeconds } from './thread-cpu.ts';

function reviewItem(job: ExplainJob, manifest: ExplanationManifest, sampling: ReviewSampling, now: number): ReviewItem {
  const { prediction } = manifest;
  return {
    inferenceId: job.inferenceId,
    model: job.model.name,
    modelVersion: job.model.version,
    folder: job.folder,
    predictedClass: prediction.classIndex,
    label: prediction.label,
    probability: prediction.probabilities[prediction.classIndex] ?? 0,
    sampling,
    sampledAt: now,
    status: 'pending',
  };
}

/** Inputs beyond this are refused before they are read into memory (as ingest does). */
const maxImageBytes = 32 * 1024 * 1024;

export interface LoadedModels {
  /** By model name; the worker serves the versions it loaded. */
  get(name: string): { explainer: Explainer; version: string } | undefined;
}

export interface BatchContext {
  readonly store: BlobStore;
  readonly models: LoadedModels;
  readonly backend: string;
  /** What the backend runs on (EngineSetup.backendDetails), recorded in each manifest. */
  readonly backendDetails?: BackendDetails;
  /**
   * Serialises engine calls: decoding and uploading of neighbouring batches overlap with the
   * engine, but two engine calls never run at once (they would only slow each other down).
   */
  readonly engineLock: <T>(work: () => Promise<T>) => Promise<T>;
  /**
   * Bounds each engine call once it holds the lock (createEngineCallDeadline): a call that hangs
   * ends the process instead of holding its jobs for ever. Tests that need no bound pass
   * `(call, work) => work()`.
   */
  readonly engineCallDeadline: EngineCallDeadline;
  /** Overlay rendering, on a thread pool when the worker has one (default: this thread). */
  readonly renderOverlay?: RenderOverlay;
  /** Longest side of an overlay; larger images are drawn scaled down (0: no limit). */
  readonly overlayMaxSide: number;
  /**
   * Decoded pixels held at once: a batch whose images add up to more is explained in rounds,
   * each under the budget (one image always fits), so large photos cannot exhaust memory.
   */
  readonly maxBatchPixels: number;
  /**
   * Whether another live worker serves a model version this one does not: its jobs are handed
   * on to it instead of failed. Without it, such jobs fail at once.
   */
  readonly servedElsewhere?: (model: string, version: string) => Promise<boolean>;
  /** Reviewer sampling: decided before the manifest is written (it records the decision). */
  readonly review?: ReviewSampler;
  /** Ingest's index of accepted ids, for a job whose ingest could not record its id. */
  readonly acceptedIds?: AcceptedIds;
  readonly now?: () => number;
}

export type JobOutcome = ExplainJobResult | JobFailure | DeferJobError;

/** How long a job handed on to another worker waits before any worker may take it again. */
export const handOnDelayMs = 2_000;

export interface BatchReport {
  readonly outcomes: JobOutcome[];
  readonly stageSeconds: ExplainJobResult['stageSeconds'];
  /**
   * Images per engine call, in call order: one entry per (round, model, methods) group that
   * reached the engine, failed calls included; empty when no image did (every job failed first).
   */
  readonly engineCalls: readonly number[];
  readonly explained: number;
}

interface Decoded {
  readonly at: number;
  readonly job: ExplainJob;
  readonly bytes: Buffer;
  readonly image: DecodedImage;
  readonly input: Float32Array;
}

function targetsOf(job: ExplainJob): TargetSpec {
  if (job.explain.classes) return { kind: 'classes', classes: job.explain.classes };
  if (job.explain.topK !== undefined) return { kind: 'topK', k: job.explain.topK };
  return { kind: 'predicted' };
}

type Method = NonNullable<ExplainJob['explain']['methods']>[number];
const methodsOf = (job: ExplainJob): Method[] => [...new Set(job.explain.methods ?? (['gradcam'] as const))];

/**
 * A group's engine call runs the methods in its first job's order, and the maps come method by
 * method in that order. Each job gets them in its own: its manifest lists them as the job asked
 * (the review page opens on the first), and the review decision, which reads the first method
 * that has both top classes' maps, does not depend on which jobs shared the batch.
 */
function inJobOrder(explanation: ImageExplanation, job: ExplainJob): ImageExplanation {
  const methods: readonly string[] = methodsOf(job);
  return { ...explanation, maps: [...explanation.maps].sort((a, b) => methods.indexOf(a.method) - methods.indexOf(b.method)) };
}

/**
 * One micro-batch, end to end: read every image and its header, then per round of at most
 * `maxBatchPixels` decoded pixels (the whole batch, unless its images are large): decode (in
 * parallel, on sharp's threads), ONE engine call per (model, methods) group, then overlays and
 * .npy maps uploaded next to the prediction with `explanation.json` last. Failures are per job;
 * keys are fixed by the job, so a retried or recovered job overwrites rather than duplicates.
 */
export async function explainBatch(context: BatchContext, jobs: readonly ExplainJob[], reruns: readonly boolean[] = []): Promise<BatchReport> {
  const outcomes: (JobOutcome | undefined)[] = new Array(jobs.length);
  const totals: StageTotals = { decode: 0, engine: 0, engineCpu: 0, render: 0, upload: 0, engineCalls: [] };
  const finished: Finished[] = [];
  const fetchStarted = performance.now();
  const fetched = await fetchImages(context, jobs, reruns, outcomes, finished);
  totals.decode += (performance.now() - fetchStarted) / 1000;
  const decodedSize = (f: Fetched) => decodedPixels(f.header, decodeSide(context, f.job));
  for (const round of pixelRounds(fetched, decodedSize, context.maxBatchPixels)) await explainRound(context, round, outcomes, totals, finished);

  const stageSeconds = { decode: totals.decode, engine: totals.engine, render: totals.render, upload: totals.upload };
  // The batch's figures go on every job's result: its stage times and CPU cover every engine call
  // of the micro-batch, so its size does too.
  const batchImages = totals.engineCalls.reduce((sum, images) => sum + images, 0);
  let leader = true;
  for (const f of finished) {
    outcomes[f.at] = {
      manifestKey: f.manifestKey,
      model: f.job.model.name,
      methods: methodsOf(f.job),
      explanations: f.explanations,
      acceptedAt: f.job.acceptedAt,
      storedAt: f.storedAt,
      batchSize: batchImages,
      batchLeader: leader,
      stageSeconds,
      ...(totals.engineCpu !== undefined && { engineCpuSeconds: totals.engineCpu }),
    };
    leader = false;
  }
  return { outcomes: outcomes as JobOutcome[], stageSeconds, engineCalls: totals.engineCalls, explained: finished.filter((f) => !f.resumed).length };
}

interface Fetched {
  readonly at: number;
  readonly job: ExplainJob;
  readonly bytes: Buffer;
  /** Read and checked once: its pixels budget the rounds, and decoding reuses it. */
  readonly header: ImageHeader;
}

interface StageTotals {
  decode: number;
  engine: number;
  /** Undefined once any engine call could not be measured (not Linux). */
  engineCpu: number | undefined;
  render: number;
  upload: number;
  engineCalls: number[];
}

interface Finished {
  readonly at: number;
  readonly job: ExplainJob;
  readonly manifestKey: string;
  readonly explanations: number;
  readonly storedAt: number;
  /** Stored by an earlier run of the job; this run only redid the bookkeeping after it. */
  readonly resumed?: true;
}

/**
 * Checks each job against the served models, reads its image and checks the image's header (bad
 * input fails here, before anything is decoded); failures are recorded per job.
 */
async function fetchImages(
  context: BatchContext,
  jobs: readonly ExplainJob[],
  reruns: readonly boolean[],
  outcomes: (JobOutcome | undefined)[],
  finished: Finished[],
): Promise<Fetched[]> {
  const fetched = await Promise.all(
    jobs.map(async (job, at): Promise<Fetched | undefined> => {
      try {
        if (reruns[at] === true) {
          const resumed = await resumeStored(context, job, at);
          if (resumed) {
            finished.push(resumed);
            return undefined;
          }
        }
        const model = context.models.get(job.model.name);
        if (!model || model.version !== job.model.version) throw await notServedHere(context, job, model?.version);
        const numClasses = model.explainer.model.runner.numClasses;
        const outOfRange = job.explain.classes?.find((c) => c >= numClasses);
        if (outOfRange !== undefined) {
          throw new JobFailure('CLASS_OUT_OF_RANGE', `class ${outOfRange} is out of range: ${job.model.name} has classes 0…${numClasses - 1}`, true);
        }
        const key = 'key' in job.image ? job.image.key : parseS3Uri(job.image.uri).key;
        const bytes = await context.store.get(key, { maxBytes: maxImageBytes, ...readUnchanged(job) }).catch((error: unknown) => {
          throw toJobFailure(changedOr(error), `reading ${key}`, { reading: 'input' });
        });
        assertImageUnchanged(job, bytes);
        const header = await readImageHeader(bytes);
        return { at, job, bytes, header };
      } catch (error) {
        outcomes[at] = error instanceof DeferJobError ? error : toJobFailure(error, 'decoding the image');
        return undefined;
      }
    }),
  );
  return fetched.filter((f): f is Fetched => f !== undefined);
}

/**
 * What follows a stored manifest: the review pool entry of an explanation sampled for review, and
 * the inference id in ingest's index when ingest could not record it.
 */
async function afterManifest(context: BatchContext, job: ExplainJob, manifest: ExplanationManifest): Promise<void> {
  await context.acceptedIds?.recordExplained(job);
  if (manifest.review) await context.review?.recorded(manifest.review, reviewItem(job, manifest, manifest.review, context.now?.() ?? Date.now()));
}

/**
 * A rerun job (a retry, or taken over after its worker stalled) whose explanation an earlier run
 * already stored: the manifest is there, so only the steps after it are redone. A blip in those
 * neither computes the explanation again nor fails a job whose explanation is complete.
 */
async function resumeStored(context: BatchContext, job: ExplainJob, at: number): Promise<Finished | undefined> {
  const manifestKey = keyIn(job.folder, manifestFileName);
  let raw: Buffer;
  try {
    raw = await context.store.get(manifestKey);
  } catch (error) {
    // Nothing stored yet. On S3 credentials without s3:ListBucket, AWS answers 403, not 404, for a
    // key that is not there: failing on it failed every retried or taken-over job, attempt after
    // attempt (each a rerun), while the storage probe said storage answers. Explaining again is
    // safe (keys are fixed); a real refusal to read shows on the job's input, read next.
    const code = (error as { code?: unknown }).code;
    if (code === 'STORAGE_NOT_FOUND' || code === 'STORAGE_ACCESS_DENIED') return undefined;
    throw toJobFailure(error, `checking for an explanation stored by an earlier run (${manifestKey})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(raw.toString('utf8'));
  } catch {
    return undefined;
  }
  const parsed = explanationManifestSchema.safeParse(json);
  // Unreadable, or one this version cannot read (written by another): explained again, over it.
  if (!parsed.success || parsed.data.inferenceId !== job.inferenceId) return undefined;
  await afterManifest(context, job, parsed.data).catch((error: unknown) => {
    throw toJobFailure(error, 'storing the explanation');
  });
  const { explanations, createdAt } = parsed.data;
  return { at, job, manifestKey, explanations: explanations.length, storedAt: Date.parse(createdAt), resumed: true };
}

/**
 * A job for a model version this worker does not serve. While another live worker serves it (a
 * rolling upgrade; a fleet split by model on one queue) the job is handed on to it, no attempt
 * counted; when none does, it fails at once, for no worker will ever explain it as asked.
 */
async function notServedHere(context: BatchContext, job: ExplainJob, servedVersion: string | undefined): Promise<Error> {
  const wanted = `${job.model.name}@${job.model.version}`;
  const here = servedVersion === undefined ? `this worker does not serve ${job.model.name}` : `this worker serves ${job.model.name}@${servedVersion}`;
  const live = await context.servedElsewhere?.(job.model.name, job.model.version).catch((error: unknown) => {
    throw toJobFailure(error, `looking up the workers serving ${wanted}`);
  });
  if (live === true) return new DeferJobError('MODEL_SERVED_ELSEWHERE', `job wants ${wanted}; ${here}; handed on to a worker that does`, handOnDelayMs);
  const code = servedVersion === undefined ? 'MODEL_NOT_SERVED' : 'MODEL_VERSION_MISMATCH';
  return new JobFailure(code, `job wants ${wanted}; ${here}, and no live worker serves it`, true);
}

/** The model a fetched job runs on: fetchImages let through only jobs for served models. */
const servedModel = (context: BatchContext, job: ExplainJob) => (context.models.get(job.model.name) as { explainer: Explainer }).explainer.model;

/** Decoded straight to the overlay's size: a large photo's full decode would only be scaled down for it. */
const decodeSide = (context: BatchContext, job: ExplainJob) => decodeSideFor(context.overlayMaxSide, servedModel(context, job).descriptor.preprocessing);

/** Consecutive runs of images whose decoded pixels add up to at most `budget` (one image always fits). */
export function pixelRounds<T>(items: readonly T[], pixelsOf: (item: T) => number, budget: number): T[][] {
  const rounds: T[][] = [];
  let round: T[] = [];
  let pixels = 0;
  for (const item of items) {
    const itemPixels = pixelsOf(item);
    if (round.length > 0 && pixels + itemPixels > budget) {
      rounds.push(round);
      round = [];
      pixels = 0;
    }
    round.push(item);
    pixels += itemPixels;
  }
  if (round.length > 0) rounds.push(round);
  return rounds;
}

/** Decodes one round's images, then per (model, methods) group: one engine call, overlays, uploads. */
async function explainRound(context: BatchContext, round: readonly Fetched[], outcomes: (JobOutcome | undefined)[], totals: StageTotals, finished: Finished[]): Promise<void> {
  const { store, models } = context;
  const seconds = (from: number) => (performance.now() - from) / 1000;
  const decodeStarted = performance.now();
  const decoded = (
    await Promise.all(
      round.map(async ({ at, job, bytes, header }): Promise<Decoded | undefined> => {
        try {
          const image = await decodeImage(bytes, defaultImageLimits, header, { maxSide: decodeSide(context, job) });
          return { at, job, bytes, image, input: await toModelInput(image, servedModel(context, job).descriptor.preprocessing) };
        } catch (error) {
          outcomes[at] = toJobFailure(error, 'decoding the image');
          return undefined;
        }
      }),
    )
  ).filter((d): d is Decoded => d !== undefined);
  const decode = seconds(decodeStarted);
  totals.decode += decode;

  const groups = new Map<string, Decoded[]>();
  for (const d of decoded) {
    const group = `${d.job.model.name}\u0000${methodsOf(d.job).sort().join(',')}`;
    groups.set(group, [...(groups.get(group) ?? []), d]);
  }

  for (const members of groups.values()) {
    const first = members[0] as Decoded;
    const { explainer } = models.get(first.job.model.name) as { explainer: Explainer };
    const methods = methodsOf(first.job);
    let result: Awaited<ReturnType<Explainer['explain']>>;
    try {
      result = await context.engineLock(async () => {
        // Timed from inside the lock: waiting for another batch's engine call is not this one's.
        const engineStarted = performance.now();
        const cpuBefore = threadCpuSeconds();
        totals.engineCalls.push(members.length);
        try {
          const call = { images: members.length, model: `${first.job.model.name}@${first.job.model.version}`, methods };
          return await context.engineCallDeadline(call, () => explainer.explain(members.map((m) => m.input), { methods, targets: members.map((m) => targetsOf(m.job)) }));
        } finally {
          const cpuAfter = threadCpuSeconds();
          totals.engineCpu = totals.engineCpu === undefined || cpuBefore === undefined || cpuAfter === undefined ? undefined : totals.engineCpu + cpuAfter - cpuBefore;
          totals.engine += seconds(engineStarted);
        }
      });
    } catch (error) {
      for (const m of members) outcomes[m.at] = toJobFailure(error, 'explaining the batch');
      continue;
    }
    let earlier: Map<string, ReviewSampling>;
    try {
      earlier = (await context.review?.earlier(members.map((m) => m.job.inferenceId), [...new Set(members.map((m) => m.job.model.name))])) ?? new Map();
    } catch (error) {
      for (const m of members) outcomes[m.at] = toJobFailure(error, 'reading earlier review decisions');
      continue;
    }
    const renderStarted = performance.now();
    const built = await Promise.all(
      members.map(async (m, i) => {
        try {
          const explanation = inJobOrder(result.images[i] as ImageExplanation, m.job);
          // A retried or recovered job keeps the decision its first attempt recorded; of two runs
          // of one job at once (a stalled job taken over), the first to claim decides for both.
          const decided = earlier.has(m.job.inferenceId) ? undefined : context.review?.decide({
            id: m.job.inferenceId,
            model: m.job.model.name,
            predictedClass: explanation.predictedClass,
            probabilities: explanation.probabilities,
            maps: explanation.maps.map((map) => ({ ...map, borderMass: map.stats.borderMass, entropy: map.stats.entropy })),
            now: context.now?.() ?? Date.now(),
          });
          const review = earlier.get(m.job.inferenceId) ?? (decided && (await context.review?.claim(m.job.inferenceId, decided)));
          const artifacts = await buildImageArtifacts({
            source: 'key' in m.job.image ? m.job.image.key : m.job.image.uri,
            bytes: m.bytes,
            image: m.image,
            explanation,
            model: explainer.model,
            backend: context.backend,
            ...(context.backendDetails === undefined ? {} : { backendDetails: context.backendDetails }),
            inferenceId: m.job.inferenceId,
            timings: { batchSize: members.length, decodeMs: decode * 1000, ...result.timings },
            overlayMaxSide: context.overlayMaxSide,
            ...(review && { review }),
            ...(context.renderOverlay && { renderOverlay: context.renderOverlay }),
          });
          return { ...artifacts, review };
        } catch (error) {
          outcomes[m.at] = toJobFailure(error, 'rendering the explanation');
          return undefined;
        }
      }),
    );
    totals.render += seconds(renderStarted);
    const uploadStarted = performance.now();
    await Promise.all(
      members.map(async (m, i) => {
        const artifacts = built[i];
        if (!artifacts) return;
        try {
          // The artifacts in parallel, then the manifest (built last): its presence means "complete".
          const manifest = artifacts.files[artifacts.files.length - 1];
          await Promise.all(artifacts.files.slice(0, -1).map((f) => store.put(keyIn(m.job.folder, f.path), f.body, { contentType: f.contentType })));
          if (manifest) await store.put(keyIn(m.job.folder, manifest.path), manifest.body, { contentType: manifest.contentType });
          await afterManifest(context, m.job, artifacts.manifest);
          finished.push({
            at: m.at,
            job: m.job,
            manifestKey: keyIn(m.job.folder, manifestFileName),
            explanations: artifacts.manifest.explanations.length,
            storedAt: context.now?.() ?? Date.now(),
          });
        } catch (error) {
          outcomes[m.at] = toJobFailure(error, 'storing the explanation');
        }
      }),
    );
    totals.upload += seconds(uploadStarted);
  }
}

