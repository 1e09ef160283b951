import {
  type ExplanationManifest,
  type PredictionDocument,
  type ServedAs,
  artifactServedAs,
  explanationManifestSchema,
  imageServedAs,
  keyIn,
  manifestArtifacts,
  manifestFileName,
  parseS3Uri,
  predictionDocumentSchema,
  predictionFileName,
} from '@gradcam/contracts';
import { parseFailedReason } from '@gradcam/queue';
import { ApiError } from '@gradcam/http-service';
import { presignedUntil } from '@gradcam/storage';
import type { InferenceIndex } from './inference-index.ts';

export type JobState = 'waiting' | 'delayed' | 'prioritized' | 'waiting-children' | 'paused' | 'active' | 'completed' | 'failed' | 'unknown';

export interface StatusDeps {
  readonly index: InferenceIndex;
  /** BullMQ's view of the job (its id is the inference id); undefined once retention removed it. */
  readonly jobState: (id: string) => Promise<{ state: JobState; failedReason?: string; attempts: number } | undefined>;
  readonly readJson: (key: string) => Promise<unknown>;
  readonly exists: (key: string) => Promise<boolean>;
  /** A presigned GET whose answer says `served`'s content type and disposition, whatever the object was stored with. */
  readonly presign: (key: string, served: ServedAs) => Promise<string>;
  /** How long the links `presign` makes last (GRADCAM_PRESIGN_SECONDS). */
  readonly presignSeconds: number;
}

export interface InferenceStatus {
  readonly id: string;
  readonly status: 'queued' | 'processing' | 'done' | 'failed' | 'skipped';
  readonly folder: string;
  readonly capture: PredictionDocument['capture'] | undefined;
  readonly attempts?: number;
  readonly failure?: { code: string; message: string };
  readonly manifest?: ExplanationManifest;
  /**
   * Presigned GET URLs, by path relative to the folder (`input.jpg` for an image sent inline), and
   * for an image sent by reference, by its `s3://` URI as sent: it lies outside the folder.
   */
  readonly urls?: Record<string, string>;
  /** When `urls` stop working, at the earliest (ISO 8601; temporary S3 credentials may end them sooner): GET the status again for fresh ones. */
  readonly urlsExpireAt?: string;
}

export async function inferenceStatus(deps: StatusDeps, id: string): Promise<InferenceStatus> {
  const entry = await deps.index.get(id);
  if (!entry) throw new ApiError(404, 'INFERENCE_NOT_FOUND', `no inference "${id}" was accepted (or its record expired)`);
  const base = { id, folder: entry.folder };
  const prediction = predictionDocumentSchema.safeParse(await deps.readJson(keyIn(entry.folder, predictionFileName)).catch(() => undefined));
  const capture = prediction.success ? prediction.data.capture : undefined;
  if (!entry.explain) return { ...base, status: 'skipped', capture };

  const job = await deps.jobState(id);
  if (job?.state === 'failed') return { ...base, status: 'failed', capture, attempts: job.attempts, failure: parseFailedReason(job.failedReason) };
  const manifestKey = keyIn(entry.folder, manifestFileName);
  if (job?.state === 'completed' || (job === undefined && (await deps.exists(manifestKey)))) {
    const manifest = explanationManifestSchema.parse(await deps.readJson(manifestKey));
    // Each link says what the pipeline knows its object to be, not the type it was stored with: a
    // referenced image is the client's upload, whose stored type is whatever the client said.
    const files: (readonly [path: string, served: ServedAs])[] = [
      [manifestFileName, artifactServedAs.json],
      [predictionFileName, artifactServedAs.json],
      ...manifestArtifacts(manifest),
    ];
    const links: (readonly [name: string, key: string, served: ServedAs])[] = files.map(([path, served]) => [path, keyIn(entry.folder, path), served]);
    const image = imageServedAs(manifest.input.format);
    const referenced = prediction.success && 'uri' in prediction.data.image ? referencedKey(prediction.data.image.uri) : undefined;
    if (prediction.success && 'key' in prediction.data.image) links.push([prediction.data.image.key.slice(entry.folder.length), prediction.data.image.key, image]);
    else if (referenced !== undefined) links.push([...referenced, image]);
    // Taken before the links are signed: none of them expires sooner.
    const urlsExpireAt = presignedUntil(deps.presignSeconds).toISOString();
    const urls = Object.fromEntries(await Promise.all(links.map(async ([name, key, served]) => [name, await deps.presign(key, served)] as const)));
    return { ...base, status: 'done', capture, manifest, urls, urlsExpireAt };
  }
  if (job === undefined) return { ...base, status: 'failed', capture, failure: { code: 'JOB_RECORD_EXPIRED', message: 'the job record expired before an explanation was stored' } };
  return { ...base, status: job.state === 'active' ? 'processing' : 'queued', capture, attempts: job.attempts };
}

/**
 * The link to an image sent by reference: named by its URI, its key in the store (ingest accepted
 * only URIs of the store's own bucket). None for a URI that does not parse (it was accepted by
 * another version): the status stands without that one link.
 */
function referencedKey(uri: string): readonly [name: string, key: string] | undefined {
  try {
    return [uri, parseS3Uri(uri).key];
  } catch {
    return undefined;
  }
}
