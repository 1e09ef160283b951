import { rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { EnvReader, type LocalStackConfig, checkServiceConfigs, childEnvironment, readWorkerConfig } from '@gradcam/config';
import { type RedisServer, assertRedisServerInstalled, startRedisServer } from '@gradcam/dev-services';
import { localToken } from './local-token.ts';
import { checkServedModels } from './model-check.ts';
import { checkPortsFree } from './port-check.ts';
import { checkRedisAnswers } from './redis-ping.ts';
import { checkS3Storage, s3Location, s3Url } from './s3-check.ts';
import { ServiceExitedError } from './service-exited-error.ts';
import { stackFileName, writeStackFile } from './stack-file.ts';
import { type ServiceProcess, repoRoot, startService, waitUntilReady } from './service-process.ts';
import { type StateLock, acquireStateLock } from './state-lock.ts';
import { type MadeFolder, removeMadeFolders } from './made-folders.ts';
import { makeWritableFolder } from './writable-folder.ts';

export interface LocalStack {
  readonly ingestUrl: string;
  readonly exporterUrl: string;
  readonly workerMetricsUrl: string;
  readonly reviewUrl: string;
  /** A reviewer token for the review page and API. */
  readonly reviewToken: string;
  readonly redisUrl: string;
  readonly token: string;
  /** The token DELETE /v1/inferences/{id} (erasure) takes: GRADCAM_ERASE_TOKENS' first, else the one kept in erase-token. */
  readonly eraseToken: string;
  /** The local object store (GRADCAM_STORAGE_DIR, else <state dir>/storage); undefined with S3. */
  readonly storageDir: string | undefined;
  /** With S3: the bucket, where everything goes (`s3://bucket/prefix/`) and the endpoint in words. */
  readonly s3: StackS3 | undefined;
  /** The models the workers serve (GRADCAM_MODELS), in order: the demo posts to the first. */
  readonly models: readonly string[];
  /**
   * Settles when a service, or the private redis-server, exits on its own while the stack runs (a
   * crash, a SIGKILL): the stack is then incomplete, and whoever runs it should say so and stop().
   * Never settles once stop() has begun.
   */
  readonly died: Promise<ServiceExitedError>;
  /** SIGTERM to every service (workers flush their batch), then the private Redis. Safe twice. */
  stop(): Promise<void>;
}

export interface StackS3 {
  readonly bucket: string;
  /** `s3://bucket/prefix/`. */
  readonly url: string;
  /** The endpoint (credentials in it redacted), or AWS's region. */
  readonly location: string;
}

export interface LocalStackOptions {
  readonly config: LocalStackConfig;
  /** Extra environment for every service (e.g. GRADCAM_CAPTURE_POLICY, batch size). */
  readonly env?: Readonly<Record<string, string>>;
  readonly onLine?: (line: string) => void;
  /**
   * Called once the settings are checked (folders, S3, ports, REDIS_URL) and before anything
   * starts, so a caller announces the start only when a refusal can no longer come first.
   */
  readonly onChecked?: () => void;
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

/**
 * With the private Redis gone, no service can finish what it is doing (a worker's batch cannot be
 * acknowledged; the worker would wait out its whole shutdown deadline, a minute): each gets this
 * long after SIGTERM, then SIGKILL. Its jobs stay in the append-only file and go back to waiting
 * when a worker next sees them stalled.
 */
const graceWithoutRedisMs = 5_000;

/**
 * Starts the whole pipeline on one machine: Redis (REDIS_URL, else a private redis-server with
 * its data under the state dir), then the worker(s), the ingest service and the metrics exporter,
 * each a child process reading the same configuration, and waits until each is ready.
 */
export async function startLocalStack(options: LocalStackOptions): Promise<LocalStack> {
  const { config } = options;
  const stateDir = resolve(repoRoot, config.stateDir);
  // What this start made: a refusal before anything starts removes it, so a refused gradcam up
  // leaves no state folder (tokens, lock, redis/) where there was none (see removeMadeFolders).
  const made: MadeFolder[] = [];
  const madeStateDir = await makeWritableFolder('GRADCAM_STATE_DIR', stateDir);
  if (madeStateDir !== undefined) made.push({ dir: stateDir, top: madeStateDir });
  let begun = false;
  const lock: StateLock = await acquireStateLock(stateDir);
  // Held as a promise, so a stop during its start still stops it once it is up.
  let redisStarting: Promise<RedisServer> | undefined;
  let redisGone = false;
  const services: ServiceProcess[] = [];
  let stopped: Promise<void> | undefined;
  let stopping = false;
  let wroteStackFile = false;
  const stopService = async (service: ServiceProcess) => {
    if (!redisGone) return void (await service.stop());
    const timer = setTimeout(() => void service.stop('SIGKILL'), graceWithoutRedisMs);
    await service.stop();
    clearTimeout(timer);
  };
  const stop = () =>
    (stopped ??= (async () => {
      stopping = true;
      // Ingest first (no new work), then workers (finish the batch), then the exporter and Redis.
      for (const group of [['ingest', 'review'], ['worker'], ['metrics-exporter']]) {
        await Promise.all(services.filter((s) => group.includes(s.name)).map(stopService));
      }
      const redis = await redisStarting?.catch(() => undefined);
      await redis?.stop();
      // Only this stack's file: a stack refused at start must not remove a running one's.
      if (wroteStackFile) await rm(join(stateDir, stackFileName), { force: true });
      if (begun) await lock.release();
      else await removeMadeFolders(stateDir, made, lock);
    })());
  // Every wait below races this, so an abort does not wait for a model load to finish first.
  const aborted = new Promise<never>((_, reject) => {
    const abort = () => reject(new StackStartAbortedError());
    if (options.signal?.aborted) abort();
    else options.signal?.addEventListener('abort', abort, { once: true });
  });
  aborted.catch(() => {});
  // Set once the private Redis is up: its death fails the start at once rather than leave the
  // services waiting on it until the readiness timeout.
  let redisDied: Promise<never> | undefined;
  const step = <T>(promise: Promise<T>): Promise<T> => Promise.race([promise, aborted, ...(redisDied ? [redisDied] : [])]);
  try {
    // redis/ only under the lock: a start refused on the same new folder empties it (redis/ too)
    // before it releases the lock, so one made before this start's lock may be gone by now.
    await makeWritableFolder('GRADCAM_STATE_DIR', stateDir, ['redis']);
    const kept = (name: string, taken?: readonly string[]) => step(localToken(join(stateDir, name), (message) => options.onLine?.(`[gradcam up] ${message}`), taken));
    const apiTokens = config.apiTokens.length > 0 ? config.apiTokens : [await kept('api-token')];
    const token = apiTokens[0] as string;
    // Erasure is disabled without one; the kept one is never an API token (ingest would refuse it).
    const eraseTokens = config.eraseTokens.length > 0 ? config.eraseTokens : [await kept('erase-token', apiTokens)];
    const eraseToken = eraseTokens[0] as string;
    const reviewTokens = config.reviewTokens ?? `local-reviewer:${await kept('review-token')}`;
    const reviewToken = reviewTokens.split(',')[0]?.split(':').slice(1).join(':') ?? '';
    // GRADCAM_STORAGE_DIR when set (relative to the repository, where the services run), for every
    // service alike; else the state folder's. S3_BUCKET wins over both, as in the services.
    const given = new EnvReader(childEnvironment(options.env ?? {}));
    const storageSetting = given.optionalString('GRADCAM_STORAGE_DIR');
    // The services' built-in signing secret is public (it is in their source), so on it anyone who
    // can reach ingest's port (another user of this machine, a web page through DNS rebinding)
    // could sign a link to any stored object: the stack keeps a secret of its own, as its tokens.
    const signingSecret = given.optionalString('GRADCAM_URL_SIGNING_SECRET') === undefined ? await kept('url-signing-secret') : undefined;
    const storageDir = config.s3Configured ? undefined : resolve(repoRoot, storageSetting ?? join(stateDir, 'storage'));
    const ingestUrl = `http://127.0.0.1:${config.ingestPort}`;
    const serviceEnv = (redisUrl: string) =>
      childEnvironment({
        REDIS_URL: redisUrl,
        GRADCAM_API_TOKENS: apiTokens.join(','),
        GRADCAM_ERASE_TOKENS: eraseTokens.join(','),
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
        ...(signingSecret === undefined ? {} : { GRADCAM_URL_SIGNING_SECRET: signingSecret }),
        ...options.env,
      });
    // Every service's own reader, on the environment it will get, before anything starts: a bad
    // GRADCAM_CAPTURE_POLICY or GRADCAM_REVIEW_TOKENS is a ConfigError naming it now, not a
    // service exiting 78 after Redis has started and the models have loaded. Only the private
    // Redis's URL is not known yet; any valid one stands in for it.
    checkServiceConfigs(serviceEnv(config.redisUrl ?? 'redis://127.0.0.1:6379'));
    const { models, storage, queuePrefix } = readWorkerConfig(serviceEnv(config.redisUrl ?? 'redis://127.0.0.1:6379'));
    // An unknown model or a missing model folder, before Redis starts and the worker loads the rest.
    await step(checkServedModels(models, repoRoot));
    // The services would each find a storage folder they cannot use only at the first upload, and
    // an S3 bucket they cannot use only as a readiness timeout after the models loaded.
    const madeStorageDir = storageDir === undefined ? undefined : await step(makeWritableFolder(storageSetting === undefined ? 'GRADCAM_STATE_DIR' : 'GRADCAM_STORAGE_DIR', storageDir));
    if (storageDir !== undefined && madeStorageDir !== undefined) made.push({ dir: storageDir, top: madeStorageDir });
    if (storage.kind === 's3') await step(checkS3Storage(storage, { onWarning: (line) => options.onLine?.(`[gradcam up] warning: ${line}`) }));
    await step(
      checkPortsFree([
        { variable: 'GRADCAM_INGEST_PORT', port: config.ingestPort },
        { variable: 'GRADCAM_EXPORTER_PORT', port: config.exporterPort },
        { variable: 'GRADCAM_WORKER_METRICS_PORT', port: config.workerMetricsPort },
        { variable: 'GRADCAM_REVIEW_PORT', port: config.reviewPort },
      ]),
    );
    // No redis-server on PATH (Redis not installed yet) is refused here, with the made folders
    // removed, rather than once startRedisServer runs, after the folders are kept.
    if (config.redisUrl === undefined) await step(assertRedisServerInstalled());
    if (config.redisUrl !== undefined) {
      const onClusterCheckSkipped = (reason: string) => options.onLine?.(`[gradcam up] REDIS_URL: not checked for Redis Cluster (${reason})`);
      await step(checkRedisAnswers(config.redisUrl, { onClusterCheckSkipped }));
    }
    options.onChecked?.();
    // Redis and the services write in the folders from here: a failure now keeps them.
    begun = true;
    if (config.redisUrl === undefined) redisStarting = startRedisServer({ appendOnly: true, dir: join(stateDir, 'redis') });
    const privateRedis = redisStarting && (await step(redisStarting));
    if (privateRedis) {
      redisDied = privateRedis.exited.then((how) => {
        redisGone = true;
        throw new ServiceExitedError('redis-server', how, 'while the stack was starting', privateRedis.lastLine());
      });
      redisDied.catch(() => {});
    }
    const redisUrl = config.redisUrl ?? (privateRedis as RedisServer).url;
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
    // The private Redis too: without it every service only logs reconnect errors, and a Ctrl-C
    // then waits on connections that cannot close.
    const died = new Promise<ServiceExitedError>((resolve) => {
      for (const service of services) {
        void service.exited.then((how) => {
          if (!stopping) resolve(new ServiceExitedError(service.name, how, 'after start-up', service.lastErrorLine()));
        });
      }
      void privateRedis?.exited.then((how) => {
        if (!stopping) resolve(new ServiceExitedError('redis-server', how, 'after start-up', privateRedis.lastLine()));
      });
    });
    const s3 = storage.kind === 's3' ? { bucket: storage.bucket, url: s3Url(storage), location: s3Location(storage) } : undefined;
    const stack = { ingestUrl, exporterUrl, workerMetricsUrl, reviewUrl, reviewToken, redisUrl, token, eraseToken, storageDir, s3, models, died, stop };
    wroteStackFile = true;
    await writeStackFile(stateDir, { ingestUrl, exporterUrl, reviewUrl, token, eraseToken, reviewToken, storageDir, s3, models, redisUrl, queuePrefix });
    return stack;
  } catch (error) {
    await stop();
    throw error;
  }
}
