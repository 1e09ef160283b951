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
  /** AWS's x-amz-bucket-region header on the answer: where the bucket really is. */
  readonly bucketRegion: string | undefined;
  /** A redirect's Location header. */
  readonly location: string | undefined;
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
  // The SDK keeps the raw answer, headers and all, on its error as a hidden $response.
  const headers = field(field(error, '$response'), 'headers');
  return {
    name: asString(field(error, 'name')),
    code,
    status: typeof status === 'number' ? status : undefined,
    retryable: field(error, '$retryable') !== undefined,
    bucketRegion: asString(field(headers, 'x-amz-bucket-region')),
    location: asString(field(headers, 'location')),
  };
}

/** What an HTTP status means, for answers that carry no error body to say it themselves. */
const statusMeanings: Readonly<Record<number, string>> = {
  // AWS's redirect to the bucket's region carries x-amz-bucket-region (said after); others are
  // a server sending the client elsewhere (http:// to https://), which the SDK does not follow.
  301: 'moved permanently',
  302: 'found (a redirect)',
  307: 'temporary redirect',
  308: 'permanent redirect',
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

const isRedirect = (status: number | undefined): boolean => status !== undefined && status >= 300 && status < 400;

/** Where a Location header points, without its path and query (a presigned URL's signature), nor user info. */
function originOf(location: string): string {
  try {
    const url = new URL(location);
    return url.origin === 'null' ? JSON.stringify(location.slice(0, 60)) : url.origin;
  } catch {
    return JSON.stringify(location.slice(0, 60));
  }
}

function describe(error: unknown, facts: ErrorFacts, code: StorageErrorCode, transient: boolean): string {
  if (isBodiless(error, facts)) {
    const status = facts.status as number;
    const meaning = statusMeanings[status] ?? 'error';
    const hint = bodilessHints[code];
    // AWS's answer to a request signed for another region than the bucket's: a HEAD's 400 or 301
    // says nothing but this header.
    const region = facts.bucketRegion !== undefined && (isRedirect(status) || status === 400) ? `; the bucket is in region ${facts.bucketRegion}` : '';
    const target = isRedirect(status) && facts.location !== undefined ? `; to ${originOf(facts.location)}` : '';
    return `${status} ${meaning} (${code}${transient ? ', transient' : ''}${hint ? `; ${hint}` : ''}${region}${target})`;
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
  /** No answer: connection refused or reset, no such host, no route. */
  | 'unreachable'
  /**
   * The SDK gave up waiting (TimeoutError): no connection within its connect timeout (packets
   * dropped), or a connection (TLS handshake done, even) on which no answer came in time: a
   * server that accepts but is stuck, or is not the S3 API. Not a server that is down.
   */
  | 'timeout'
  /** TLS to an https endpoint failed: a certificate this machine does not trust, or not TLS at all. */
  | 'tls'
  /**
   * `<bucket>.<endpoint host>` does not resolve: path style is off (S3_FORCE_PATH_STYLE=false), so
   * the SDK asks for the bucket as a subdomain of a custom endpoint, which most S3-compatible
   * servers are not set up to answer.
   */
  | 'needs-path-style'
  /** Something answers, but not as an S3 API does (probeStore's `readBack` found it out). */
  | 'not-s3'
  /** The bucket does not exist. */
  | 'bucket-missing'
  /** No credentials were given and the SDK's default chain found none. */
  | 'no-credentials'
  /** The server does not know the access key id (InvalidAccessKeyId). */
  | 'unknown-access-key'
  /** The secret key does not go with the access key id (SignatureDoesNotMatch). */
  | 'wrong-secret'
  /**
   * The bucket is in another region than the client's (PermanentRedirect, a malformed
   * authorization, a bodiless 301 or 400 whose x-amz-bucket-region is not the configured region).
   */
  | 'wrong-region'
  /**
   * The endpoint redirects (3xx) without naming a region: a server sending http:// to https://,
   * or to another host. The SDK follows no redirects; the endpoint must be where they lead.
   */
  | 'redirect'
  /** Refused for any other reason: the policy, an expired token, or a bodiless 403. */
  | 'access-denied'
  | 'other';

/** The settings the failed request was made with, as far as the caller knows them. */
export interface S3FailureSettings {
  readonly region?: string | undefined;
  readonly endpoint?: string | undefined;
  readonly bucket?: string | undefined;
  readonly forcePathStyle?: boolean | undefined;
}

const wrongRegionNames = new Set(['PermanentRedirect', 'AuthorizationHeaderMalformed', 'IllegalLocationConstraintException']);

/**
 * Node's (OpenSSL's) codes for a TLS handshake that failed: a certificate not trusted, expired or
 * for another name, or an answer that is not TLS (EPROTO, ERR_SSL_WRONG_VERSION_NUMBER: an
 * https:// endpoint on a plain-HTTP server). Any ERR_SSL_* code counts too.
 */
const tlsCodes = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
  'CERT_SIGNATURE_FAILURE',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_REVOKED',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'INVALID_CA',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'ERR_TLS_HANDSHAKE_TIMEOUT',
  'EPROTO',
]);

/**
 * The `name` of the error probeStore's `readBack` puts under its StorageError when the answers it
 * got are not an object store's (a web server answering 200, or 404, to everything).
 */
export const notAnObjectStoreName = 'NotAnObjectStore';

/** The names the SDK gives an error answer whose body named no S3 error (or was not XML at all). */
const unnamedAnswerNames = new Set(['Unknown', 'UnknownError', 'NotFound', 'Error']);

/**
 * The status of a 4xx answer that no S3 error explains, from the SDK's error (under any
 * StorageErrors); undefined for anything else. S3 APIs (AWS, MinIO, s3rver…) say why they refuse
 * a PUT or GET in an XML body (<Code>AccessDenied</Code>, NoSuchBucket…), so a bare 401, 403 or
 * 404 to one, or an HTML page, comes from something else: a web server, or a proxy answering for
 * the store. Only for requests whose answers have bodies: a HEAD's never does.
 */
export function unexplainedRefusal(error: unknown): number | undefined {
  let source = error;
  while (source instanceof StorageError && source.cause !== undefined) source = source.cause;
  const facts = factsOf(source);
  if (facts.status === undefined || facts.status < 400 || facts.status >= 500) return undefined;
  if (asString(field(source, 'Code')) !== undefined) return undefined;
  if (facts.name !== undefined && !unnamedAnswerNames.has(facts.name)) return undefined;
  // AWS's own header: where the bucket is (its bodiless 400 to a request for another region).
  if (facts.bucketRegion !== undefined) return undefined;
  return facts.status;
}

/** Whether the host that failed DNS is the bucket's virtual-hosted name under a custom endpoint. */
function isBucketSubdomain(source: unknown, facts: ErrorFacts, settings: S3FailureSettings): boolean {
  if (facts.code !== 'ENOTFOUND' || settings.forcePathStyle !== false) return false;
  if (settings.endpoint === undefined || settings.bucket === undefined) return false;
  const host = asString(field(source, 'hostname'));
  let endpointHost: string;
  try {
    endpointHost = new URL(settings.endpoint).hostname;
  } catch {
    return false;
  }
  return host !== undefined && host.toLowerCase() === `${settings.bucket}.${endpointHost}`.toLowerCase();
}

/**
 * The kind of failure behind an S3 store's StorageError (or an SDK error). `settings` (the store's
 * region, endpoint, bucket and path style) lets it tell a bucket in another region from any other
 * bodiless 400, and a bucket subdomain that does not resolve from an endpoint that does not.
 */
export function s3FailureKind(error: unknown, settings: S3FailureSettings = {}): S3FailureKind {
  if (isStorageError(error, 'STORAGE_BUCKET_NOT_FOUND')) return 'bucket-missing';
  // The SDK's own error: probeStore can wrap a StorageError in another.
  let source = error;
  while (source instanceof StorageError && source.cause !== undefined) source = source.cause;
  const facts = factsOf(source);
  const is = (names: ReadonlySet<string>): boolean =>
    (facts.name !== undefined && names.has(facts.name)) || (facts.code !== undefined && names.has(facts.code));
  if (facts.name === notAnObjectStoreName) return 'not-s3';
  if (facts.name === 'CredentialsProviderError') return 'no-credentials';
  if (facts.name === 'InvalidAccessKeyId' || facts.code === 'InvalidAccessKeyId') return 'unknown-access-key';
  if (facts.name === 'SignatureDoesNotMatch' || facts.code === 'SignatureDoesNotMatch') return 'wrong-secret';
  if (is(wrongRegionNames)) return 'wrong-region';
  // AWS's 301 for a bucket in another region says where it is; any other redirect is the
  // endpoint's (http:// sent to https://), not the region's.
  if (isRedirect(facts.status)) return facts.bucketRegion !== undefined && facts.bucketRegion !== settings.region ? 'wrong-region' : 'redirect';
  // A HEAD signed for the wrong region: AWS answers 400 with no body, only the bucket's region.
  if (facts.status === 400 && facts.bucketRegion !== undefined && facts.bucketRegion !== settings.region && isBodiless(source, facts)) return 'wrong-region';
  const { code } = classify(facts);
  if (code === 'STORAGE_BUCKET_NOT_FOUND') return 'bucket-missing';
  if (code === 'STORAGE_ACCESS_DENIED') return 'access-denied';
  if (facts.status === undefined && facts.code !== undefined && (tlsCodes.has(facts.code) || facts.code.startsWith('ERR_SSL_'))) return 'tls';
  if (facts.status === undefined && isBucketSubdomain(source, facts, settings)) return 'needs-path-style';
  if (facts.status === undefined && facts.name === 'TimeoutError') return 'timeout';
  if (facts.status === undefined && is(networkCodes)) return 'unreachable';
  return 'other';
}
