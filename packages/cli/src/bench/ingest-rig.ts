import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { childEnvironment } from '@gradcam/config';
import { redisKeys } from '@gradcam/contracts';
import { freePort, startRedisServer } from '@gradcam/dev-services';
import { startService, waitUntilReady } from '../local-stack/service-process.ts';
import type { CleanupStack } from './pipeline-cleanup.ts';
import { type FixtureImages, storeFixtureImages } from './pipeline-fixtures.ts';
import { connectRedis } from './pipeline-job-results.ts';

export interface IngestRigOptions {
  readonly model: string;
  readonly modelVersion: string;
  /** GRADCAM_INGEST_PROCESSES. */
  readonly processes: number;
  /** The folder the temporary store is made in. */
  readonly storeDir: string;
  /** Runs ingest and its Redis through this command (e.g. taskset), or directly when undefined. */
  readonly launchPrefix?: readonly string[] | undefined;
  readonly onServiceLine: (line: string) => void;
}

export interface IngestRig {
  readonly url: string;
  readonly token: string;
  readonly images: FixtureImages;
  /** Stops ingest, then Redis; removes the files. Safe twice. */
  stop(): Promise<void>;
}

const queuePrefix = 'gradcam';

/**
 * Redis + the ingest service alone, on a fresh temporary store: no worker, so nothing but
 * ingest's own work competes for the cores. Ingest only accepts records for models a worker has
 * announced, so the benchmark announces the model itself, as a worker would.
 */
export async function startIngestRig(options: IngestRigOptions, cleanup: CleanupStack): Promise<IngestRig> {
  const dir = await mkdtemp(join(options.storeDir, 'gradcam-bench-ingest-'));
  const removeDir = cleanup.push('remove the ingest rig dir', () => rm(dir, { recursive: true, force: true }));
  const redis = await startRedisServer({ launchPrefix: options.launchPrefix }).catch(async (error: unknown) => {
    await removeDir();
    throw error;
  });
  const stopRedis = cleanup.push('stop the ingest rig Redis', () => redis.stop());
  let stopIngest: (() => Promise<void>) | undefined;
  const stop = async () => {
    await stopIngest?.();
    await stopRedis();
    await removeDir();
  };
  try {
    const client = await connectRedis(redis.url);
    try {
      await client.hset(redisKeys(queuePrefix).servedModels, options.model, options.modelVersion);
    } finally {
      client.disconnect();
    }
    const storageDir = join(dir, 'storage');
    const images = await storeFixtureImages(storageDir);
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const token = `bench-${randomBytes(18).toString('base64url')}`;
    const ingest = startService({
      name: 'ingest',
      entry: 'services/ingest/src/main.ts',
      env: childEnvironment({
        REDIS_URL: redis.url,
        GRADCAM_API_TOKENS: token,
        GRADCAM_INGEST_PORT: String(port),
        GRADCAM_HOST: '127.0.0.1',
        GRADCAM_PUBLIC_URL: url,
        GRADCAM_STORAGE_DIR: storageDir,
        GRADCAM_STORAGE_PREFIX: '',
        GRADCAM_QUEUE_PREFIX: queuePrefix,
        GRADCAM_CAPTURE_POLICY: 'all',
        GRADCAM_INGEST_PROCESSES: String(options.processes),
        // Nothing consumes the queue here: backpressure would end the measurement, not ingest.
        GRADCAM_MAX_QUEUE_DEPTH: String(1_000_000_000),
        S3_BUCKET: '',
        S3_ENDPOINT: '',
      }),
      onLine: options.onServiceLine,
      launchPrefix: options.launchPrefix,
    });
    stopIngest = cleanup.push('stop the ingest service', () => ingest.stop());
    await waitUntilReady(ingest, `${url}/readyz`, 60_000);
    return { url, token, images, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
