import { isIP } from 'node:net';
import {
  camMethodSchema,
  dotsOnlySegment,
  inferenceFolder,
  inferenceIdSchema,
  inputExtensions,
  manifestFileName,
  modelNameSchema,
  modelVersionSchema,
  predictionFileName,
  reviewFileName,
  temporaryFileSegment,
} from '@gradcam/contracts';
import { ConfigError } from './config-error.ts';
import { type Env, EnvReader } from './env-reader.ts';

export const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof logLevels)[number];

export type StorageConfig =
  | {
      readonly kind: 's3';
      readonly endpoint: string | undefined;
      /** Where clients reach the server, when not at `endpoint` (presigned URLs are signed for it). */
      readonly publicEndpoint?: string | undefined;
      readonly region: string;
      readonly bucket: string;
      readonly accessKeyId: string | undefined;
      readonly secretAccessKey: string | undefined;
      readonly forcePathStyle: boolean;
      readonly prefix: string;
    }
  | {
      readonly kind: 'local';
      readonly dir: string;
      readonly prefix: string;
      /** Base URL presigned links point at (the ingest service serves /v1/blobs/…). */
      readonly publicBaseUrl: string;
      readonly signingSecret: string;
      /** fsync every object (durable across power loss) or rely on atomic renames only. */
      readonly fsync: boolean;
    };

export interface CommonConfig {
  readonly redisUrl: string;
  readonly queuePrefix: string;
  readonly logLevel: LogLevel;
  readonly storage: StorageConfig;
}

export interface CommonConfigOptions {
  /**
   * For a service that serves or hands out signed blob links (ingest, review): the address it
   * listens on. Off loopback, the local store's signing secret must be set explicitly.
   */
  readonly signsBlobUrlsOn?: string;
}

/** Public (it is in this file): only good enough for a service no other machine can reach. */
const developmentSigningSecret = 'local-development-only';
const minSigningSecretLength = 16;

/** 127.0.0.0/8, ::1 and localhost: addresses only this machine can connect to. */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (bare === 'localhost') return true;
  if (isIP(bare) === 4) return bare.startsWith('127.');
  return bare === '::1' || bare === '0:0:0:0:0:0:0:1' || bare.startsWith('::ffff:127.');
}

function signingSecret(env: EnvReader, options: CommonConfigOptions): string {
  const name = 'GRADCAM_URL_SIGNING_SECRET';
  const secret = env.optionalString(name);
  if (secret !== undefined) {
    if (secret.length < minSigningSecretLength) throw new ConfigError(name, `must be at least ${minSigningSecretLength} characters (e.g. openssl rand -hex 24), got ${secret.length}`);
    return secret;
  }
  const host = options.signsBlobUrlsOn;
  if (host !== undefined && !isLoopbackHost(host)) {
    throw new ConfigError(
      name,
      `is required when GRADCAM_HOST is not a loopback address (it is ${host}) and artifacts are stored locally: the built-in development secret is public, so anyone could forge blob links; set 16+ random characters, the same for ingest and review`,
    );
  }
  return developmentSigningSecret;
}

/** S3 credentials go together: with only one of them the SDK would fail at the first request. */
function s3Credentials(env: EnvReader): { accessKeyId: string | undefined; secretAccessKey: string | undefined } {
  const accessKeyId = env.optionalString('S3_ACCESS_KEY_ID');
  const secretAccessKey = env.optionalString('S3_SECRET_ACCESS_KEY');
  if (accessKeyId !== undefined && secretAccessKey === undefined) throw new ConfigError('S3_SECRET_ACCESS_KEY', 'is required when S3_ACCESS_KEY_ID is set (give both, or neither to use the default AWS credential chain)');
  if (secretAccessKey !== undefined && accessKeyId === undefined) throw new ConfigError('S3_ACCESS_KEY_ID', 'is required when S3_SECRET_ACCESS_KEY is set (give both, or neither to use the default AWS credential chain)');
  return { accessKeyId, secretAccessKey };
}

/** S3's limit on a whole key, in UTF-8 bytes, which @gradcam/storage's assertValidKey holds every key to. */
const maxKeyBytes = 1024;

/** The longest run of `char` a schema accepts (up to a whole key): the contracts state lengths as regexes. */
function longestAccepted(schema: { safeParse(value: unknown): { success: boolean } }, char: string): number {
  let length = 0;
  while (length < maxKeyBytes && schema.safeParse(char.repeat(length + 1)).success) length += 1;
  return length;
}

