import { ConfigError } from './config-error.ts';
import type { EnvReader } from './env-reader.ts';

export const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof logLevels)[number];

export type StorageConfig =
  | {
      readonly kind: 's3';
      readonly endpoint: string | undefined;
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

function storageConfig(env: EnvReader, publicBaseUrl: string): StorageConfig {
  const prefix = env.string('GRADCAM_STORAGE_PREFIX', '').replace(/^\/+|\/+$/g, '');
  if (prefix !== '' && !/^[A-Za-z0-9_.=/-]+$/.test(prefix)) {
    throw new ConfigError('GRADCAM_STORAGE_PREFIX', `may hold only A–Z a–z 0–9 _ . = / -, got "${prefix}"`);
  }
  const bucket = env.optionalString('S3_BUCKET');
  const endpoint = env.url('S3_ENDPOINT', undefined, ['http:', 'https:']);
  if (bucket === undefined && endpoint !== undefined) throw new ConfigError('S3_BUCKET', 'is required when S3_ENDPOINT is set');
  if (bucket !== undefined) {
    return {
      kind: 's3',
      endpoint,
      region: env.string('S3_REGION', 'us-east-1'),
      bucket,
      accessKeyId: env.optionalString('S3_ACCESS_KEY_ID'),
      secretAccessKey: env.optionalString('S3_SECRET_ACCESS_KEY'),
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
    signingSecret: env.string('GRADCAM_URL_SIGNING_SECRET', 'local-development-only'),
    fsync: env.boolean('GRADCAM_STORAGE_FSYNC', true),
  };
}

function requireRedisUrl(env: EnvReader): string {
  const url = env.url('REDIS_URL', undefined, ['redis:', 'rediss:']);
  if (url === undefined) throw new ConfigError('REDIS_URL', 'is required (e.g. redis://127.0.0.1:6379); `npm start` starts a private redis-server and sets it');
  return url;
}

export function readCommonConfig(env: EnvReader): CommonConfig {
  const publicBaseUrl = env.url('GRADCAM_PUBLIC_URL', 'http://127.0.0.1:8080', ['http:', 'https:']) as string;
  const queuePrefix = env.string('GRADCAM_QUEUE_PREFIX', 'gradcam');
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(queuePrefix)) throw new ConfigError('GRADCAM_QUEUE_PREFIX', `expected 1–64 of A–Z a–z 0–9 _ . -, got "${queuePrefix}"`);
  return {
    redisUrl: requireRedisUrl(env),
    queuePrefix,
    logLevel: env.oneOf('LOG_LEVEL', logLevels, 'info'),
    storage: storageConfig(env, publicBaseUrl.replace(/\/+$/, '')),
  };
}
