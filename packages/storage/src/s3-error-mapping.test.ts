import assert from 'node:assert/strict';
import { test } from 'node:test';
import { S3ServiceException } from '@aws-sdk/client-s3';
import { type S3FailureKind, s3BucketError, s3FailureKind, s3StorageError } from './s3-error-mapping.ts';
import { StorageError, type StorageErrorCode } from './storage-error.ts';

// s3rver answers neither 403 nor 503, so the S3 answers it cannot give are built here, with
// the SDK's own exception class, the way its deserializers build them.
function s3Answer(name: string, status: number): S3ServiceException {
  return new S3ServiceException({ name, $fault: status >= 500 ? 'server' : 'client', $metadata: { httpStatusCode: status }, message: name });
}

function errno(code: string): Error {
  return Object.assign(new Error(`connect ${code}`), { code });
}

const cases: readonly [string, unknown, StorageErrorCode, boolean][] = [
  ['NoSuchKey', s3Answer('NoSuchKey', 404), 'STORAGE_NOT_FOUND', false],
  ['HEAD 404', s3Answer('NotFound', 404), 'STORAGE_NOT_FOUND', false],
  ['NoSuchBucket', s3Answer('NoSuchBucket', 404), 'STORAGE_BUCKET_NOT_FOUND', false],
  ['AccessDenied', s3Answer('AccessDenied', 403), 'STORAGE_ACCESS_DENIED', false],
  ['SignatureDoesNotMatch', s3Answer('SignatureDoesNotMatch', 403), 'STORAGE_ACCESS_DENIED', false],
  ['HEAD 403', s3Answer('Forbidden', 403), 'STORAGE_ACCESS_DENIED', false],
  ['SlowDown', s3Answer('SlowDown', 503), 'STORAGE_UNAVAILABLE', true],
  ['InternalError', s3Answer('InternalError', 500), 'STORAGE_UNAVAILABLE', true],
  ['an unnamed 502', s3Answer('Unknown', 502), 'STORAGE_UNAVAILABLE', true],
  ['RequestTimeout (400)', s3Answer('RequestTimeout', 400), 'STORAGE_UNAVAILABLE', true],
  ['429', s3Answer('TooManyRequests', 429), 'STORAGE_UNAVAILABLE', true],
  ['ECONNREFUSED', errno('ECONNREFUSED'), 'STORAGE_UNAVAILABLE', true],
  ['ECONNRESET', errno('ECONNRESET'), 'STORAGE_UNAVAILABLE', true],
  ['socket timeout', Object.assign(new Error('timed out'), { name: 'TimeoutError' }), 'STORAGE_UNAVAILABLE', true],
  ['localhost refused on ::1 and 127.0.0.1', new AggregateError([errno('ECONNREFUSED'), errno('ECONNREFUSED')]), 'STORAGE_UNAVAILABLE', true],
  ['InvalidArgument', s3Answer('InvalidArgument', 400), 'STORAGE_UNAVAILABLE', false],
  ['a plain bug', new TypeError('x is not a function'), 'STORAGE_UNAVAILABLE', false],
];

for (const [label, error, code, transient] of cases) {
  test(`S3 error mapping: ${label} → ${code}${transient ? ', transient' : ''}`, () => {
    const mapped = s3StorageError(error, 'a/b.json', 'GetObject');
    assert.equal(mapped.code, code);
    assert.equal(mapped.transient, transient);
    assert.equal(mapped.key, 'a/b.json');
    assert.equal(mapped.cause, error);
    assert.match(mapped.message, /^S3 GetObject a\/b\.json failed: /);
  });
}

// What the SDK throws for an answer without a body (every HEAD): named after the status, 'UnknownError'.
function bodiless(status: number): S3ServiceException {
  return new S3ServiceException({ name: status === 404 ? 'NotFound' : 'Unknown', $fault: status >= 500 ? 'server' : 'client', $metadata: { httpStatusCode: status }, message: 'UnknownError' });
}

