import { StorageError } from './storage-error.ts';

const notFoundNames = new Set(['NoSuchKey', 'NotFound']);
/** The bucket itself is missing (GetObject, PutObject, ListObjects… say so in their XML body). */
const bucketMissingNames = new Set(['NoSuchBucket']);
const deniedNames = new Set([
  'AccessDenied',
  'Forbidden',
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'ExpiredToken',
  'InvalidToken',
  'CredentialsProviderError',
]);
/** S3 error codes and SDK error names that mean "try again later". */
const transientNames = new Set([
  'SlowDown',
  'Throttling',
  'ThrottlingException',
  'RequestThrottled',
  'TooManyRequestsException',
  'RequestTimeout',
  'RequestTimeoutException',
  'TimeoutError',
  'InternalError',
  'ServiceUnavailable',
  'OperationAborted',
]);
/** Errno codes of a connection that failed or broke. */
const networkCodes = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'EAI_AGAIN',
  'ENOTFOUND',
  'EADDRNOTAVAIL',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
]);

interface ErrorFacts {
  readonly name: string | undefined;
  readonly code: string | undefined;
  readonly status: number | undefined;
  readonly retryable: boolean;
}

function field(value: unknown, name: string): unknown {
  return typeof value === 'object' && value !== null && name in value ? (value as Record<string, unknown>)[name] : undefined;
}

function asString(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

function factsOf(error: unknown): ErrorFacts {
  const status = field(field(error, '$metadata'), 'httpStatusCode');
  let code = asString(field(error, 'code')) ?? asString(field(error, 'Code'));
  // Node's happy-eyeballs connect ('localhost' → ::1 and 127.0.0.1) fails with an
  // AggregateError whose members carry the errno.
  if (code === undefined && error instanceof AggregateError) {
    code = error.errors.map((inner: unknown) => asString(field(inner, 'code'))).find((c) => c !== undefined);
  }
  return {
    name: asString(field(error, 'name')),
    code,
    status: typeof status === 'number' ? status : undefined,
    retryable: field(error, '$retryable') !== undefined,
  };
}

/**
 * Turns whatever the AWS SDK threw into a StorageError. Names and status codes are matched,
 * never message text, which the SDK and S3-compatible servers word differently.
 */
export function s3StorageError(error: unknown, key: string | undefined, action: string): StorageError {
  if (error instanceof StorageError) return error;
  const facts = factsOf(error);
  const label = [facts.name, facts.code, facts.status].filter((part) => part !== undefined).join(' ');
  const detail = error instanceof Error && error.message !== '' ? error.message : label || String(error);
  const message = `S3 ${action}${key === undefined ? '' : ` ${key}`} failed: ${detail}${label && !detail.includes(label) ? ` (${label})` : ''}`;
  const options = { key, cause: error };
  const is = (names: ReadonlySet<string>): boolean =>
    (facts.name !== undefined && names.has(facts.name)) || (facts.code !== undefined && names.has(facts.code));

  // Checked first: a missing bucket is a 404 too, and must never read as "no such object".
  if (is(bucketMissingNames)) return new StorageError('STORAGE_BUCKET_NOT_FOUND', message, options);
  if (is(notFoundNames) || facts.status === 404) return new StorageError('STORAGE_NOT_FOUND', message, options);
  if (is(deniedNames) || facts.status === 403 || facts.status === 401) {
    return new StorageError('STORAGE_ACCESS_DENIED', message, options);
  }
  const transient =
    is(transientNames) ||
    is(networkCodes) ||
    facts.retryable ||
    facts.status === 429 ||
    (facts.status !== undefined && facts.status >= 500);
  return new StorageError('STORAGE_UNAVAILABLE', message, { ...options, transient });
}

/**
 * For requests about the bucket itself (HeadBucket): a 404 there, which has no body to name it,
 * means the bucket is missing.
 */
export function s3BucketError(error: unknown, key: string | undefined, action: string): StorageError {
  const mapped = s3StorageError(error, key, action);
  if (mapped.code !== 'STORAGE_NOT_FOUND') return mapped;
  return new StorageError('STORAGE_BUCKET_NOT_FOUND', `${mapped.message}: the bucket does not exist`, { key, cause: error });
}
