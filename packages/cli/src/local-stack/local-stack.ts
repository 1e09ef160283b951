import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { type LocalStackConfig, checkServiceConfigs, childEnvironment } from '@gradcam/config';
import { type RedisServer, startRedisServer } from '@gradcam/dev-services';
import { ServiceExitedError } from './service-exited-error.ts';
import { type ServiceProcess, repoRoot, startService, waitUntilReady } from './service-process.ts';

export interface LocalStack {
  readonly ingestUrl: string;
  readonly exporterUrl: string;
  readonly workerMetricsUrl: string;
  readonly reviewUrl: string;
  /** A reviewer token for the review page and API. */
  readonly reviewToken: string;
  readonly redisUrl: string;
  readonly token: string;
  readonly storageDir: string | undefined;
  /**
   * Settles when a service exits on its own while the stack runs (a crash, a SIGKILL): the stack
   * is then incomplete, and whoever runs it should say so and stop(). Never settles once stop()
   * has begun.
   */
  readonly died: Promise<ServiceExitedError>;
  /** SIGTERM to every service (workers flush their batch), then the private Redis. Safe twice. */
  stop(): Promise<void>;
}

export interface LocalStackOptions {
  readonly config: LocalStackConfig;
  /** Extra environment for every service (e.g. GRADCAM_CAPTURE_POLICY, batch size). */
  readonly env?: Readonly<Record<string, string>>;
  readonly onLine?: (line: string) => void;
  readonly readyTimeoutMs?: number;
  /**
   * Aborting it while the stack starts (a Ctrl-C while models load) stops what has started, in
   * the usual order, and rejects with StackStartAbortedError.
   */
  readonly signal?: AbortSignal;
}

/** The start was called off through `LocalStackOptions.signal`; everything started was stopped. */
export class StackStartAbortedError extends Error {
  readonly code = 'STACK_START_ABORTED';
  constructor() {
    super('the local stack was stopped while it was starting');
    this.name = 'StackStartAbortedError';
  }
}

/** The file where `gradcam up` leaves its URLs and token for `gradcam demo`. */
export const stackFileName = 'local-stack.json';

/** A token kept in the state dir, so it survives restarts of the local stack. */
async function localToken(stateDir: string, name: string): Promise<string> {
  const file = join(stateDir, name);
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch {
    const token = `local-${randomBytes(24).toString('base64url')}`;
    await writeFile(file, `${token}\n`, { mode: 0o600 });
    return token;
  }
}

/**
 * Starts the whole pipeline on one machine: Redis (REDIS_URL, else a private redis-server with
 * its data under the state dir), then the worker(s), the ingest service and the metrics exporter,
 * each a child process reading the same configuration, and waits until each is ready.
 */
