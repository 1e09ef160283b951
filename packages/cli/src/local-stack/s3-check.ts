import { type StorageConfig, redactedUrl } from '@gradcam/config';
import { createBlobStore, missingKeysAnswered, probeStore, s3FailureKind } from '@gradcam/storage';
import { LocalStackError } from './local-stack-error.ts';

export type S3StorageConfig = Extract<StorageConfig, { kind: 's3' }>;

/** Where the bucket is, in words: the endpoint (credentials in it redacted), or AWS's region. */
export function s3Location(storage: S3StorageConfig): string {
  return storage.endpoint === undefined ? `AWS S3 (region ${storage.region})` : redactedUrl(storage.endpoint);
}

/** `s3://bucket/prefix/`, where the stack stores everything. */
export function s3Url(storage: S3StorageConfig): string {
  return `s3://${storage.bucket}/${storage.prefix === '' ? '' : `${storage.prefix}/`}`;
}

const keys = 'S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY';

/** One line naming the variable(s) to fix, for what the check found. */
function problemLine(storage: S3StorageConfig, error: unknown): string {
  const where = s3Location(storage);
  const bucket = `bucket "${storage.bucket}"`;
  // The store's message less its 'S3 HeadObject <key> failed: ' opening: the line says what was asked.
  const message = error instanceof Error ? error.message : String(error);
  const reason = message.replace(/^S3 .*? failed: /, '');
  const givenKeys = storage.accessKeyId !== undefined;
  switch (s3FailureKind(error)) {
    case 'unreachable':
      return storage.endpoint === undefined
        ? `S3_REGION: ${where} does not answer (${reason}); check this machine's network, or set S3_ENDPOINT for an S3-compatible server`
        : `S3_ENDPOINT: ${where} does not answer (${reason}); start that server, or point S3_ENDPOINT at one`;
    case 'bucket-missing':
      return `S3_BUCKET: ${bucket} does not exist at ${where}; create it first (npm start does not create buckets), or set S3_BUCKET to one that exists`;
    case 'no-credentials':
      return `${keys}: no S3 credentials (neither is set, and the AWS default chain, AWS_PROFILE, AWS_ACCESS_KEY_ID or an instance role, found none); set both`;
    case 'unknown-access-key':
      return givenKeys
        ? `S3_ACCESS_KEY_ID: ${where} does not know this access key (InvalidAccessKeyId); check ${keys}`
        : `${keys}: ${where} does not know the access key the AWS default chain found (InvalidAccessKeyId); set both`;
    case 'wrong-secret':
      return givenKeys
        ? `S3_SECRET_ACCESS_KEY: does not go with S3_ACCESS_KEY_ID (SignatureDoesNotMatch at ${where})`
        : `${keys}: the secret key the AWS default chain found does not go with its access key (SignatureDoesNotMatch at ${where}); set both`;
    case 'wrong-region':
      return `S3_REGION: ${bucket} is not in region ${storage.region} (${reason}); set S3_REGION to the bucket's region`;
    case 'access-denied':
      return `${keys} or the bucket policy: ${where} refused access to ${bucket} (${reason}); the services need s3:GetObject and s3:PutObject on ${s3Url(storage)}* (and s3:ListBucket on the bucket)`;
    default:
      return `S3_BUCKET: checking ${bucket} at ${where} failed (${reason})`;
  }
}

/**
 * Checks, before the stack starts anything, that the services can use the S3 bucket they are
 * configured with: that the endpoint answers, the bucket exists and the credentials may read and
 * write under the prefix (the probe the services' /readyz uses). What is wrong is a
 * LocalStackError whose one line names the variable(s) to fix, within `timeoutMs`, rather than
 * every service waiting out the readiness timeout with `storage: unavailable`. Credentials
 * without s3:ListBucket pass, with a warning (`onWarning`): the stack runs, but AWS then answers
 * 403 for every missing object.
 */
export async function checkS3Storage(storage: S3StorageConfig, options: { timeoutMs?: number; onWarning?: (line: string) => void } = {}): Promise<void> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  // As for the services the stack starts (local-stack.ts): the SDK would print nine lines saying it
  // will want Node 22 above the one line this check is for. Node 20 is supported here.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  // One try each, short timeouts: this is a question to a person at a terminal, not a service
  // riding out a blip. Warnings (presigning, multipart) do not arise here.
  const store = createBlobStore(storage, { maxAttempts: 1, connectionTimeoutMs: 3_000, socketTimeoutMs: 5_000, onWarning: () => {} });
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new LocalStackError('STORAGE_UNUSABLE', `${storage.endpoint === undefined ? 'S3_REGION' : 'S3_ENDPOINT'}: ${s3Location(storage)} did not answer within ${timeoutMs / 1000} s; check that it is up and reachable from here`)), timeoutMs);
  });
  try {
    await Promise.race([
      probeStore(store, storage.prefix).catch((error: unknown) => {
        throw new LocalStackError('STORAGE_UNUSABLE', problemLine(storage, error));
      }),
      deadline,
    ]);
    const answered = await Promise.race([missingKeysAnswered(store, storage.prefix).catch(() => true), deadline]);
    if (!answered) {
      options.onWarning?.(
        `S3_ACCESS_KEY_ID: these credentials may not s3:ListBucket on bucket "${storage.bucket}", so ${s3Location(storage)} answers 403, not 404, for an object that is not there: ` +
          'every check for one (a referenced image, an earlier run\'s manifest, a first review.json) fails as access denied; grant s3:ListBucket',
      );
    }
  } finally {
    clearTimeout(timer);
    await store.close();
  }
}
