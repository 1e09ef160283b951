import {
  type ExplanationManifest,
  type PredictionDocument,
  type ReviewClosing,
  type ReviewDocument,
  type ReviewItem,
  type ReviewRetraction,
  type ReviewShown,
  type ServedAs,
  type Verdict,
  bytesServedAs,
  explanationManifestSchema,
  imageServedAs,
  keyIn,
  manifestArtifacts,
  manifestFileName,
  parseS3Uri,
  predictionDocumentSchema,
  predictionFileName,
  reviewDocumentSchema,
  reviewFileName,
} from '@gradcam/contracts';
import { type BegunVerdict, type ReviewPool, ReviewPoolError } from '@gradcam/review-pool';
import { type BlobStore, isStorageError, presignedUntil } from '@gradcam/storage';
import type { z } from 'zod';
import { ReviewDeskError } from './review-desk-error.ts';
import { type EvidenceFile, evidenceProblem } from './stored-evidence.ts';

export interface ReviewPacket {
  readonly item: ReviewItem;
  readonly prediction: PredictionDocument;
  readonly manifest: ExplanationManifest;
  /** Presigned GET URLs: `image` (the input) and each artifact by its path; each was there when the packet was built. */
  readonly urls: Record<string, string>;
  /** When `urls` stop working, at the earliest (ISO 8601): the item leased again (Load again) has fresh ones. */
  readonly urlsExpireAt: string;
}

export interface ReviewDeskDeps {
  readonly pool: ReviewPool;
  readonly store: BlobStore;
  readonly leaseMs: number;
  /** How long after a verdict its reviewer may take it back (0: never). */
  readonly undoMs: number;
  readonly presignSeconds: number;
  readonly onVerdict?: (item: ReviewItem) => void;
  /** A verdict taken back: the item as it was reviewed (model, class, the verdict undone). */
  readonly onUndo?: (reviewed: ReviewItem) => void;
  /** An item set aside because its stored files cannot be shown (for the log). */
  readonly onBrokenItem?: (item: ReviewItem, reason: string) => void;
}

const brokenItem = (item: ReviewItem, reason: string) =>
  new ReviewDeskError(
    'REVIEW_ITEM_BROKEN',
    `item "${item.inferenceId}" cannot be shown: ${reason}. It was set aside (status "broken") and will not be handed out again; ask for the next item`,
    reason,
  );

/**
 * The review rules: what a reviewer is handed with an item (prediction, manifest, links to the
 * image and every overlay), and how a verdict is kept (appended to review.json next to the
 * explanation — history is never overwritten — and recorded in the pool).
 */
export class ReviewDesk {
  private readonly deps: ReviewDeskDeps;

  constructor(deps: ReviewDeskDeps) {
    this.deps = deps;
  }

