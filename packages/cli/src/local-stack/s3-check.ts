import { type StorageConfig, redactedUrl } from '@gradcam/config';
import { type BlobStore, createBlobStore, missingKeysAnswered, probeStore, s3FailureKind } from '@gradcam/storage';
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
  // The store's message less its 'S3 HeadObject <key> failed: ' opening: the line says what was
  // asked. On one line: OpenSSL's messages (EPROTO) carry newlines.
  const message = error instanceof Error ? error.message : String(error);
  // The SDK's timeouts open with the package that raised them: no help to the reader.
  const reason = message
    .replace(/^S3 .*? failed: /, '')
    .replace(/^@smithy\/node-http-handler - /, '')
    .replace(/\s+/g, ' ')
    .trim();
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
      // Not a setting this check can name (a 5xx, an odd answer): where, and the error itself.
      return `${custom ? 'S3_ENDPOINT: ' : ''}${where} failed the check of ${bucket} (${reason})`;
  }
}

/** How far the check got: the store calls that answered, and when the last one did. */
interface Progress {
  answered: number;
  lastAnswerMs: number;
}

/**
 * The store, counting its calls that answered (a result or an error), so that a check past its
 * deadline can tell a slow endpoint from a silent one.
 */
function counted(store: BlobStore, progress: Progress, started: number): BlobStore {
  return new Proxy(store, {
    get(target, name, receiver) {
      const value: unknown = Reflect.get(target, name, receiver);
      if (typeof value !== 'function' || name === 'close') return value;
      const method = value as (...args: unknown[]) => unknown;
      return (...args: unknown[]): unknown => {
        const result = method.apply(target, args);
        if (!(result instanceof Promise)) return result;
        const note = () => {
          progress.answered += 1;
          progress.lastAnswerMs = Date.now() - started;
        };
        void result.then(note, note);
        return result;
      };
    },
  });
}

/**
 * The check ran past its deadline. Each request has its own timeouts (3 s to connect, 5 s of
 * silence), so this is an endpoint that answers, each time slowly, or one that trickles.
 */
function deadlineLine(storage: S3StorageConfig, timeoutMs: number, progress: Progress): string {
  const variable = storage.endpoint === undefined ? 'S3_REGION' : 'S3_ENDPOINT';
  const where = s3Location(storage);
  const within = `${timeoutMs / 1000} s`;
  if (progress.answered === 0) return `${variable}: ${where} did not answer within ${within}; check that it is up and reachable from here`;
  const after = `${(progress.lastAnswerMs / 1000).toFixed(1)} s`;
  const steps = progress.answered === 1 ? `its first step answered after ${after}` : `its first ${progress.answered} steps answered, in ${after}`;
  return `${variable}: ${where} answers, but too slowly: the check did not finish within ${within} (${steps}); check the server's load and the network to it`;
}

/**
 * Checks, before the stack starts anything, that the services can use the S3 bucket they are
 * configured with: that the endpoint answers as an S3 API (the probe the services' /readyz HEAD,
 * written and read back here: a web server answering 200 or 404 to everything is not one), the
 * bucket exists and the credentials may read and write under the prefix (write every time, as the
 * worker does: a probe already there says nothing about s3:PutObject). What is wrong is a
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
  const s3Store = createBlobStore(storage, { maxAttempts: 1, connectionTimeoutMs: 3_000, socketTimeoutMs: 5_000, onWarning: () => {} });
  const progress: Progress = { answered: 0, lastAnswerMs: 0 };
  const store = counted(s3Store, progress, Date.now());
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new LocalStackError('STORAGE_UNUSABLE', deadlineLine(storage, timeoutMs, progress))), timeoutMs);
  });
  try {
    await Promise.race([
      // write: the worker's probe PUTs every time, so credentials that may read but not write
      // (no s3:PutObject) must fail here, not pass on a probe an earlier run left and then keep
      // the worker unready until the stack's readiness timeout. readBack: a web server that is
      // not S3 must not pass (200 to everything) or read as a missing bucket (404 to everything).
      // The services' /readyz do without it.
      probeStore(store, storage.prefix, { write: true, readBack: true }).catch((error: unknown) => {
        throw new LocalStackError('STORAGE_UNUSABLE', problemLine(storage, error));
      }),
      deadline,
    ]);
    const answered = await Promise.race([missingKeysAnswered(store, storage.prefix).catch(() => true), deadline]);
    if (!answered) {
      options.onWarning?.(
        `S3_ACCESS_KEY_ID: these credentials may not s3:ListBucket on bucket "${storage.bucket}", so ${s3Location(storage)} answers 403, not 404, for an object that is not there: ` +
          'every check for one (a referenced image, a first review.json) fails as access denied; grant s3:ListBucket',
      );
    }
  } finally {
    clearTimeout(timer);
    await s3Store.close();
  }
}
