import { z } from 'zod';
import { inferenceIdSchema } from './ids.ts';
import { preprocessingSchema } from './preprocessing.ts';
import { reviewSamplingSchema } from './review.ts';

export const manifestSchemaVersion = 1;
export const manifestFileName = 'explanation.json';

/** The CAM methods the engine implements; manifests name them this way. */
export const camMethodSchema = z.enum(['gradcam', 'gradcam++', 'xgradcam', 'layercam', 'hirescam', 'eigencam', 'scorecam']);

const sha256Schema = z.string().regex(/^[0-9a-f]{64}$/);

/** A file written next to the manifest; `path` is relative to the manifest's folder. */
export const artifactSchema = z.object({
  path: z.string().min(1),
  contentType: z.string(),
  bytes: z.number().int().nonnegative(),
  sha256: sha256Schema,
});
export type Artifact = z.infer<typeof artifactSchema>;

export const mapStatisticsSchema = z.object({
  width: z.number().int().positive(),
  height: z.number().int().positive(),
  min: z.number(),
  max: z.number(),
  mean: z.number(),
  borderMass: z.number().min(0).max(1),
  entropy: z.number().min(0).max(1),
});

/**
 * Longest side of an overlay by default, in pixels. The blend and the JPEG encode cost CPU in
 * proportion to the pixels, once per overlay (per method and class), and a GPU worker is bound
 * by its host's CPU: a 12-megapixel phone photo (4032 × 3024) drawn at full size costs about
 * 200 ms of CPU per overlay on a 2-core VM, against about 40 at 2048 × 1536 plus 40 once per
 * image to scale it (`npm run bench:imaging -- --megapixels 12 --overlay-max-side N`). 2048 px
 * is still more than the review page shows, and the page lays the overlay over the original,
 * which it loads at full size, so the photo's own detail is one opacity slide away.
 */
export const defaultOverlayMaxSide = 2048;

/**
 * The preprocessing an image went through: the model's spec, plus the side its decode was scaled
 * down to fit when the image was larger (see defaultOverlayMaxSide).
 */
export const manifestPreprocessingSchema = preprocessingSchema.extend({
  /**
   * Present when the image was decoded scaled down to fit within this many pixels (aspect kept,
   * each side rounded, the codec's shrink-on-load then Lanczos-3) before the fit to width ×
   * height. The model input then differs from a full-size decode's by a few levels (at most ~16
   * at edges), so it is part of the fingerprint; absent: decoded at full size.
   */
  decodeMaxSide: z.number().int().positive().optional(),
});
export type ManifestPreprocessing = z.infer<typeof manifestPreprocessingSchema>;

export const explanationEntrySchema = z.object({
  method: camMethodSchema,
  classIndex: z.number().int().nonnegative(),
  label: z.string(),
  /**
   * The class logit, before the model's output activation (softmax or sigmoid): the score the
   * gradient methods differentiate. Score-CAM weighs its channels by `probability` instead;
   * EigenCAM uses neither (its map is the same for every class).
   */
  logit: z.number(),
  probability: z.number().min(0).max(1),
  map: mapStatisticsSchema,
  /**
   * Score-CAM only: how many of the target layer's channels (the most active on average) weighted
   * the map (`gradcam explain --score-cam-channels`; 64 by default, or all of fewer). It changes the
   * map, so it is part of the fingerprint.
   */
  channels: z.number().int().positive().optional(),
  /** The raw map (float32 .npy, target-layer resolution, unnormalised) and the overlay image. */
  rawMap: artifactSchema,
  /**
   * The overlay's own size: the input's, or smaller where the input's longest side was over the
   * overlay limit (absent in manifests written before the limit existed).
   */
  overlay: artifactSchema.extend({ width: z.number().int().positive().optional(), height: z.number().int().positive().optional() }),
});
export type ExplanationEntry = z.infer<typeof explanationEntrySchema>;

/**
 * What a backend ran on. wasm: whether the SIMD build was loaded, XNNPACK's thread count, and the
 * binary (tfjs-backend-wasm.wasm, -simd.wasm or -threaded-simd.wasm, as tfjs picked it from the
 * platform's SIMD and thread support). webgpu: the adapter (vendor, architecture, device, as Dawn
 * describes it).
 */
export const backendDetailsSchema = z.object({
  simd: z.boolean().optional(),
  threads: z.number().int().positive().optional(),
  wasmBinary: z.string().optional(),
  adapter: z.string().optional(),
});
export type BackendDetails = z.infer<typeof backendDetailsSchema>;