test('S3 error mapping: an answer without a body (HEAD) is told by its status and code, never as "UnknownError"', () => {
  const denied = s3StorageError(bodiless(403), 'p/readyz', 'HeadObject');
  assert.equal(denied.code, 'STORAGE_ACCESS_DENIED');
  assert.match(denied.message, /^S3 HeadObject p\/readyz failed: 403 access denied \(STORAGE_ACCESS_DENIED; a HEAD answer has no error body to say more: check the credentials and the bucket policy; without s3:ListBucket, AWS answers 403 to a HEAD of a missing key and to HeadBucket\)$/);
  assert.equal(s3StorageError(bodiless(404), 'k', 'HeadObject').message, 'S3 HeadObject k failed: 404 not found (STORAGE_NOT_FOUND)');
  assert.equal(s3StorageError(bodiless(503), 'k', 'HeadObject').message, 'S3 HeadObject k failed: 503 service unavailable (STORAGE_UNAVAILABLE, transient)');
  assert.equal(s3StorageError(bodiless(418), 'k', 'HeadObject').message, 'S3 HeadObject k failed: 418 error (STORAGE_UNAVAILABLE)');
  assert.equal(s3BucketError(bodiless(404), undefined, 'HeadBucket b').message, 'S3 HeadBucket b failed: 404 not found (STORAGE_BUCKET_NOT_FOUND): the bucket does not exist');
  for (const status of [301, 400, 403, 404, 500, 503]) assert.doesNotMatch(s3StorageError(bodiless(status), 'k', 'HeadObject').message, /Unknown/);
  // An answer with a body keeps its own words.
  assert.match(s3StorageError(s3Answer('SignatureDoesNotMatch', 403), 'k', 'PutObject').message, /SignatureDoesNotMatch/);
});

test('s3FailureKind names the setting to fix, through the StorageError (and a StorageError wrapping one)', () => {
  const cases: [unknown, S3FailureKind][] = [
    [errno('ECONNREFUSED'), 'unreachable'],
    [Object.assign(new Error('getaddrinfo ENOTFOUND s3.example'), { code: 'ENOTFOUND' }), 'unreachable'],
    [Object.assign(new Error('timed out'), { name: 'TimeoutError' }), 'timeout'],
    [s3Answer('NoSuchBucket', 404), 'bucket-missing'],
    [Object.assign(new Error('Could not load credentials from any providers'), { name: 'CredentialsProviderError' }), 'no-credentials'],
    [s3Answer('InvalidAccessKeyId', 403), 'unknown-access-key'],
    [s3Answer('SignatureDoesNotMatch', 403), 'wrong-secret'],
    [s3Answer('PermanentRedirect', 301), 'wrong-region'],
    [s3Answer('AuthorizationHeaderMalformed', 400), 'wrong-region'],
    [bodiless(301), 'redirect'],
    [s3Answer('AccessDenied', 403), 'access-denied'],
    [bodiless(403), 'access-denied'],
    [s3Answer('InternalError', 500), 'other'],
  ];
  for (const [error, kind] of cases) {
    const mapped = s3StorageError(error, 'k', 'PutObject');
    assert.equal(s3FailureKind(mapped), kind, mapped.message);
    assert.equal(s3FailureKind(new StorageError('STORAGE_ACCESS_DENIED', 'wrapped', { cause: mapped })), kind, `wrapped: ${mapped.message}`);
  }
  assert.equal(s3FailureKind(s3BucketError(bodiless(404), undefined, 'HeadBucket b')), 'bucket-missing');
});

/** A bodiless answer as the SDK keeps it: the raw response, headers included, on a hidden $response. */
function bodilessWithHeaders(status: number, headers: Record<string, string>): S3ServiceException {
  const error = bodiless(status);
  Object.defineProperty(error, '$response', { value: { statusCode: status, headers, body: undefined }, enumerable: false });
  return error;
}

test('s3FailureKind: TLS failures are tls (a certificate not trusted, expired, for another name, or no TLS at all), never unreachable or other', () => {
  const codes = [
    'DEPTH_ZERO_SELF_SIGNED_CERT',
    'SELF_SIGNED_CERT_IN_CHAIN',
    'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
    'UNABLE_TO_GET_ISSUER_CERT',
    'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
    'CERT_HAS_EXPIRED',
    'ERR_TLS_CERT_ALTNAME_INVALID',
    'EPROTO',
    'ERR_SSL_WRONG_VERSION_NUMBER',
    'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA',
  ];
  for (const code of codes) {
    const mapped = s3StorageError(errno(code), 'k', 'HeadObject');
    assert.equal(s3FailureKind(mapped), 'tls', code);
    assert.equal(s3FailureKind(new StorageError('STORAGE_ACCESS_DENIED', 'wrapped', { cause: mapped })), 'tls', `wrapped: ${code}`);
  }
});