export async function startLocalStack(options: LocalStackOptions): Promise<LocalStack> {
  const { config } = options;
  const stateDir = resolve(repoRoot, config.stateDir);
  await mkdir(join(stateDir, 'redis'), { recursive: true });
  // Held as a promise, so a stop during its start still stops it once it is up.
  let redisStarting: Promise<RedisServer> | undefined;
  const services: ServiceProcess[] = [];
  let stopped: Promise<void> | undefined;
  let stopping = false;
  const stop = () =>
    (stopped ??= (async () => {
      stopping = true;
      // Ingest first (no new work), then workers (finish the batch), then the exporter and Redis.
      for (const group of [['ingest', 'review'], ['worker'], ['metrics-exporter']]) {
        await Promise.all(services.filter((s) => group.includes(s.name)).map((s) => s.stop()));
      }
      const redis = await redisStarting?.catch(() => undefined);
      await redis?.stop();
      await rm(join(stateDir, stackFileName), { force: true });
    })());
  // Every wait below races this, so an abort does not wait for a model load to finish first.
  const aborted = new Promise<never>((_, reject) => {
    const abort = () => reject(new StackStartAbortedError());
    if (options.signal?.aborted) abort();
    else options.signal?.addEventListener('abort', abort, { once: true });
  });
  aborted.catch(() => {});
  const step = <T>(promise: Promise<T>): Promise<T> => Promise.race([promise, aborted]);
  try {
    const apiTokens = config.apiTokens.length > 0 ? config.apiTokens : [await step(localToken(stateDir, 'api-token'))];
    const token = apiTokens[0] as string;
    const reviewTokens = config.reviewTokens ?? `local-reviewer:${await step(localToken(stateDir, 'review-token'))}`;
    const reviewToken = reviewTokens.split(',')[0]?.split(':').slice(1).join(':') ?? '';
    const storageDir = config.s3Configured ? undefined : join(stateDir, 'storage');
    const ingestUrl = `http://127.0.0.1:${config.ingestPort}`;
    const serviceEnv = (redisUrl: string) =>
      childEnvironment({
        REDIS_URL: redisUrl,
        GRADCAM_API_TOKENS: apiTokens.join(','),
        GRADCAM_PUBLIC_URL: ingestUrl,
        GRADCAM_HOST: '127.0.0.1',
        GRADCAM_INGEST_PORT: String(config.ingestPort),
        GRADCAM_EXPORTER_PORT: String(config.exporterPort),
        GRADCAM_WORKER_METRICS_PORT: String(config.workerMetricsPort),
        GRADCAM_REVIEW_PORT: String(config.reviewPort),
        GRADCAM_REVIEW_TOKENS: reviewTokens,
        GRADCAM_REVIEW_POLICY: config.reviewPolicy,
        // The AWS SDK warns once per process that it will want Node 22; Node 20 is supported here.
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
        GRADCAM_WORKER_PROCESSES: String(config.workerProcesses),
        ...(storageDir === undefined ? {} : { GRADCAM_STORAGE_DIR: storageDir }),
        ...options.env,
      });
    // Every service's own reader, on the environment it will get, before anything starts: a bad
    // GRADCAM_CAPTURE_POLICY or GRADCAM_REVIEW_TOKENS is a ConfigError naming it now, not a
    // service exiting 78 after Redis has started and the models have loaded. Only the private
    // Redis's URL is not known yet; any valid one stands in for it.
    checkServiceConfigs(serviceEnv(config.redisUrl ?? 'redis://127.0.0.1:6379'));
    if (config.redisUrl === undefined) redisStarting = startRedisServer({ appendOnly: true, dir: join(stateDir, 'redis') });
    const redisUrl = config.redisUrl ?? (await step(redisStarting as Promise<RedisServer>)).url;
    const env = serviceEnv(redisUrl);
    const start = (name: string) => {
      const service = startService({ name, entry: `services/${name}/src/main.ts`, env, ...(options.onLine && { onLine: options.onLine }) });
      services.push(service);
      return service;
    };
    const timeout = options.readyTimeoutMs ?? 120_000;
    const workerMetricsUrl = `http://127.0.0.1:${config.workerMetricsPort}`;
    const exporterUrl = `http://127.0.0.1:${config.exporterPort}`;
    const reviewUrl = `http://127.0.0.1:${config.reviewPort}`;
    // Workers announce the models they serve; ingest refuses records for models nobody serves.
    // The worker's one /readyz is 200 once every one of its engine processes is ready.
    const worker = start('worker');
    await step(waitUntilReady(worker, `${workerMetricsUrl}/readyz`, timeout));
    const ingest = start('ingest');
    const exporter = start('metrics-exporter');
    const review = start('review');
    await step(
      Promise.all([
        waitUntilReady(ingest, `${ingestUrl}/readyz`, timeout),
        waitUntilReady(exporter, `${exporterUrl}/healthz`, timeout),
        waitUntilReady(review, `${reviewUrl}/readyz`, timeout),
      ]),
    );
    // A service that dies from now on leaves the stack incomplete (a worker supervisor killed:
    // nothing explains; ingest gone: nothing is accepted): report it rather than run on.
    const died = new Promise<ServiceExitedError>((resolve) => {
      for (const service of services) {
        void service.exited.then((how) => {
          if (!stopping) resolve(new ServiceExitedError(service.name, how, 'after start-up', service.lastErrorLine()));
        });
      }
    });
    const stack = { ingestUrl, exporterUrl, workerMetricsUrl, reviewUrl, reviewToken, redisUrl, token, storageDir, died, stop };
    await writeFile(join(stateDir, stackFileName), `${JSON.stringify({ ingestUrl, exporterUrl, reviewUrl, token, reviewToken, storageDir }, null, 2)}\n`, { mode: 0o600 });
    return stack;
  } catch (error) {
    await stop();
    throw error;
  }
}
