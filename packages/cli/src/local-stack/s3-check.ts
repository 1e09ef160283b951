import { type BlobStore, type S3StorageConfig, createBlobStore, missingKeysAnswered, probeStore, s3Location, storageProblemLine } from '@gradcam/storage';
import { LocalStackError } from './local-stack-error.ts';

export { type S3StorageConfig, s3Location, s3Url } from '@gradcam/storage';

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
        throw new LocalStackError('STORAGE_UNUSABLE', storageProblemLine(storage, error));
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
