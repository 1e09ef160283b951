import { availableParallelism } from 'node:os';
import { defaultOverlayMaxSide } from '@gradcam/contracts';
import { ReviewPolicyError, parseReviewPolicy } from '@gradcam/sampling';
import { readApiTokens, readEraseTokens, readReviewerTokens } from './access-tokens.ts';
import { type CapturePolicy, parseCapturePolicy } from './capture-policy.ts';
import { type CommonConfig, readCommonConfig, readMaxQueueDepth } from './common-config.ts';
import { ConfigError } from './config-error.ts';
import { type Env, EnvReader } from './env-reader.ts';

const MiB = 1024 * 1024;

export interface IngestConfig extends CommonConfig {
  readonly port: number;
  readonly host: string;
  /**
   * HTTP processes sharing the port (node:cluster). Each one is single-threaded, so one per core
   * is what it takes to use a machine's cores for ingest alone.
   */
  readonly processes: number;
  readonly apiTokens: readonly string[];
  /** GRADCAM_ERASE_TOKENS: the tokens DELETE /v1/inferences/{id} takes (none of them an API token); empty: erasure disabled. */
  readonly eraseTokens: readonly string[];
  /** Waiting jobs above this → 429 with Retry-After. */
  readonly maxQueueDepth: number;
  readonly maxBodyBytes: number;
  readonly capturePolicy: CapturePolicy;
  /** Lifetime of presigned artifact URLs returned by GET /v1/inferences/{id}. */
  readonly presignSeconds: number;
  /**
   * GRADCAM_REFERENCE_PREFIXES: the key prefixes an `s3://` reference must start with; empty,
   * anywhere in the bucket. A bucket that holds more than the clients' images (other tenants'
   * data, the pipeline's own folders) is otherwise readable through ingest by any API token: the
   * worker decodes what a reference names and hands back its preview and overlays.
   */
  readonly referencePrefixes: readonly string[];
}

export interface WorkerConfig extends CommonConfig {
  readonly processes: number;
  readonly batchSize: number;
  readonly batchWaitMs: number;
  readonly backend: 'auto' | 'tensorflow-gpu' | 'webgpu' | 'tensorflow' | 'wasm' | 'cpu';
  /** Built-in model names or model directories. */
  readonly models: readonly string[];
  /**
   * The replica's one status server (/metrics, /healthz, /readyz): the supervisor's with several
   * engine processes, else the engine process's. 0: any free port, which it logs.
   */
  readonly metricsPort: number;
  readonly host: string;
  /** BullMQ job lock; one engine call must stay well below it. */
  readonly lockDurationMs: number;
  /**
   * How long a stopping engine process may take to finish its batch and close: the lock duration
   * plus a margin. With Redis gone the batch's locks have lapsed by then, so waiting longer saves
   * nothing; a healthy batch still running (longer than a lock) is cut, and its jobs come back
   * through BullMQ's stalled-job check once their locks lapse.
   */
  readonly shutdownTimeoutMs: number;
  /** How often workers look for jobs whose worker died (their lock expired). */
  readonly stalledIntervalMs: number;
  /**
   * GRADCAM_ENGINE_TIMEOUT_SECONDS: one engine call still unsettled after this long has hung (a
   * GPU fault, a deadlocked native op) and the engine process exits, leaving its jobs to come back
   * as stalled. Its lock renewal keeps running meanwhile, so nothing else would ever notice. It
   * must exceed the slowest healthy call: Score-CAM on a CPU backend takes minutes per batch.
   */
  readonly engineCallTimeoutMs: number;
  /**
   * How long a ready engine process may send its supervisor no heartbeat (its event loop blocked
   * by a synchronous call) before the supervisor SIGKILLs and restarts it: twice the lock
   * duration, at least 60 s. By then the process's job locks have lapsed and other workers have
   * taken its jobs over, so the kill loses nothing; and it never fires while locks are still
   * being renewed, since renewal needs the same free event loop as the heartbeat.
   */
  readonly heartbeatTimeoutMs: number;
  /** Batches a worker process holds at once: one in the engine, the others decoding or uploading. */
  readonly batchesInFlight: number;
  /** Worker threads per engine process that render overlays; 0 renders on the main thread. */
  readonly renderThreads: number;
  /** Longest side of an overlay in pixels, at most 65,500 (JPEG's limit); larger images are drawn scaled down (0: JPEG's limit only). */
  readonly overlayMaxSide: number;
  /** Decoded pixels a batch holds at once; a batch over it is explained in rounds. */
  readonly maxBatchPixels: number;
  /**
   * GRADCAM_ENGINE_MAX_RSS_MB: an engine process whose resident memory passes this drains (takes no
   * more jobs, finishes its batches) and exits for its supervisor to start a fresh one. Its memory
   * only steps up (the wasm heap never shrinks, the native heap keeps the high-water of the largest
   * images), so a fresh process is the only way back down, and draining below the replica's limit
   * beats an OOM kill mid-batch. 0 (the default): no ceiling.
   */
  readonly engineMaxRssBytes: number;
  /** Reviewer sampling, validated here, e.g. `budget=60,confidence<0.6` (see @gradcam/sampling). */
  readonly reviewPolicy: string;
}

