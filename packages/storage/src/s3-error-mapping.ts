import { isStorageError, StorageError, type StorageErrorCode } from './storage-error.ts';

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

/** What an HTTP status means, for answers that carry no error body to say it themselves. */
const statusMeanings: Readonly<Record<number, string>> = {
  301: 'moved permanently (the bucket is in another region than the client\'s)',
  400: 'bad request',
  401: 'unauthorized',
  403: 'access denied',
  404: 'not found',
  405: 'method not allowed',
  409: 'conflict',
  412: 'precondition failed',
  429: 'too many requests',
  500: 'internal server error',
  502: 'bad gateway',
  503: 'service unavailable',
  504: 'gateway timeout',
};

/** What to check, for codes whose bodiless answer leaves the operator guessing. */
const bodilessHints: Partial<Record<StorageErrorCode, string>> = {
  STORAGE_ACCESS_DENIED:
    'a HEAD answer has no error body to say more: check the credentials and the bucket policy; without s3:ListBucket, AWS answers 403 to a HEAD of a missing key and to HeadBucket',
};

/**
 * S3 answers HEAD requests (HeadObject, HeadBucket) without a body, so the SDK has no error code or
 * message to give: its error is named after the status ('NotFound', else 'Unknown') and says
 * 'UnknownError'. Such an error is described by its status instead.
 */
function isBodiless(error: unknown, facts: ErrorFacts): boolean {
  return facts.status !== undefined && error instanceof Error && (error.message === '' || error.message === 'UnknownError');
}

function describe(error: unknown, facts: ErrorFacts, code: StorageErrorCode, transient: boolean): string {
  if (isBodiless(error, facts)) {
    const status = facts.status as number;
    const meaning = statusMeanings[status] ?? 'error';
    const hint = bodilessHints[code];
    return `${status} ${meaning} (${code}${transient ? ', transient' : ''}${hint ? `; ${hint}` : ''})`;
  }
  const label = [facts.name, facts.code, facts.status].filter((part) => part !== undefined).join(' ');
  const detail = error instanceof Error && error.message !== '' ? error.message : label || String(error);
  return `${detail}${label && !detail.includes(label) ? ` (${label})` : ''}`;
}

function classify(facts: ErrorFacts): { code: StorageErrorCode; transient: boolean } {
  const is = (names: ReadonlySet<string>): boolean =>
    (facts.name !== undefined && names.has(facts.name)) || (facts.code !== undefined && names.has(facts.code));
  // Checked first: a missing bucket is a 404 too, and must never read as "no such object".
  if (is(bucketMissingNames)) return { code: 'STORAGE_BUCKET_NOT_FOUND', transient: false };
  if (is(notFoundNames) || facts.status === 404) return { code: 'STORAGE_NOT_FOUND', transient: false };
  if (is(deniedNames) || facts.status === 403 || facts.status === 401) return { code: 'STORAGE_ACCESS_DENIED', transient: false };
  const transient =
    is(transientNames) ||
    is(networkCodes) ||
    facts.retryable ||
    facts.status === 429 ||
    (facts.status !== undefined && facts.status >= 500);
  return { code: 'STORAGE_UNAVAILABLE', transient };
}

const failed = (action: string, key: string | undefined, detail: string) => `S3 ${action}${key === undefined ? '' : ` ${key}`} failed: ${detail}`;

/**
 * Turns whatever the AWS SDK threw into a StorageError. Names and status codes are matched,
 * never message text, which the SDK and S3-compatible servers word differently.
 */
export function s3StorageError(error: unknown, key: string | undefined, action: string): StorageError {
  if (error instanceof StorageError) return error;
  const facts = factsOf(error);
  const { code, transient } = classify(facts);
  return new StorageError(code, failed(action, key, describe(error, facts, code, transient)), { key, cause: error, transient });
}

/**
 * For requests about the bucket itself (HeadBucket): a 404 there, which has no body to name it,
 * means the bucket is missing.
 */
export function s3BucketError(error: unknown, key: string | undefined, action: string): StorageError {
  const mapped = s3StorageError(error, key, action);
  if (mapped.code !== 'STORAGE_NOT_FOUND') return mapped;
  const detail = `${describe(error, factsOf(error), 'STORAGE_BUCKET_NOT_FOUND', false)}: the bucket does not exist`;
  return new StorageError('STORAGE_BUCKET_NOT_FOUND', failed(action, key, detail), { key, cause: error });
}

/**
 * Why an S3 request failed, in the terms of the setting that fixes it: for a check that tells a
 * person setting up a deployment what to change (`npm start` before it starts the services).
 */
export type S3FailureKind =
  /** No answer: connection refused or reset, no such host, a timeout. */
  | 'unreachable'
  /** The bucket does not exist. */
  | 'bucket-missing'
  /** No credentials were given and the SDK's default chain found none. */
  | 'no-credentials'
  /** The server does not know the access key id (InvalidAccessKeyId). */
  | 'unknown-access-key'
  /** The secret key does not go with the access key id (SignatureDoesNotMatch). */
  | 'wrong-secret'
  /** The bucket is in another region than the client's (a redirect, a malformed authorization). */
  | 'wrong-region'
  /** Refused for any other reason: the policy, an expired token, or a bodiless 403. */
  | 'access-denied'
  | 'other';

const wrongRegionNames = new Set(['PermanentRedirect', 'AuthorizationHeaderMalformed', 'IllegalLocationConstraintException']);

/** The kind of failure behind an S3 store's StorageError (or an SDK error). */
export function s3FailureKind(error: unknown): S3FailureKind {
  if (isStorageError(error, 'STORAGE_BUCKET_NOT_FOUND')) return 'bucket-missing';
  // The SDK's own error: probeStore can wrap a StorageError in another.
  let source = error;
  while (source instanceof StorageError && source.cause !== undefined) source = source.cause;
  const facts = factsOf(source);
  const is = (names: ReadonlySet<string>): boolean =>
    (facts.name !== undefined && names.has(facts.name)) || (facts.code !== undefined && names.has(facts.code));
  if (facts.name === 'CredentialsProviderError') return 'no-credentials';
  if (facts.name === 'InvalidAccessKeyId' || facts.code === 'InvalidAccessKeyId') return 'unknown-access-key';
  if (facts.name === 'SignatureDoesNotMatch' || facts.code === 'SignatureDoesNotMatch') return 'wrong-secret';
  if (is(wrongRegionNames) || facts.status === 301) return 'wrong-region';
  const { code } = classify(facts);
  if (code === 'STORAGE_BUCKET_NOT_FOUND') return 'bucket-missing';
  if (code === 'STORAGE_ACCESS_DENIED') return 'access-denied';
  if (facts.status === undefined && (is(networkCodes) || facts.name === 'TimeoutError')) return 'unreachable';
  return 'other';
}
