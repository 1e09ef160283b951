import { availableParallelism } from 'node:os';
import { type CapturePolicy, parseCapturePolicy } from './capture-policy.ts';
import { type CommonConfig, readCommonConfig } from './common-config.ts';
import { ConfigError } from './config-error.ts';
import { type Env, EnvReader } from './env-reader.ts';

const MiB = 1024 * 1024;

export interface IngestConfig extends CommonConfig {
  readonly port: number;
  readonly host: string;
  readonly apiTokens: readonly string[];
  /** Waiting jobs above this → 429 with Retry-After. */
  readonly maxQueueDepth: number;
  readonly maxBodyBytes: number;
  readonly capturePolicy: CapturePolicy;
  /** Lifetime of presigned artifact URLs returned by GET /v1/inferences/{id}. */
  readonly presignSeconds: number;
}

export interface WorkerConfig extends CommonConfig {
  readonly processes: number;
  readonly batchSize: number;
  readonly batchWaitMs: number;
  readonly backend: 'auto' | 'tensorflow-gpu' | 'tensorflow' | 'wasm' | 'cpu';
  /** Built-in model names or model directories. */
  readonly models: readonly string[];
  readonly metricsPort: number;
  readonly host: string;
  /** BullMQ job lock; one engine call must stay well below it. */
  readonly lockDurationMs: number;
  /** How often workers look for jobs whose worker died (their lock expired). */
  readonly stalledIntervalMs: number;
}

export interface ExporterConfig extends CommonConfig {
  readonly port: number;
  readonly host: string;
  readonly capturePolicy: CapturePolicy;
}

function capturePolicy(env: EnvReader): CapturePolicy {
  return parseCapturePolicy(env.string('GRADCAM_CAPTURE_POLICY', 'all'));
}

function port(env: EnvReader, name: string, fallback: number): number {
  return env.integer(name, fallback, { min: 0, max: 65_535 });
}

export function readIngestConfig(raw: Env): IngestConfig {
  const env = new EnvReader(raw);
  const apiTokens = env.list('GRADCAM_API_TOKENS');
  if (apiTokens.length === 0) throw new ConfigError('GRADCAM_API_TOKENS', 'is required: one or more comma-separated bearer tokens clients must send');
  if (apiTokens.some((t) => t.length < 16)) throw new ConfigError('GRADCAM_API_TOKENS', 'each token must be at least 16 characters');
  return {
    ...readCommonConfig(env),
    port: port(env, 'GRADCAM_INGEST_PORT', 8080),
    host: env.string('GRADCAM_HOST', '0.0.0.0'),
    apiTokens,
    maxQueueDepth: env.integer('GRADCAM_MAX_QUEUE_DEPTH', 100_000, { min: 1 }),
    maxBodyBytes: env.integer('GRADCAM_MAX_BODY_BYTES', 64 * MiB, { min: 1024 }),
    capturePolicy: capturePolicy(env),
    presignSeconds: env.integer('GRADCAM_PRESIGN_SECONDS', 3600, { min: 1, max: 7 * 24 * 3600 }),
  };
}

export function readWorkerConfig(raw: Env): WorkerConfig {
  const env = new EnvReader(raw);
  return {
    ...readCommonConfig(env),
    processes: env.integer('GRADCAM_WORKER_PROCESSES', availableParallelism(), { min: 1, max: 256 }),
    batchSize: env.integer('GRADCAM_BATCH_SIZE', 8, { min: 1, max: 256 }),
    batchWaitMs: env.integer('GRADCAM_BATCH_WAIT_MS', 50, { min: 0, max: 60_000 }),
    backend: env.oneOf('GRADCAM_BACKEND', ['auto', 'tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'], 'auto'),
    models: env.list('GRADCAM_MODELS', ['nsfw-mobilenet-v2']),
    metricsPort: port(env, 'GRADCAM_WORKER_METRICS_PORT', 9465),
    host: env.string('GRADCAM_HOST', '0.0.0.0'),
    lockDurationMs: env.integer('GRADCAM_LOCK_DURATION_MS', 60_000, { min: 1_000 }),
    stalledIntervalMs: env.integer('GRADCAM_STALLED_INTERVAL_MS', 30_000, { min: 500 }),
  };
}

export function readExporterConfig(raw: Env): ExporterConfig {
  const env = new EnvReader(raw);
  return {
    ...readCommonConfig(env),
    port: port(env, 'GRADCAM_EXPORTER_PORT', 9464),
    host: env.string('GRADCAM_HOST', '0.0.0.0'),
    capturePolicy: capturePolicy(env),
  };
}