/**
 * The longest key a record can lead to, less the prefix and its slash: the inference's folder
 * (`inferenceFolder`, with the longest model name, version and id the schemas allow) and the
 * longest file any service writes in it: ingest's prediction.json and input.<ext>, the worker's
 * explanation.json and, per method and class, `<method>-<class>.npy` and `.overlay.jpg`
 * (@gradcam/artifacts' artifactStem, which config cannot import: '+' becomes 'p', and a class
 * index is a safe integer, so at most 16 digits), and review's review.json.
 */
export function longestKeyAfterPrefix(): number {
  const folder = inferenceFolder({
    prefix: '',
    model: 'm'.repeat(longestAccepted(modelNameSchema, 'm')),
    modelVersion: 'v'.repeat(longestAccepted(modelVersionSchema, 'v')),
    acceptedAt: new Date(Date.UTC(9999, 11, 31)),
    inferenceId: 'i'.repeat(longestAccepted(inferenceIdSchema, 'i')),
  });
  const method = Math.max(...camMethodSchema.options.map((name) => name.length));
  const stem = `${'m'.repeat(method)}-${Number.MAX_SAFE_INTEGER}`;
  const files = [predictionFileName, manifestFileName, reviewFileName, `${stem}.npy`, `${stem}.overlay.jpg`, ...Object.values(inputExtensions).map((extension) => `input.${extension}`)];
  return Buffer.byteLength(folder) + Math.max(...files.map((name) => Buffer.byteLength(name)));
}

/** The longest GRADCAM_STORAGE_PREFIX: with its slash and the longest key after it, a whole key. */
export const maxStoragePrefixBytes = (): number => maxKeyBytes - 1 - longestKeyAfterPrefix();

/**
 * The prefix opens every storage key, so each of its folders follows the storage key rules
 * (@gradcam/storage's assertValidKey, which config cannot import: storage depends on config):
 * no empty segment ('a//b'), none of dots only ('a/../b' would climb out of the prefix; every
 * store refuses '.' and '..'), none over 200 bytes or shaped like the filesystem store's
 * temporary files; nor may the whole prefix leave too little of a key for the inference folders
 * under it. Refused here, at boot, rather than as a 500 on every record.
 */
function checkStoragePrefix(prefix: string): void {
  const refuse = (why: string) => new ConfigError('GRADCAM_STORAGE_PREFIX', `${why}, got "${prefix}"`);
  if (!/^[A-Za-z0-9_.=/-]+$/.test(prefix)) throw refuse('may hold only A–Z a–z 0–9 _ . = / -');
  for (const segment of prefix.split('/')) {
    if (segment === '') throw refuse('may not have an empty folder (a double slash)');
    if (dotsOnlySegment.test(segment)) throw refuse(`may not have a folder of dots only ("${segment}")`);
    if (segment.length > 200) throw refuse('may not have a folder name over 200 characters');
    if (temporaryFileSegment.test(segment)) throw refuse(`may not have a folder named like a temporary file ("${segment}")`);
  }
  // Else the records with the longest names or ids would each be a 500: their keys too long to store.
  const longest = maxStoragePrefixBytes();
  if (prefix.length > longest) {
    throw new ConfigError(
      'GRADCAM_STORAGE_PREFIX',
      `may be at most ${longest} characters (keys are limited to ${maxKeyBytes} bytes, and the longest key a record can lead to adds ${longestKeyAfterPrefix() + 1} to the prefix), got ${prefix.length}`,
    );
  }
}

/**
 * `S3_ENDPOINT=http://minio:9000/gradcam` with `S3_BUCKET=gradcam` (the bucket's URL, as a console
 * shows it) is a server address with a path, which the S3 client keeps before every request's own
 * `/bucket/key`: everything would be stored in the bucket under `gradcam/…` keys, the startup check
 * included, so it passes, and listings and presigned links go wrong later. The bucket belongs in
 * S3_BUCKET alone (and a folder in GRADCAM_STORAGE_PREFIX).
 */
function refuseBucketInEndpointPath(variable: 'S3_ENDPOINT' | 'S3_PUBLIC_ENDPOINT', endpoint: string, bucket: string): void {
  const url = new URL(endpoint);
  const segments = url.pathname.split('/').filter((segment) => segment !== '');
  if (!segments.includes(bucket)) return;
  throw new ConfigError(
    variable,
    `names the bucket "${bucket}" in its path ("${url.pathname}"); give the server's address alone (${url.origin}) and the bucket in S3_BUCKET${segments.length > 1 ? ', a folder in GRADCAM_STORAGE_PREFIX' : ''}`,
  );
}