  /**
   * A stored JSON file of the item, checked against its schema. A file that is missing (unless
   * `optional`), not JSON or not valid is the item's fault, not the store's: `fault(reason)`, a
   * reason naming the file (never a storage path). The store being unreachable stays a StorageError.
   */
  private async readStored<T>(item: ReviewItem, fileName: string, schema: z.ZodType<T>, fault: (reason: string) => Error, optional = false): Promise<T | undefined> {
    let text: string;
    try {
      text = (await this.deps.store.get(keyIn(item.folder, fileName))).toString('utf8');
    } catch (error) {
      if (isStorageError(error, 'STORAGE_NOT_FOUND')) {
        if (optional) return undefined;
        throw fault(`${fileName} is missing`);
      }
      if (isStorageError(error, 'STORAGE_TOO_LARGE') || isStorageError(error, 'STORAGE_INVALID_KEY')) throw fault(`${fileName} cannot be read (${error.code})`);
      throw error;
    }
    let value: unknown;
    try {
      value = JSON.parse(text) as unknown;
    } catch {
      throw fault(`${fileName} is not JSON`);
    }
    const parsed = schema.safeParse(value);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw fault(`${fileName} fails its schema (${issue?.path.join('.') || 'document'}: ${issue?.message ?? 'invalid'})`);
    }
    return parsed.data;
  }

  private async readShown<T>(item: ReviewItem, fileName: string, schema: z.ZodType<T>): Promise<T> {
    return (await this.readStored(item, fileName, schema, (reason) => brokenItem(item, reason))) as T;
  }

  async packet(item: ReviewItem): Promise<ReviewPacket> {
    const { store, presignSeconds } = this.deps;
    // Read together, reported in a fixed order: with both files bad, the reason always names
    // prediction.json (whichever read failed first would make it vary).
    const [predictionRead, manifestRead] = await Promise.allSettled([
      this.readShown(item, predictionFileName, predictionDocumentSchema),
      this.readShown(item, manifestFileName, explanationManifestSchema),
    ]);
    if (predictionRead.status === 'rejected') throw predictionRead.reason;
    if (manifestRead.status === 'rejected') throw manifestRead.reason;
    const [prediction, manifest] = [predictionRead.value, manifestRead.value];
    let imageKey: string;
    try {
      imageKey = 'key' in prediction.image ? prediction.image.key : parseS3Uri(prediction.image.uri).key;
    } catch {
      throw brokenItem(item, `${predictionFileName} names no image this service can link to`);
    }
    // Everything the packet links to is HEADed while the links are signed (signing never looks at
    // the object): the input and the overlays the page shows (and the input's preview, which it
    // shows instead where there is one), and the raw maps, linked for download, which are the maps
    // a verdict is kept against: a missing one is lost evidence too.
    // Each link says what the pipeline knows its object to be (the image's format as the worker
    // decoded it, overlays JPEG, maps plain bytes to save), not the type it was stored with: a
    // referenced image is the client's upload, stored with whatever type the client said.
    const servedAs = new Map<string, ServedAs>(manifestArtifacts(manifest));
    const paths = [...servedAs.keys()];
    const links = [['image', imageKey, imageServedAs(manifest.input.format)], ...paths.map((path) => [path, keyIn(item.folder, path), servedAs.get(path) ?? bytesServedAs] as const)] as const;
    const files: EvidenceFile[] = [{ name: 'the input image', key: imageKey, bytes: manifest.input.bytes, sha256: manifest.input.sha256 }, ...paths.map((path) => ({ name: path, key: keyIn(item.folder, path) }))];
    // Taken before the links are signed: none of them expires sooner.
    const urlsExpireAt = presignedUntil(presignSeconds).toISOString();
    const [checked, signed] = await Promise.allSettled([
      evidenceProblem(store, files),
      Promise.all(links.map(async ([name, key, served]) => [name, await store.presignGet(key, presignSeconds, served)] as const)),
    ]);
    // The check decides first: it names the first bad file in a fixed order, an invalid key included.
    if (checked.status === 'rejected') throw checked.reason;
    if (checked.value !== undefined) throw brokenItem(item, checked.value);
    if (signed.status === 'rejected') throw signed.reason;
    return { item, prediction, manifest, urls: Object.fromEntries(signed.value), urlsExpireAt };
  }

  /**
   * Leases the next item and builds what the reviewer is shown. An item whose stored files are
   * missing or invalid is set aside (status `broken`, never handed out again) and answered
   * REVIEW_ITEM_BROKEN; when storage cannot be reached the item goes back to the pool at once.
   */
  async next(reviewer: string, model: string | undefined): Promise<ReviewPacket | undefined> {
    const item = await this.deps.pool.lease(reviewer, this.deps.leaseMs, model === undefined ? {} : { model });
    if (!item) return undefined;
    try {
      return await this.packet(item);
    } catch (error) {
      if (error instanceof ReviewDeskError && error.code === 'REVIEW_ITEM_BROKEN') {
        // If this fails too (Redis gone), the lease runs out and the next lease finds it again.
        await this.deps.pool.setAside(item.inferenceId, reviewer, error.reason).catch(() => undefined);
        this.deps.onBrokenItem?.(item, error.reason);
      } else {
        await this.deps.pool.release(item.inferenceId, reviewer).catch(() => undefined);
      }
      throw error;
    }
  }

  /**
   * Renews the reviewer's live lease on `id` for another lease time (ReviewPool.renew): for a page
   * that still shows the item when another tab of the reviewer gave its lease back on leaving.
   */
  renew(id: string, reviewer: string): Promise<ReviewItem> {
    return this.deps.pool.renew(id, reviewer, this.deps.leaseMs);
  }

  /**
   * One verdict per lease, kept in review.json and in the pool alike: the pool marks the item as
   * closing first (atomically, while the lease is held: a second verdict meanwhile gets
   * REVIEW_VERDICT_IN_PROGRESS, and the item is not leased to anyone else even if the lease runs
   * out), then the verdict is appended to review.json under the marker's token (storage first: a
   * verdict the pool has but review.json lacks would be lost evidence), then the pool closes the
   * item for that token. A retry of the same verdict (after a storage or Redis failure) gets the
   * same token, finds its entry and closes the item once. `shown`, the explanation on the
   * reviewer's screen, must be one of the item's manifest (REVIEW_SHOWN_UNKNOWN, before anything is
   * marked); it is kept with the verdict, but is not part of "the same verdict": a retry keeps the
   * first request's.
   */
  async judge(id: string, reviewer: string, verdict: Verdict, comment: string | undefined, shown?: ReviewShown): Promise<ReviewItem> {
    const { pool } = this.deps;
    if (shown !== undefined) await this.checkShown(id, reviewer, shown);
    let begun: BegunVerdict;
    let resumed = false;
    try {
      begun = await pool.beginVerdict(id, reviewer, verdict, comment, Date.now(), { shown });
    } catch (error) {
      if (!(error instanceof ReviewPoolError && error.code === 'REVIEW_VERDICT_IN_PROGRESS')) throw error;
      // Refused unless this is a retry whose earlier request's write landed (its entry is in
      // review.json, so no write of that request is still on its way): then it has nothing to write.
      const written = await this.writtenVerdict(id, reviewer, verdict, comment);
      if (written === undefined) throw error;
      begun = await pool.beginVerdict(id, reviewer, verdict, comment, Date.now(), { resume: written });
      resumed = true;
    }
    if (begun.state === 'done') return begun.item;
    const { closing } = begun.item;
    try {
      await this.appendVerdict(begun.item, closing);
    } catch (error) {
      // Nothing was written: let the verdict be sent again now rather than after the closing
      // timeout. A resumed marker is the earlier request's, whose entry is written: it stays.
      if (!resumed) await pool.cancelVerdict(id, closing.token).catch(() => undefined);
      throw error;
    }
    const { item: closed, closedNow } = await pool.finishVerdict(id, closing.token);
    if (closedNow) this.deps.onVerdict?.(closed);
    return closed;
  }

  /**
   * Refuses an explanation shown that the item's manifest does not list (REVIEW_SHOWN_UNKNOWN,
   * naming those it lists). An item the pool does not hold is left to the pool to refuse.
   */
  private async checkShown(id: string, reviewer: string, shown: ReviewShown): Promise<void> {
    const item = await this.deps.pool.get(id);
    // Only the lease holder's verdict can be kept: anyone else's gets the pool's answer (409
    // REVIEW_NOT_LEASED, or the kept verdict for a resend), as without shown, the manifest unread.
    if (!item || item.status !== 'leased' || item.leasedBy !== reviewer) return;
    const unreadable = (reason: string) => new ReviewDeskError('REVIEW_ITEM_BROKEN', `the verdict on "${id}" was NOT saved: the explanation shown cannot be checked, as ${reason}`, reason);
    const manifest = (await this.readStored(item, manifestFileName, explanationManifestSchema, unreadable)) as ExplanationManifest;
    if (manifest.explanations.some((e) => e.method === shown.method && e.classIndex === shown.classIndex)) return;
    const listed = manifest.explanations.map((e) => `${e.method} for class ${e.classIndex} (${e.label})`).join(', ');
    throw new ReviewDeskError(
      'REVIEW_SHOWN_UNKNOWN',
      `the verdict on "${id}" was NOT saved: shown names ${shown.method} for class ${shown.classIndex}, which "${id}" has no explanation of; it has ${listed}`,
      'no such explanation',
    );
  }

  /** The token of a verdict being kept on the item (this reviewer's, this verdict) whose entry review.json holds already. */
  private async writtenVerdict(id: string, reviewer: string, verdict: Verdict, comment: string | undefined): Promise<string | undefined> {
    const found = await this.deps.pool.get(id);
    const closing = found?.status === 'leased' ? found.closing : undefined;
    if (!found || !closing || closing.reviewer !== reviewer || closing.verdict !== verdict || (closing.comment ?? '') !== (comment ?? '')) return undefined;
    const document = await this.readReview(found, 'the verdict');
    return document?.reviews.some((entry) => entry.verdictId === closing.token) ? closing.token : undefined;
  }

  /** Until when (epoch ms) the reviewer of a kept verdict may take it back; undefined with undo turned off (undoMs 0). */
  undoUntil(reviewed: ReviewItem): number | undefined {
    return this.deps.undoMs > 0 ? (reviewed.reviewedAt ?? 0) + this.deps.undoMs : undefined;
  }

  /**
   * Takes back the reviewer's own verdict, within the undo window: the item is leased to them
   * again, a fresh lease (the item they were handed after it goes back to the pool). review.json
   * keeps the verdict and gains a retraction naming it (who, when): the file is the audit trail.
   * As a verdict is kept, in three steps: the pool checks the undo and marks the item as being
   * undone (one Lua step: nothing is written for an undo it would refuse, and while the marker is
   * live no other undo of the item begins, REVIEW_VERDICT_IN_PROGRESS), the retraction is
   * appended to review.json (read and written under the marker, so no other request's write can
   * land in between and be lost), then the pool applies the undo for the marker's token, with the
   * time it was decided, so the time the write takes never pushes it out of the window. A failed
   * write releases the marker (the undo can be sent again at once). A retry (after a Redis
   * failure) finds its retraction and applies it with that retraction's time, writing no second
   * one. Should the pool never be reached again, review.json retracts a verdict the pool still
   * holds, which is the same kind of mismatch as a verdict whose request died (the kept verdict is
   * the one whose ids match).
   */
  async undo(id: string, reviewer: string): Promise<ReviewItem> {
    const { pool, undoMs: windowMs, leaseMs } = this.deps;
    // Not "the window has passed": there never was one.
    if (windowMs <= 0) throw new ReviewDeskError('REVIEW_UNDO_DISABLED', `undo is turned off on this service (GRADCAM_REVIEW_UNDO_SECONDS=0): the verdict on "${id}" stands`, 'undo is turned off');
    const found = await pool.get(id);
    let begin: Parameters<ReviewPool['beginUndo']>[2] = { windowMs };
    if (found?.status === 'reviewed' && found.reviewer === reviewer && found.verdictId !== undefined) {
      const { verdictId } = found;
      // Only to find a retraction written already (a retry); the document is read again under the marker.
      const document = await this.readReview(found, 'the undo');
      const earlier = document?.schemaVersion === 2 ? document.retractions.find((r) => r.verdictId === verdictId) : undefined;
      begin = earlier ? { windowMs, verdictId, decidedAt: Date.parse(earlier.retractedAt), resume: true } : { windowMs, verdictId };
    }
    // Refused here (NOT_FOUND, NOT_REVIEWED, NOT_YOURS, UNDO_EXPIRED, VERDICT_IN_PROGRESS) before anything is written.
    const { item: reviewed, undoing } = await pool.beginUndo(id, reviewer, begin);
    if (begin.resume !== true && reviewed.verdict !== undefined) {
      const retraction: ReviewRetraction = { verdictId: reviewed.verdictId ?? '', verdict: reviewed.verdict, retractedBy: reviewer, retractedAt: new Date(undoing.decidedAt).toISOString() };
      try {
        await this.writeReview(reviewed, await this.readReview(reviewed, 'the undo'), (document) => ({
          schemaVersion: 2,
          inferenceId: document.inferenceId,
          reviews: document.reviews,
          retractions: [...(document.schemaVersion === 2 ? document.retractions : []), retraction],
        }));
      } catch (error) {
        // Nothing was retracted: let the undo be sent again now rather than after the closing timeout.
        await pool.cancelUndo(id, undoing.token).catch(() => undefined);
        throw error;
      }
    }
    const leased = await pool.finishUndo(id, reviewer, undoing.token, { leaseMs });
    this.deps.onUndo?.(reviewed);
    return leased;
  }

  /**
   * Puts a broken item back in the pool once an operator has repaired its stored files. They are
   * read and checked first, as a lease would: an item still broken stays set aside
   * (REVIEW_ITEM_STILL_BROKEN, with what is still wrong) instead of bouncing through a reviewer.
   */
  async restore(id: string): Promise<ReviewItem> {
    const item = await this.deps.pool.get(id);
    // Only a broken item has files worth checking; the pool refuses any other (REVIEW_NOT_FOUND, REVIEW_NOT_BROKEN).
    if (item?.status === 'broken') {
      try {
        await this.packet(item);
      } catch (error) {
        if (!(error instanceof ReviewDeskError && error.code === 'REVIEW_ITEM_BROKEN')) throw error;
        throw new ReviewDeskError('REVIEW_ITEM_STILL_BROKEN', `item "${id}" is still broken: ${error.reason}. Repair its files, then restore it again`, error.reason);
      }
    }
    return this.deps.pool.restore(id);
  }

  /**
   * The item's review.json as it stands (undefined when there is none yet); one that is not a
   * review document, or is another item's (a file copied or moved into the wrong folder: appended
   * to, it would mix two items' histories), stops `what`.
   */
  private async readReview(item: ReviewItem, what: string): Promise<ReviewDocument | undefined> {
    const invalid = (reason: string) =>
      new ReviewDeskError('REVIEW_DOCUMENT_INVALID', `${what} on "${item.inferenceId}" was NOT saved: ${reason}; an operator must repair or move it (its history is never overwritten)`, reason);
    const document = await this.readStored(item, reviewFileName, reviewDocumentSchema, invalid, true);
    // Its inferenceId passed the id schema: safe to name.
    if (document !== undefined && document.inferenceId !== item.inferenceId) throw invalid(`${reviewFileName} is another item's (its inferenceId is "${document.inferenceId}")`);
    return document;
  }

  /** Writes review.json as `change` makes it from the document there (or an empty one, version 1). */
  private async writeReview(item: ReviewItem, previous: ReviewDocument | undefined, change: (document: ReviewDocument) => ReviewDocument): Promise<void> {
    const document = change(previous ?? { schemaVersion: 1, inferenceId: item.inferenceId, reviews: [] });
    await this.deps.store.put(keyIn(item.folder, reviewFileName), Buffer.from(`${JSON.stringify(document, null, 2)}\n`), { contentType: 'application/json' });
  }

  /** Appends the verdict to review.json unless an entry with its token is there already (a retry). */
  private async appendVerdict(item: ReviewItem, closing: ReviewClosing): Promise<void> {
    const previous = await this.readReview(item, 'the verdict');
    if (previous?.reviews.some((entry) => entry.verdictId === closing.token)) return;
    const entry = {
      verdict: closing.verdict,
      reviewer: closing.reviewer,
      ...(closing.comment === undefined ? {} : { comment: closing.comment }),
      reviewedAt: new Date(closing.at).toISOString(),
      waitedSeconds: Math.max(0, (closing.at - item.sampledAt) / 1000),
      verdictId: closing.token,
      ...(closing.shown !== undefined && { shown: closing.shown }),
    };
    // A version 2 document keeps its version and its retractions.
    await this.writeReview(item, previous, (document) => ({ ...document, reviews: [...document.reviews, entry] }));
  }
}
