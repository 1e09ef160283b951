import { createHash } from 'node:crypto';
import {
  type Artifact,
  type BackendDetails,
  type ExplanationEntry,
  type ExplanationManifest,
  type ReviewSampling,
  explanationManifestSchema,
  inputPreviewFileName,
  manifestFileName,
  manifestSchemaVersion,
} from '@gradcam/contracts';
import { type ImageExplanation, type LoadedModel, engineInfo } from '@gradcam/engine';
import {
  type DecodedImage,
  type OverlayOptions,
  type RenderOverlay,
  defaultOverlayMaxSide,
  defaultOverlayOptions,
  encodeNpy,
  encodePreview,
  imagingInfo,
  overlayBase,
  renderOverlay,
} from '@gradcam/imaging';
import { fingerprint } from './engine-fingerprint.ts';

export interface ArtifactFile {
  /** Relative to the explanation's folder (local directory or storage prefix). */
  readonly path: string;
  readonly contentType: string;
  readonly body: Buffer;
}

export interface ImageArtifactsInput {
  /** File path or storage URI of the input, as recorded in the manifest. */
  readonly source: string;
  readonly bytes: Uint8Array;
  readonly image: DecodedImage;
  readonly explanation: ImageExplanation;
  readonly model: LoadedModel;
  readonly backend: string;
  /** What the backend ran on (SelectedBackend.details), recorded as engine.backendDetails. */
  readonly backendDetails?: BackendDetails;
  readonly timings: Omit<ExplanationManifest['timings'], 'renderMs'>;
  readonly inferenceId?: string;
  /** The reviewer-sampling decision, recorded in the manifest (pipeline only). */
  readonly review?: ReviewSampling;
  readonly overlay?: OverlayOptions;
  /** Longest side of the overlays in pixels: larger images are drawn scaled down (0: no limit; default 2048). */
  readonly overlayMaxSide?: number;
  /** Where overlays are rendered (default: on this thread); the worker passes its thread pool. */
  readonly renderOverlay?: RenderOverlay;
  readonly now?: Date;
}

export interface ImageArtifacts {
  /** Artifacts first, the manifest last: its presence marks the explanation complete. */
  readonly files: readonly ArtifactFile[];
  readonly manifest: ExplanationManifest;
}

const sha256 = (body: Uint8Array) => createHash('sha256').update(body).digest('hex');

/** `gradcam++` → `gradcampp`: '+' means a space in URL query strings, so keys avoid it. */
export function artifactStem(method: string, classIndex: number): string {
  return `${method.replaceAll('+', 'p')}-${classIndex}`;
}

/** A map or score the manifest cannot hold; its code tells callers it will not get better by retrying. */
export class ExplanationNotFiniteError extends Error {
  readonly code = 'EXPLANATION_NOT_FINITE';
  override readonly name = 'ExplanationNotFiniteError';
}

/**
 * NaN or ±Infinity in a logit or a map: a numeric failure of the model or the method on this
 * input (a division by a vanishing denominator, an overflow on a GPU). Refused by name before
 * anything is written, not left to fail the manifest's schema as an unexplained error.
 */
function assertFinite(explanation: ImageExplanation): void {
  if (!explanation.logits.every(Number.isFinite)) {
    throw new ExplanationNotFiniteError('the model produced a NaN or infinite score for this image; nothing was stored');
  }
  for (const map of explanation.maps) {
    if (!map.raw.every(Number.isFinite)) {
      throw new ExplanationNotFiniteError(`the ${map.method} map for class ${map.classIndex} holds NaN or infinite values for this image (a numeric failure of the method); nothing was stored`);
    }
  }
}

function artifact(file: ArtifactFile): Artifact {
  return { path: file.path, contentType: file.contentType, bytes: file.body.byteLength, sha256: sha256(file.body) };
}

/**
 * Turns one image's engine result into its stored form: per method × class a raw float32 .npy
 * map and a JPEG overlay, then the manifest that lists them with their hashes. Pure apart from
 * CPU work, so the CLI writes the files to a folder and the worker to object storage.
 */