export interface ExporterConfig extends CommonConfig {
  readonly port: number;
  readonly host: string;
  readonly capturePolicy: CapturePolicy;
}

export interface ReviewConfig extends CommonConfig {
  readonly port: number;
  readonly host: string;
  /** Reviewer token → reviewer name (the identity recorded with each verdict). */
  readonly reviewers: ReadonlyMap<string, string>;
  readonly leaseSeconds: number;
  /** How long after a verdict its reviewer may undo it (0: undo is off). */
  readonly undoSeconds: number;
  /** How long a reviewed or broken item stays in Redis for listings and exports (0: for ever). */
  readonly retentionDays: number;
  readonly presignSeconds: number;
}

export function readReviewConfig(raw: Env): ReviewConfig {
  const env = new EnvReader(raw);
  const host = env.host('GRADCAM_HOST', '0.0.0.0');
  return {
    // Review pages link overlays through signed URLs.
    ...readCommonConfig(env, { signsBlobUrlsOn: host }),
    port: port(env, 'GRADCAM_REVIEW_PORT', 8081),
    host,
    reviewers: readReviewerTokens(env),
    leaseSeconds: env.integer('GRADCAM_REVIEW_LEASE_SECONDS', 600, { min: 5, max: 24 * 3600 }),
    // Long enough to notice a slip on the next item, short enough that a verdict soon stands.
    undoSeconds: env.integer('GRADCAM_REVIEW_UNDO_SECONDS', 120, { min: 0, max: 3600 }),
    retentionDays: env.integer('GRADCAM_REVIEW_RETENTION_DAYS', 90, { min: 0, max: 3650 }),
    presignSeconds: env.integer('GRADCAM_PRESIGN_SECONDS', 3600, { min: 1, max: 7 * 24 * 3600 }),
  };
}

function reviewPolicy(env: EnvReader): string {
  const text = env.string('GRADCAM_REVIEW_POLICY', 'budget=60');
  try {
    parseReviewPolicy(text);
  } catch (error) {
    if (error instanceof ReviewPolicyError) throw new ConfigError('GRADCAM_REVIEW_POLICY', error.message);
    throw error;
  }
  return text;
}

function capturePolicy(env: EnvReader): CapturePolicy {
  return parseCapturePolicy(env.string('GRADCAM_CAPTURE_POLICY', 'all'));
}

function port(env: EnvReader, name: string, fallback: number): number {
  return env.integer(name, fallback, { min: 0, max: 65_535 });
}