export const explanationManifestSchema = z.object({
  schemaVersion: z.literal(manifestSchemaVersion),
  /** Present in the pipeline; the CLI has no inference ids. */
  inferenceId: inferenceIdSchema.optional(),
  createdAt: z.iso.datetime(),
  input: z.object({
    /** Where the image came from: a file path (CLI) or a storage key/URI (pipeline). */
    source: z.string(),
    sha256: sha256Schema,
    bytes: z.number().int().nonnegative(),
    format: z.string(),
    width: z.number().int().positive(),
    height: z.number().int().positive(),
    /**
     * A JPEG of the input as the model saw it (upright, transparency on white, first frame, sRGB),
     * at the overlays' size, written where a browser would show the stored input otherwise:
     * `reason` is imaging's BrowserMismatch (`format`: TIFF or HEIF, which Chromium and Firefox do
     * not show; `animation`; `transparency`; `cmyk`; a string, so a reason added later still
     * parses). Absent where the input shows as it was explained, and in manifests written before
     * previews existed. Not part of the fingerprint: it is drawn from the input, like the overlays.
     */
    preview: artifactSchema.extend({ width: z.number().int().positive(), height: z.number().int().positive(), reason: z.string() }).optional(),
  }),
  model: z.object({
    name: z.string(),
    version: z.string(),
    format: z.enum(['layers', 'graph']),
    targetLayer: z.string(),
    targetShape: z.tuple([z.number().int(), z.number().int(), z.number().int()]),
    labels: z.array(z.string()),
    /**
     * sha256 of the topology, weight specs and weight bytes the model was loaded from (the
     * engine's modelWeightsSha256): the version is a label (declared by the model's folder, or a
     * built-in's), so a model retrained and shipped again under it is told apart only by this.
     * Absent in manifests written before it was recorded.
     */
    weightsSha256: sha256Schema.optional(),
  }),
  engine: z.object({
    version: z.string(),
    tfjsVersion: z.string(),
    /** Which backend computed it: tensorflow-gpu, webgpu, tensorflow, wasm or cpu. */
    backend: z.string(),
    /**
     * What the backend ran on, as far as the engine can tell (not in the fingerprint, like the
     * backend itself). Absent for tensorflow, tensorflow-gpu and cpu, and in manifests written
     * before it was recorded.
     */
    backendDetails: backendDetailsSchema.optional(),
  }),
  preprocessing: manifestPreprocessingSchema,
  /**
   * What turned the image's bytes into the model input: the @gradcam/imaging version (decode:
   * EXIF orientation applied (not a WebP's, as browsers show it), alpha flattened onto white, sRGB, 8 bits, first frame; then the fit),
   * sharp and libvips (their decoders and resamplers), and the resize kernels. Absent in manifests
   * written before it was recorded.
   */
  imaging: z
    .object({
      version: z.string(),
      sharp: z.string(),
      libvips: z.string(),
      /** The kernel of the fit to the model's width × height (sharp's 'linear': triangle, antialiased when shrinking). */
      resizeKernel: z.string(),
      /** The kernel after the codec's shrink-on-load, when the photo was decoded scaled down (preprocessing.decodeMaxSide). */
      scaledDecodeKernel: z.string(),
    })
    .optional(),
  /**
   * sha256 over model name + version + target layer + engine and tfjs versions + preprocessing
   * (with the decode side, where there was one) + Score-CAM's channel count (where it ran) +
   * imaging (where recorded) + the model's weightsSha256 (where recorded). The same input bytes under one fingerprint and one backend gave
   * bit-identical maps and overlays on wasm and on cpu, whatever the batch, its other images, or
   * whether the CLI or a worker ran it (GPU backends not checked). The backend (engine.backend) is
   * not covered: backends differ in float rounding only (wasm against cpu: every map within 4.1e-6
   * of its peak, logits within 3.4e-6).
   */
  fingerprint: sha256Schema,
  prediction: z.object({
    classIndex: z.number().int().nonnegative(),
    label: z.string(),
    logits: z.array(z.number()),
    probabilities: z.array(z.number()),
  }),
  explanations: z.array(explanationEntrySchema).min(1),
  /**
   * How every overlay was drawn: the colormap and heatmap opacity over the image (the map
   * min-max scaled to 0…1, upsampled bilinearly), the JPEG quality, and the longest side the image
   * was scaled down to first (0: none). With the .npy maps, the input and `imaging`, an overlay can
   * be drawn again byte for byte. Absent in manifests written before it was recorded.
   */
  overlays: z
    .object({
      colormap: z.string(),
      alpha: z.number().min(0).max(1),
      quality: z.number().int().min(1).max(100),
      maxSide: z.number().int().nonnegative(),
    })
    .optional(),
  /** The reviewer-sampling decision (pipeline only): whether this went to human review, and why. */
  review: reviewSamplingSchema.optional(),
  timings: z.object({
    /**
     * Size of the batch this image was explained in. decode, forward, backward and maps are the
     * batch's stage times (shared by its images); renderMs is this image's own overlays and files.
     */
    batchSize: z.number().int().positive(),
    decodeMs: z.number().nonnegative(),
    forwardMs: z.number().nonnegative(),
    backwardMs: z.number().nonnegative(),
    mapsMs: z.number().nonnegative(),
    renderMs: z.number().nonnegative(),
  }),
});
export type ExplanationManifest = z.infer<typeof explanationManifestSchema>;