export async function buildImageArtifacts(input: ImageArtifactsInput): Promise<ImageArtifacts> {
  const { explanation, model, image } = input;
  const { descriptor, runner } = model;
  assertFinite(explanation);
  const started = performance.now();
  const files: ArtifactFile[] = [];
  const entries: ExplanationEntry[] = [];
  const overlayMaxSide = input.overlayMaxSide ?? defaultOverlayMaxSide;
  // Drawn with these and recorded as they are, so that an overlay can be drawn again from the manifest.
  const drawWith = {
    colormap: input.overlay?.colormap ?? defaultOverlayOptions.colormap,
    alpha: input.overlay?.alpha ?? defaultOverlayOptions.alpha,
    quality: input.overlay?.quality ?? defaultOverlayOptions.quality,
  };
  // Scaled once, so each of the image's overlays (several classes or methods) reuses it.
  const base = explanation.maps.length > 0 ? await overlayBase(image, overlayMaxSide) : image;
  for (const map of explanation.maps) {
    const stem = artifactStem(map.method, map.classIndex);
    const rawMap: ArtifactFile = { path: `${stem}.npy`, contentType: 'application/x-npy', body: encodeNpy(map.raw, [map.height, map.width]) };
    const overlay: ArtifactFile = {
      path: `${stem}.overlay.jpg`,
      contentType: 'image/jpeg',
      body: await (input.renderOverlay ?? renderOverlay)(base, map.normalized, map.width, map.height, descriptor.preprocessing, drawWith),
    };
    files.push(rawMap, overlay);
    entries.push({
      method: map.method,
      classIndex: map.classIndex,
      label: map.label,
      logit: explanation.logits[map.classIndex] as number,
      probability: explanation.probabilities[map.classIndex] as number,
      map: { width: map.width, height: map.height, ...map.stats },
      ...(map.channels === undefined ? {} : { channels: map.channels }),
      rawMap: artifact(rawMap),
      overlay: { ...artifact(overlay), width: base.width, height: base.height },
    });
  }
  // A page shows the input's stored file; where a browser would show it otherwise than the model
  // saw it (a TIFF it cannot show, an animation, transparency), it shows this instead, drawn on the
  // overlays' base so that the two line up pixel for pixel.
  let preview: NonNullable<ExplanationManifest['input']['preview']> | undefined;
  if (image.browserMismatch !== undefined) {
    const file: ArtifactFile = { path: inputPreviewFileName, contentType: 'image/jpeg', body: await encodePreview(base, drawWith.quality) };
    files.unshift(file);
    preview = { ...artifact(file), width: base.width, height: base.height, reason: image.browserMismatch };
  }
  const modelInfo = {
    name: descriptor.name,
    version: descriptor.version,
    format: descriptor.format,
    targetLayer: runner.targetLayer,
    targetShape: [...runner.targetShape] as [number, number, number],
    labels: Array.from({ length: runner.numClasses }, (_, i) => descriptor.labels[i] ?? `class_${i}`),
    weightsSha256: model.weightsSha256,
  };
  // backendDetails is not in the fingerprint: like the backend, it changes float rounding only.
  const engine = { ...engineInfo, backend: input.backend, ...(input.backendDetails === undefined ? {} : { backendDetails: input.backendDetails }) };
  // A photo decoded scaled down has a model input a few levels off a full decode's: recorded, so
  // the fingerprint tells the two apart.
  const preprocessing = { ...descriptor.preprocessing, ...(image.maxSide === undefined ? {} : { decodeMaxSide: image.maxSide }) };
  const manifest = explanationManifestSchema.parse({
    schemaVersion: manifestSchemaVersion,
    ...(input.inferenceId === undefined ? {} : { inferenceId: input.inferenceId }),
    createdAt: (input.now ?? new Date()).toISOString(),
    // The input's own size, also when it was decoded scaled down.
    input: { source: input.source, sha256: sha256(input.bytes), bytes: input.bytes.byteLength, format: image.format, ...(image.fullSize ?? { width: image.width, height: image.height }), ...(preview === undefined ? {} : { preview }) },
    model: modelInfo,
    engine,
    preprocessing,
    imaging: imagingInfo,
    fingerprint: fingerprint({ model: modelInfo, engine, preprocessing, explanations: entries, imaging: imagingInfo }),
    prediction: {
      classIndex: explanation.predictedClass,
      label: explanation.predictedLabel,
      logits: [...explanation.logits],
      probabilities: [...explanation.probabilities],
    },
    explanations: entries,
    overlays: { ...drawWith, maxSide: overlayMaxSide },
    ...(input.review === undefined ? {} : { review: input.review }),
    timings: { ...input.timings, renderMs: performance.now() - started },
  } satisfies ExplanationManifest);
  files.push({ path: manifestFileName, contentType: 'application/json', body: Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`) });
  return { files, manifest };
}
