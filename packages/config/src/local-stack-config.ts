import { availableParallelism } from 'node:os';
import type { Env } from './env-reader.ts';
import { EnvReader } from './env-reader.ts';

/** What `gradcam up` (npm start) needs to decide before it starts the services. */
export interface LocalStackConfig {
  /** Use this Redis instead of starting a private redis-server. */
  readonly redisUrl: string | undefined;
  /** The first configured ingest token, else one is generated and kept in the state dir. */
  readonly apiToken: string | undefined;
  readonly ingestPort: number;
  readonly exporterPort: number;
  readonly workerMetricsPort: number;
  readonly reviewPort: number;
  /** Reviewer tokens (`name:token` pairs); one is generated and kept in the state dir when unset. */
  readonly reviewTokens: string | undefined;
  /**
   * Reviewer sampling for the local stack: every explanation by default, so the review page has
   * something to show on a laptop (production workers default to a budget).
   */
  readonly reviewPolicy: string;
  readonly workerProcesses: number;
  /** Where the local stack keeps Redis data, the local object store and its token. */
  readonly stateDir: string;
  readonly s3Configured: boolean;
}

export function readLocalStackConfig(raw: Env): LocalStackConfig {
  const env = new EnvReader(raw);
  return {
    redisUrl: env.url('REDIS_URL', undefined, ['redis:', 'rediss:']),
    apiToken: env.list('GRADCAM_API_TOKENS')[0],
    ingestPort: env.integer('GRADCAM_INGEST_PORT', 8080, { max: 65_535 }),
    exporterPort: env.integer('GRADCAM_EXPORTER_PORT', 9464, { max: 65_535 }),
    workerMetricsPort: env.integer('GRADCAM_WORKER_METRICS_PORT', 9465, { max: 65_535 }),
    reviewPort: env.integer('GRADCAM_REVIEW_PORT', 8081, { max: 65_535 }),
    reviewTokens: env.optionalString('GRADCAM_REVIEW_TOKENS'),
    reviewPolicy: env.string('GRADCAM_REVIEW_POLICY', 'rate=1'),
    workerProcesses: env.integer('GRADCAM_WORKER_PROCESSES', availableParallelism(), { min: 1, max: 256 }),
    stateDir: env.string('GRADCAM_STATE_DIR', '.gradcam'),
    s3Configured: env.optionalString('S3_BUCKET') !== undefined,
  };
}

/** The environment for a child service: this process's, with the given values on top. */
export function childEnvironment(overrides: Readonly<Record<string, string>>): NodeJS.ProcessEnv {
  return { ...process.env, ...overrides };
}