test('s3FailureKind: a bodiless 400 whose x-amz-bucket-region is not the configured region is wrong-region, and its message names the region', () => {
  const elsewhere = s3StorageError(bodilessWithHeaders(400, { 'x-amz-bucket-region': 'eu-west-1' }), 'k', 'HeadObject');
  assert.equal(elsewhere.message, 'S3 HeadObject k failed: 400 bad request (STORAGE_UNAVAILABLE; the bucket is in region eu-west-1)');
  assert.equal(s3FailureKind(elsewhere, { region: 'us-east-1' }), 'wrong-region');
  assert.equal(s3FailureKind(elsewhere), 'wrong-region', 'no region to compare with: the header alone');
  assert.equal(s3FailureKind(elsewhere, { region: 'eu-west-1' }), 'other', 'the bucket\'s own region: some other 400');
  assert.equal(s3FailureKind(s3StorageError(bodiless(400), 'k', 'HeadObject'), { region: 'us-east-1' }), 'other', 'no header');
  assert.equal(s3FailureKind(s3StorageError(bodilessWithHeaders(301, { 'x-amz-bucket-region': 'eu-west-1' }), 'k', 'HeadObject')), 'wrong-region');
});

test('s3FailureKind: a redirect naming no region (http:// sent to https://) is redirect, not wrong-region; its message says where it leads', () => {
  for (const status of [301, 302, 307, 308]) {
    const moved = s3StorageError(bodilessWithHeaders(status, { location: 'https://user:pw@s3.example.internal:9443/b/p/k?X-Amz-Signature=abc' }), 'p/k', 'PutObject');
    assert.match(moved.message, new RegExp(`^S3 PutObject p/k failed: ${status} [a-z() ]+ \\(STORAGE_UNAVAILABLE; to https://s3\\.example\\.internal:9443\\)$`));
    assert.doesNotMatch(moved.message, /region|pw|Signature/);
    assert.equal(s3FailureKind(moved, { region: 'us-east-1' }), 'redirect', moved.message);
  }
  // AWS's 301 for a bucket elsewhere names its region: wrong-region, as before.
  const aws = s3StorageError(bodilessWithHeaders(301, { 'x-amz-bucket-region': 'eu-west-1' }), 'p/k', 'HeadObject');
  assert.equal(aws.message, 'S3 HeadObject p/k failed: 301 moved permanently (STORAGE_UNAVAILABLE; the bucket is in region eu-west-1)');
  assert.equal(s3FailureKind(aws, { region: 'us-east-1' }), 'wrong-region');
});

test('s3FailureKind: ENOTFOUND for <bucket>.<endpoint host> with path style off is needs-path-style; any other name that does not resolve is unreachable', () => {
  const notFound = (hostname: string) => Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND', hostname });
  const settings = { endpoint: 'http://minio.local:9000', bucket: 'b', forcePathStyle: false };
  const kind = (hostname: string, overrides = {}) => s3FailureKind(s3StorageError(notFound(hostname), 'k', 'HeadObject'), { ...settings, ...overrides });
  assert.equal(kind('b.minio.local'), 'needs-path-style');
  assert.equal(kind('B.MINIO.LOCAL'), 'needs-path-style');
  assert.equal(kind('b.minio.local', { forcePathStyle: true }), 'unreachable');
  assert.equal(kind('minio.local'), 'unreachable');
  assert.equal(kind('b.minio.local', { endpoint: undefined }), 'unreachable');
});

test('s3FailureKind: probeStore\'s finding that the answers are not an object store\'s is not-s3', () => {
  const marker = Object.assign(new Error('not an object store: …'), { name: 'NotAnObjectStore' });
  assert.equal(s3FailureKind(new StorageError('STORAGE_UNAVAILABLE', 'read back as 18 bytes', { cause: marker })), 'not-s3');
});
