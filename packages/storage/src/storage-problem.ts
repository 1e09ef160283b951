import { type StorageConfig, redactedUrl } from '@gradcam/config';
import { s3FailureKind } from './s3-error-mapping.ts';
import { StorageError } from './storage-error.ts';

export type S3StorageConfig = Extract<StorageConfig, { kind: 's3' }>;

/** Where the bucket is, in words: the endpoint (credentials in it redacted), or AWS's region. */
export function s3Location(storage: S3StorageConfig): string {
  return storage.endpoint === undefined ? `AWS S3 (region ${storage.region})` : redactedUrl(storage.endpoint);
}

/** `s3://bucket/prefix/`, where the services store everything. */
export function s3Url(storage: S3StorageConfig): string {
  return `s3://${storage.bucket}/${storage.prefix === '' ? '' : `${storage.prefix}/`}`;
}

const keys = 'S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY';

/** The store's message less its 'S3 HeadObject <key> failed: ' opening, on one line. */
function reasonOf(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  // OpenSSL's messages (EPROTO) carry newlines; the SDK's timeouts open with the package that raised them.
  return message
    .replace(/^S3 .*? failed: /, '')
    .replace(/^@smithy\/node-http-handler - /, '')
    .replace(/\s+/g, ' ')
    .trim();
}

/** The errno under a filesystem store's StorageError. */
function errnoUnder(error: unknown): string | undefined {
  let source = error;
  while (source instanceof StorageError && source.cause !== undefined) source = source.cause;
  const code = (source as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

function s3ProblemLine(storage: S3StorageConfig, error: unknown): string {
  const where = s3Location(storage);
  const bucket = `bucket "${storage.bucket}"`;
  const reason = reasonOf(error);
  const givenKeys = storage.accessKeyId !== undefined;
  const custom = storage.endpoint !== undefined;
  switch (s3FailureKind(error, storage)) {
    case 'unreachable':
      return custom
        ? `S3_ENDPOINT: ${where} does not answer (${reason}); start that server, or point S3_ENDPOINT at one`
        : `S3_REGION: ${where} does not answer (${reason}); check this machine's network, or set S3_ENDPOINT for an S3-compatible server`;
    case 'timeout':
      // It may have connected (TLS included) and then said nothing: "start that server" would be
      // wrong. Connecting that timed out (dropped packets) reads the same; the reason tells which.
      return custom
        ? `S3_ENDPOINT: ${where} did not answer in time (${reason}); check that S3_ENDPOINT is the S3 server's API address and port, and that the server is reachable from here and not stuck`
        : `S3_REGION: ${where} did not answer in time (${reason}); check this machine's network to AWS (a firewall, a proxy), or set S3_ENDPOINT for an S3-compatible server`;
    case 'tls':
      return custom
        ? `S3_ENDPOINT: TLS to ${where} failed (${reason}); trust its CA with NODE_EXTRA_CA_CERTS, or use http:// if the server speaks plain HTTP`
        : `NODE_EXTRA_CA_CERTS: TLS to ${where} failed (${reason}); something between here and AWS presents a certificate this machine does not trust: trust its CA with NODE_EXTRA_CA_CERTS`;
    case 'needs-path-style':
      return `S3_FORCE_PATH_STYLE: with path style off the bucket is asked for as a subdomain of ${where}, which does not resolve (${reason}); set S3_FORCE_PATH_STYLE=true (MinIO, s3rver and most S3-compatible servers want it)`;
    case 'not-s3':
      return custom
        ? `S3_ENDPOINT: ${where} does not answer as an S3 API (${reason}); point S3_ENDPOINT at the S3 server (its API port), not another web server`
        : `S3_REGION: ${where} does not answer as an S3 API (${reason}); something between here and AWS (AWS_ENDPOINT_URL_S3, a proxy) answers instead`;
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
    case 'redirect':
      return custom
        ? `S3_ENDPOINT: ${where} redirects the check's requests (${reason}); S3 clients follow no redirects: set S3_ENDPOINT to the address they lead to`
        : `S3_REGION: ${where} redirects the request for ${bucket} without naming its region (${reason}); set S3_REGION to the bucket's region, or S3_ENDPOINT to where the redirect leads`;
    case 'access-denied':
      return `${keys} or the bucket policy: ${where} refused access to ${bucket} (${reason}); the services need s3:GetObject and s3:PutObject on ${s3Url(storage)}* (and s3:ListBucket on the bucket)`;
    default:
      // Not a setting this can name (a 5xx, an odd answer): where, and the error itself.
      return `${custom ? 'S3_ENDPOINT: ' : ''}${where} failed the check of ${bucket} (${reason})`;
  }
}

function localProblemLine(dir: string, error: unknown): string {
  const reason = reasonOf(error);
  switch (errnoUnder(error)) {
    case 'EROFS':
      return `GRADCAM_STORAGE_DIR: ${dir} is on a read-only filesystem (${reason}); mount it read-write, or set GRADCAM_STORAGE_DIR to a writable folder`;
    case 'EACCES':
    case 'EPERM':
      return `GRADCAM_STORAGE_DIR: this user may not write in ${dir} (${reason}); give it write access, or set GRADCAM_STORAGE_DIR to a folder it may write`;
    case 'ENOSPC':
    case 'EDQUOT':
      return `GRADCAM_STORAGE_DIR: the filesystem of ${dir} is full (${reason}); free space there (what is stored is the pipeline's data), or grow it`;
    default:
      return `GRADCAM_STORAGE_DIR: the local store in ${dir} cannot be used (${reason})`;
  }
}

/**
 * One line that names the setting to fix (S3_BUCKET, S3_ENDPOINT, GRADCAM_STORAGE_DIR…) for a
 * store that cannot be used, from the StorageError a probe (probeStore) failed with: what the
 * services log and what `npm start` refuses with, so a deployment outside `npm start` is told the
 * same.
 */
export function storageProblemLine(storage: StorageConfig, error: unknown): string {
  return storage.kind === 's3' ? s3ProblemLine(storage, error) : localProblemLine(storage.dir, error);
}

/** What /readyz answers while storage cannot be used: names storage and what is wrong, not the error's own words. */
export function storageNotReadyReason(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  switch (code) {
    case 'STORAGE_BUCKET_NOT_FOUND':
      return 'storage: bucket not found';
    case 'STORAGE_ACCESS_DENIED':
      return 'storage: access denied';
    default:
      return 'storage: unavailable';
  }
}

/** The stable code of a store's failure (STORAGE_UNAVAILABLE when it is not a StorageError). */
export function storageErrorCode(error: unknown): string {
  return error instanceof StorageError ? error.code : 'STORAGE_UNAVAILABLE';
}

/**
 * A service's log line for a /readyz answered 503 with `error` (http-service's NotReadyError): one
 * about storage (its reason `storage: …`) as the line naming the setting to fix, its cause the
 * store's own error.
 */
export function notReadyLine(storage: StorageConfig, error: unknown): string {
  const { message, cause } = (error ?? {}) as { message?: unknown; cause?: unknown };
  return typeof message === 'string' && message.startsWith('storage:') ? `not ready (/readyz answers 503): ${storageUnusableLine(storage, cause)}` : 'not ready (/readyz answers 503)';
}

/**
 * `storage cannot be used (STORAGE_BUCKET_NOT_FOUND): S3_BUCKET: …`: the stable code and the line
 * naming the setting to fix, for a service's log.
 */
export function storageUnusableLine(storage: StorageConfig, error: unknown): string {
  return `storage cannot be used (${storageErrorCode(error)}): ${storageProblemLine(storage, error)}`;
}