export function readIngestConfig(raw: Env): IngestConfig {
  const env = new EnvReader(raw);
  const apiTokens = readApiTokens(env);
  const eraseTokens = readEraseTokens(env);
  const host = env.host('GRADCAM_HOST', '0.0.0.0');
  // Ingest hands out signed artifact links and serves /v1/blobs against them.
  const common = readCommonConfig(env, { signsBlobUrlsOn: host });
  return {
    ...common,
    port: port(env, 'GRADCAM_INGEST_PORT', 8080),
    host,
    processes: env.integer('GRADCAM_INGEST_PROCESSES', 1, { min: 1, max: 256 }),
    apiTokens,
    eraseTokens,
    maxQueueDepth: readMaxQueueDepth(env),
    maxBodyBytes: env.integer('GRADCAM_MAX_BODY_BYTES', 64 * MiB, { min: 1024 }),
    capturePolicy: capturePolicy(env),
    presignSeconds: env.integer('GRADCAM_PRESIGN_SECONDS', 3600, { min: 1, max: 7 * 24 * 3600 }),
    referencePrefixes: referencePrefixes(env, common.storage.prefix),
  };
}

/** Key prefixes, taken literally as S3 policies take them (`inputs/` a folder, `inputs` also `inputs-old/`). */
function referencePrefixes(env: EnvReader, storagePrefix: string): string[] {
  const prefixes = env.list('GRADCAM_REFERENCE_PREFIXES');
  // An allowlist set to nothing (`,`) is a mistake, not "anywhere": that is the variable unset.
  if (prefixes.length === 0 && env.optionalString('GRADCAM_REFERENCE_PREFIXES') !== undefined) {
    throw new ConfigError('GRADCAM_REFERENCE_PREFIXES', 'names no prefix: list one or more, e.g. inputs/ (or leave it unset to take references anywhere in the bucket)');
  }
  const ownFolder = storagePrefix === '' ? undefined : `${storagePrefix}/`;
  for (const prefix of prefixes) {
    // The two ways to write a prefix that no key can start with: as a URI, or from the root.
    if (prefix.includes('://')) throw new ConfigError('GRADCAM_REFERENCE_PREFIXES', `"${prefix}" is a URI: list key prefixes inside the bucket, e.g. inputs/`);
    if (prefix.startsWith('/')) throw new ConfigError('GRADCAM_REFERENCE_PREFIXES', `"${prefix}" starts with /, which no key does: write it as ${prefix.replace(/^\/+/, '') || 'inputs/'}`);
    // The pipeline's own folders hold every inference's input, predictions and overlays: the
    // allowlist exists to keep references out of such places.
    if (ownFolder !== undefined && (prefix.startsWith(ownFolder) || ownFolder.startsWith(prefix))) {
      throw new ConfigError('GRADCAM_REFERENCE_PREFIXES', `"${prefix}" overlaps the pipeline's own folder ${ownFolder} (GRADCAM_STORAGE_PREFIX): list where clients put their images, e.g. inputs/`);
    }
  }
  return prefixes;
}

/** A stopping engine process gets this much time beyond its job lock (see shutdownTimeoutMs). */
const shutdownMarginMs = 5_000;

/**
 * Node runs a timer set for more than 2^31−1 ms (about 24.8 days) after 1 ms instead, with only a
 * TimeoutOverflowWarning: a heartbeat limit past it would have the supervisor SIGKILL every engine
 * process as soon as it is ready. So every duration read here is bounded such that each timer
 * derived from it stays within this: heartbeatTimeoutMs (2 × the lock), shutdownTimeoutMs (the
 * lock + 5 s) and the supervisor's kill 10 s after that, the lock renewal (half the lock), the
 * stalled-job check; a day is far beyond any sensible setting and far within the limit.
 */
export const maxTimerMs = 2 ** 31 - 1;
const dayMs = 86_400_000;

/** The models a worker loads. Set but naming none (`,`) is a mistake: such a worker would serve nothing. */
function servedModels(env: EnvReader): string[] {
  const models = env.list('GRADCAM_MODELS', ['nsfw-mobilenet-v2']);
  if (models.length === 0) throw new ConfigError('GRADCAM_MODELS', 'names no model: list one or more, e.g. nsfw-mobilenet-v2 (or leave it unset)');
  return models;
}