function storageConfig(env: EnvReader, publicBaseUrl: string, options: CommonConfigOptions): StorageConfig {
  const prefix = env.string('GRADCAM_STORAGE_PREFIX', '').replace(/^\/+|\/+$/g, '');
  if (prefix !== '') checkStoragePrefix(prefix);
  const bucket = env.optionalString('S3_BUCKET');
  const endpoint = env.url('S3_ENDPOINT', undefined, 'http');
  const publicEndpoint = env.url('S3_PUBLIC_ENDPOINT', undefined, 'http');
  if (bucket === undefined && endpoint !== undefined) throw new ConfigError('S3_BUCKET', 'is required when S3_ENDPOINT is set');
  if (bucket === undefined && publicEndpoint !== undefined) throw new ConfigError('S3_BUCKET', 'is required when S3_PUBLIC_ENDPOINT is set');
  if (bucket !== undefined) {
    if (endpoint !== undefined) refuseBucketInEndpointPath('S3_ENDPOINT', endpoint, bucket);
    if (publicEndpoint !== undefined) refuseBucketInEndpointPath('S3_PUBLIC_ENDPOINT', publicEndpoint, bucket);
    return {
      kind: 's3',
      endpoint,
      publicEndpoint,
      region: env.string('S3_REGION', 'us-east-1'),
      bucket,
      ...s3Credentials(env),
      // MinIO and other self-hosted servers want path-style URLs; AWS itself does not.
      forcePathStyle: env.boolean('S3_FORCE_PATH_STYLE', endpoint !== undefined),
      prefix,
    };
  }
  return {
    kind: 'local',
    dir: env.string('GRADCAM_STORAGE_DIR', '.gradcam/storage'),
    prefix,
    publicBaseUrl,
    signingSecret: signingSecret(env, options),
    fsync: env.boolean('GRADCAM_STORAGE_FSYNC', true),
  };
}

function requireRedisUrl(env: EnvReader): string {
  const url = env.url('REDIS_URL', undefined, 'redis');
  if (url === undefined) throw new ConfigError('REDIS_URL', 'is required (e.g. redis://127.0.0.1:6379); `npm start` starts a private redis-server and sets it');
  return url;
}

/** GRADCAM_QUEUE_PREFIX when set: the BullMQ key prefix producers, workers and tools must agree on. */
function optionalQueuePrefix(env: EnvReader): string | undefined {
  const prefix = env.optionalString('GRADCAM_QUEUE_PREFIX');
  if (prefix !== undefined && !/^[A-Za-z0-9_.-]{1,64}$/.test(prefix)) throw new ConfigError('GRADCAM_QUEUE_PREFIX', `expected 1–64 of A–Z a–z 0–9 _ . -, got "${prefix}"`);
  return prefix;
}

/** The waiting jobs past which ingest answers 429 (GRADCAM_MAX_QUEUE_DEPTH), read by ingest and by tools that add to the queue. */
export function readMaxQueueDepth(env: EnvReader): number {
  return env.integer('GRADCAM_MAX_QUEUE_DEPTH', 100_000, { min: 1 });
}

/**
 * For a tool that works on the queue (`gradcam jobs`): REDIS_URL and GRADCAM_QUEUE_PREFIX, each
 * only when set, and ingest's queue limit, which a bulk retry must leave room under.
 */
export function readQueueAccessConfig(raw: Env): { readonly redisUrl: string | undefined; readonly queuePrefix: string | undefined; readonly maxQueueDepth: number } {
  const env = new EnvReader(raw);
  return { redisUrl: env.url('REDIS_URL', undefined, 'redis'), queuePrefix: optionalQueuePrefix(env), maxQueueDepth: readMaxQueueDepth(env) };
}

export function readCommonConfig(env: EnvReader, options: CommonConfigOptions = {}): CommonConfig {
  const publicBaseUrl = env.url('GRADCAM_PUBLIC_URL', 'http://127.0.0.1:8080', 'http');
  return {
    redisUrl: requireRedisUrl(env),
    queuePrefix: optionalQueuePrefix(env) ?? 'gradcam',
    logLevel: env.oneOf('LOG_LEVEL', logLevels, 'info'),
    storage: storageConfig(env, publicBaseUrl.replace(/\/+$/, ''), options),
  };
}
