import {
  type ExplanationManifest,
  type PredictionDocument,
  type ReviewClosing,
  type ReviewDocument,
  type ReviewItem,
  type Verdict,
  explanationManifestSchema,
  keyIn,
  manifestFileName,
  parseS3Uri,
  predictionDocumentSchema,
  predictionFileName,
  reviewDocumentSchema,
  reviewFileName,
} from '@gradcam/contracts';
import type { ReviewPool } from '@gradcam/review-pool';
import type { BlobStore } from '@gradcam/storage';

export interface ReviewPacket {
  readonly item: ReviewItem;
  readonly prediction: PredictionDocument;
  readonly manifest: ExplanationManifest;
  /** Presigned GET URLs: `image` (the input) and each artifact by its path. */
  readonly urls: Record<string, string>;
}

export interface ReviewDeskDeps {
  readonly pool: ReviewPool;
  readonly store: BlobStore;
  readonly leaseMs: number;
  readonly presignSeconds: number;
  readonly onVerdict?: (item: ReviewItem) => void;
}

/**
 * The review rules: what a reviewer is handed with an item (prediction, manifest, links to the
 * image and every overlay), and how a verdict is kept (appended to review.json next to the
 * explanation — history is never overwritten — and recorded in the pool).
 */
export class ReviewDesk {
  constructor(private readonly deps: ReviewDeskDeps) {}

  private async readJson(key: string): Promise<unknown> {
    return JSON.parse((await this.deps.store.get(key)).toString('utf8')) as unknown;
  }

  async packet(item: ReviewItem): Promise<ReviewPacket> {
    const { store, presignSeconds } = this.deps;
    const [prediction, manifest] = await Promise.all([
      this.readJson(keyIn(item.folder, predictionFileName)).then((v) => predictionDocumentSchema.parse(v)),
      this.readJson(keyIn(item.folder, manifestFileName)).then((v) => explanationManifestSchema.parse(v)),
    ]);
    const imageKey = 'key' in prediction.image ? prediction.image.key : parseS3Uri(prediction.image.uri).key;
    const paths = manifest.explanations.flatMap((e) => [e.overlay.path, e.rawMap.path]);
    const entries = await Promise.all([
      store.presignGet(imageKey, presignSeconds).then((url) => ['image', url] as const),
      ...paths.map(async (path) => [path, await store.presignGet(keyIn(item.folder, path), presignSeconds)] as const),
    ]);
    return { item, prediction, manifest, urls: Object.fromEntries(entries) };
  }

  async next(reviewer: string, model: string | undefined): Promise<ReviewPacket | undefined> {
    const item = await this.deps.pool.lease(reviewer, this.deps.leaseMs, model === undefined ? {} : { model });
    return item && this.packet(item);
  }

  /**
   * One verdict per lease, kept in review.json and in the pool alike: the pool marks the item as
   * closing first (atomically, while the lease is held: a second verdict meanwhile gets
   * REVIEW_VERDICT_IN_PROGRESS, and the item is not leased to anyone else even if the lease runs
   * out), then the verdict is appended to review.json under the marker's token (storage first: a
   * verdict the pool has but review.json lacks would be lost evidence), then the pool closes the
   * item for that token. A retry of the same verdict (after a storage or Redis failure) gets the
   * same token, finds its entry and closes the item once.
   */
  async judge(id: string, reviewer: string, verdict: Verdict, comment: string | undefined): Promise<ReviewItem> {
    const begun = await this.deps.pool.beginVerdict(id, reviewer, verdict, comment);
    if (begun.state === 'done') return begun.item;
    await this.appendVerdict(begun.item, begun.item.closing);
    const { item: closed, closedNow } = await this.deps.pool.finishVerdict(id, begun.item.closing.token);
    if (closedNow) this.deps.onVerdict?.(closed);
    return closed;
  }

  /** Appends the verdict to review.json unless an entry with its token is there already (a retry). */
  private async appendVerdict(item: ReviewItem, closing: ReviewClosing): Promise<void> {
    const key = keyIn(item.folder, reviewFileName);
    const previous: ReviewDocument = (await this.deps.store.exists(key))
      ? reviewDocumentSchema.parse(await this.readJson(key))
      : { schemaVersion: 1, inferenceId: item.inferenceId, reviews: [] };
    if (previous.reviews.some((entry) => entry.verdictId === closing.token)) return;
    const entry = {
      verdict: closing.verdict,
      reviewer: closing.reviewer,
      ...(closing.comment === undefined ? {} : { comment: closing.comment }),
      reviewedAt: new Date(closing.at).toISOString(),
      waitedSeconds: Math.max(0, (closing.at - item.sampledAt) / 1000),
      verdictId: closing.token,
    };
    const document: ReviewDocument = { ...previous, reviews: [...previous.reviews, entry] };
    await this.deps.store.put(key, Buffer.from(`${JSON.stringify(document, null, 2)}\n`), { contentType: 'application/json' });
  }
}