export function readWorkerConfig(raw: Env): WorkerConfig {
  const env = new EnvReader(raw);
  const processes = env.integer('GRADCAM_WORKER_PROCESSES', availableParallelism(), { min: 1, max: 256 });
  const lockDurationMs = env.integer('GRADCAM_LOCK_DURATION_MS', 60_000, { min: 1_000, max: dayMs });
  return {
    ...readCommonConfig(env),
    processes,
    batchSize: env.integer('GRADCAM_BATCH_SIZE', 8, { min: 1, max: 256 }),
    batchWaitMs: env.integer('GRADCAM_BATCH_WAIT_MS', 50, { min: 0, max: 60_000 }),
    backend: env.oneOf('GRADCAM_BACKEND', ['auto', 'tensorflow-gpu', 'webgpu', 'tensorflow', 'wasm', 'cpu'], 'auto'),
    models: servedModels(env),
    metricsPort: port(env, 'GRADCAM_WORKER_METRICS_PORT', 9465),
    host: env.host('GRADCAM_HOST', '0.0.0.0'),
    lockDurationMs,
    shutdownTimeoutMs: lockDurationMs + shutdownMarginMs,
    stalledIntervalMs: env.integer('GRADCAM_STALLED_INTERVAL_MS', 30_000, { min: 500, max: dayMs }),
    // 10 minutes: Score-CAM batches on a CPU backend take minutes; a day at most, past which a
    // hung call would hold its jobs as long as no deadline at all.
    engineCallTimeoutMs: env.integer('GRADCAM_ENGINE_TIMEOUT_SECONDS', 600, { min: 1, max: 86_400 }) * 1000,
    heartbeatTimeoutMs: Math.max(60_000, 2 * lockDurationMs),
    reviewPolicy: reviewPolicy(env),
    batchesInFlight: env.integer('GRADCAM_BATCHES_IN_FLIGHT', 2, { min: 1, max: 8 }),
    // By default the cores beyond one per engine process: none with a process per core (the wasm
    // default), where threads would only take turns on the same cores.
    renderThreads: env.integer('GRADCAM_RENDER_THREADS', Math.max(0, Math.floor(availableParallelism() / processes) - 1), { min: 0, max: 64 }),
    // 65,500 px is JPEG's largest side; 0 (no limit of ours) still draws at most that, since
    // the overlays are JPEG.
    overlayMaxSide: env.integer('GRADCAM_OVERLAY_MAX_SIDE', defaultOverlayMaxSide, { min: 0, max: 65_500 }),
    // 100 megapixels: about 300 MB of decoded RGB per batch in flight. Eight phone photos fit in
    // one round; a batch of 50-megapixel photos is explained two at a time.
    maxBatchPixels: env.integer('GRADCAM_BATCH_MAX_PIXELS', 100_000_000, { min: 1 }),
    // 1 TiB at most: a typo's extra digits, not a ceiling any host has.
    engineMaxRssBytes: env.integer('GRADCAM_ENGINE_MAX_RSS_MB', 0, { min: 0, max: 1_048_576 }) * 1024 * 1024,
  };
}

export function readExporterConfig(raw: Env): ExporterConfig {
  const env = new EnvReader(raw);
  return {
    ...readCommonConfig(env),
    port: port(env, 'GRADCAM_EXPORTER_PORT', 9464),
    host: env.host('GRADCAM_HOST', '0.0.0.0'),
    capturePolicy: capturePolicy(env),
  };
}

/**
 * Runs every service's reader on one environment, as `gradcam up` does on the environment it will
 * give its children before it starts any of them: a bad variable is one ConfigError naming it,
 * not a child exiting 78 after the models have loaded.
 */
export function checkServiceConfigs(env: Env): void {
  readWorkerConfig(env);
  readIngestConfig(env);
  readExporterConfig(env);
  readReviewConfig(env);
}
