import { z } from 'zod';
import { inferenceIdSchema } from './ids.ts';

/** What a reviewer can say about one explanation. */
export const verdictSchema = z.enum(['supports', 'wrong-evidence', 'wrong-prediction', 'unsure']);
export type Verdict = z.infer<typeof verdictSchema>;

/**
 * The explanation on the reviewer's screen when a verdict was sent: one of the manifest's
 * `explanations`, by its method and class (the review service refuses any other). A verdict is on
 * the item's prediction; this says which heatmap the reviewer was looking at (an item explained
 * by two methods for two classes has four), so that "wrong-evidence" names the evidence. Absent
 * when the client did not say (verdicts kept before it existed, clients that do not send it).
 */
export const reviewShownSchema = z.object({
  method: z.string().min(1).max(64),
  classIndex: z.number().int().nonnegative(),
});
export type ReviewShown = z.infer<typeof reviewShownSchema>;

/** The reviewer-sampling decision, recorded in the manifest so audits can replay it. */
export const reviewSamplingSchema = z.object({
  sampled: z.boolean(),
  /** The policy in force, as configured (e.g. `budget(K=120/h)|confidence<0.6`). */
  policy: z.string(),
  /** The term of the policy that selected it, when one did. */
  term: z.string().optional(),
  /** Why (a closed set: a metrics label), with the numbers behind it in `detail`. */
  reason: z.string(),
  detail: z.string().optional(),
  /** 0…1: how much this explanation deserves a human look. */
  priority: z.number(),
  /** The adaptive threshold in force when decided (budget policy). */
  threshold: z.number().optional(),
  /** What the budget compared with `threshold` (its term fired iff rank ≥ threshold): the priority's place within its histogram bin, drawn from the id. */
  rank: z.number().min(0).max(1).optional(),
});
export type ReviewSampling = z.infer<typeof reviewSamplingSchema>;

/**
 * A verdict being kept: set (atomically, while the lease is held) before the verdict is written
 * to review.json, cleared when the pool closes the item. While it is set, no other verdict,
 * release or skip is taken and the item is not leased again, even if the lease runs out, unless
 * the marker is older than the pool's closing timeout (a request that died). `token` is the
 * verdict's id: the review.json entry carries it, so a retry does not append it twice.
 */
export const reviewClosingSchema = z.object({
  token: z.string(),
  reviewer: z.string(),
  verdict: verdictSchema,
  comment: z.string().optional(),
  /** The explanation shown when the verdict was sent (the first request's: not part of "the same verdict"). */
  shown: reviewShownSchema.optional(),
  /** Epoch ms: when the verdict was taken (its reviewedAt). */
  at: z.number().int(),
});
export type ReviewClosing = z.infer<typeof reviewClosingSchema>;

/** One item of the review pool (kept in Redis by the review service). */
export const reviewItemSchema = z.object({
  inferenceId: inferenceIdSchema,
  model: z.string(),
  modelVersion: z.string(),
  folder: z.string(),
  predictedClass: z.number().int().nonnegative(),
  label: z.string(),
  probability: z.number(),
  sampling: reviewSamplingSchema,
  /** Epoch ms. */
  sampledAt: z.number().int(),
  /**
   * `broken`: set aside because its stored files are missing or invalid (it cannot be shown);
   * never leased again, kept for operators to find (`brokenReason`).
   */
  status: z.enum(['pending', 'leased', 'reviewed', 'broken']),
  leasedBy: z.string().optional(),
  leaseExpiresAt: z.number().int().optional(),
  verdict: verdictSchema.optional(),
  reviewer: z.string().optional(),
  reviewedAt: z.number().int().optional(),
  comment: z.string().optional(),
  /** The explanation shown when the kept verdict was sent, where the client said (see reviewShownSchema). */
  shown: reviewShownSchema.optional(),
  /** Set while a verdict is being kept (see reviewClosingSchema). */
  closing: reviewClosingSchema.optional(),
  /** The kept verdict's id: the `verdictId` of its entry in review.json. */
  verdictId: z.string().optional(),
  /** Why a `broken` item was set aside (which stored file is missing or invalid). */
  brokenReason: z.string().optional(),
  /** Epoch ms: when it was set aside. */
  brokenAt: z.number().int().optional(),
});
export type ReviewItem = z.infer<typeof reviewItemSchema>;

/** One verdict as appended to `review.json` (history kept, never overwritten). */
export const reviewEntrySchema = z.object({
  verdict: verdictSchema,
  reviewer: z.string(),
  comment: z.string().max(2000).optional(),
  reviewedAt: z.iso.datetime(),
  /** How long the item waited from being sampled to this verdict. */
  waitedSeconds: z.number().nonnegative(),
  /**
   * The verdict's id (the pool item's `verdictId` once kept): a retried verdict finds its entry
   * and is not appended again. Absent in entries written before it existed.
   */
  verdictId: z.string().optional(),
  /**
   * The explanation shown when the verdict was sent (see reviewShownSchema); absent in entries
   * written before it existed and from clients that do not say. Added to version 1 and 2 without a
   * version bump: a reader that does not know it (a review replica of the version before, during
   * a rolling upgrade) drops it from the entries it rewrites, but it rewrites the file only to
   * append a verdict or a retraction, which happens only while no entry is kept (the item is
   * leased again after an undo) or to the kept entry being taken back: only verdicts that no
   * longer count can lose it.
   */
  shown: reviewShownSchema.optional(),
});

/**
 * A verdict its reviewer took back (POST /v1/reviews/{id}/undo, within the undo window). The
 * verdict's entry stays in `reviews`: history is never deleted, and this says which one no longer
 * counts, who took it back and when.
 */
export const reviewRetractionSchema = z.object({
  /** The `verdictId` of the entry in `reviews` taken back. */
  verdictId: z.string(),
  /** That entry's verdict, repeated so the file reads on its own. */
  verdict: verdictSchema,
  retractedBy: z.string(),
  retractedAt: z.iso.datetime(),
});
export type ReviewRetraction = z.infer<typeof reviewRetractionSchema>;

const reviewDocumentV1Schema = z.object({
  schemaVersion: z.literal(1),
  inferenceId: inferenceIdSchema,
  reviews: z.array(reviewEntrySchema),
});

/**
 * Version 2 adds `retractions`; a document is written as version 1 until its first retraction.
 * The version is bumped rather than the field added to version 1 because a reader that knows only
 * version 1 would drop an unknown field when it appends a verdict (the schema strips it), losing
 * the retraction; it refuses version 2 instead (REVIEW_DOCUMENT_INVALID: nothing is overwritten).
 */
const reviewDocumentV2Schema = z.object({
  schemaVersion: z.literal(2),
  inferenceId: inferenceIdSchema,
  reviews: z.array(reviewEntrySchema),
  retractions: z.array(reviewRetractionSchema),
});

/** `review.json` next to an explanation: every verdict given, and (version 2) those taken back. */
export const reviewDocumentSchema = z.discriminatedUnion('schemaVersion', [reviewDocumentV1Schema, reviewDocumentV2Schema]);
export type ReviewDocument = z.infer<typeof reviewDocumentSchema>;
