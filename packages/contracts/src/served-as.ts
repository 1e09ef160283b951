import type { ExplanationManifest } from './manifest.ts';
import type { inputExtensions } from './storage-keys.ts';

/**
 * How a presigned link to one of an inference's objects presents it, whatever the object was
 * stored with (a client's upload keeps the Content-Type the client gave it: text/html under an
 * images key, say): the content type the pipeline knows the object to be, and whether a browser
 * shows it (`inline`) or saves it (`attachment`). The ingest status and the review desk pass it
 * to `BlobStore.presignGet`.
 */
export interface ServedAs {
  readonly contentType: string;
  readonly disposition: 'inline' | 'attachment';
}

/**
 * The content type of each image format ingest sniffs (inputExtensions) and the worker records as
 * the manifest's `input.format` (imaging's formats: HEIF too, read from a referenced object).
 */
export const imageContentTypes: Readonly<Record<keyof typeof inputExtensions | 'heif', string>> = {
  jpeg: 'image/jpeg',
  png: 'image/png',
  webp: 'image/webp',
  gif: 'image/gif',
  tiff: 'image/tiff',
  avif: 'image/avif',
  heif: 'image/heif',
};

/** Plain bytes, saved: what a link presents an object of no known kind as. */
export const bytesServedAs: ServedAs = { contentType: 'application/octet-stream', disposition: 'attachment' };

/**
 * The input image, as the worker found it (the manifest's `input.format`; ingest's sniffed format
 * for an inline upload is the same): an image of that format, shown; a format this table does not
 * know, plain bytes.
 */
export function imageServedAs(format: string | undefined): ServedAs {
  const contentType = format === undefined || !Object.hasOwn(imageContentTypes, format) ? undefined : imageContentTypes[format as keyof typeof imageContentTypes];
  return contentType === undefined ? bytesServedAs : { contentType, disposition: 'inline' };
}

/** The pipeline's own files: manifests and prediction.json, overlays and input previews (always JPEG), raw maps (`.npy`, saved). */
export const artifactServedAs = {
  json: { contentType: 'application/json', disposition: 'inline' },
  overlay: { contentType: 'image/jpeg', disposition: 'inline' },
  preview: { contentType: 'image/jpeg', disposition: 'inline' },
  rawMap: bytesServedAs,
} as const satisfies Record<string, ServedAs>;

/**
 * The files a manifest lists in its own folder, by path relative to it, each with how a link
 * presents it: each entry's overlay and raw map, then the input's preview where there is one.
 */
export function manifestArtifacts(manifest: ExplanationManifest): (readonly [path: string, served: ServedAs])[] {
  const { preview } = manifest.input;
  return [
    ...manifest.explanations.flatMap((e) => [[e.overlay.path, artifactServedAs.overlay], [e.rawMap.path, artifactServedAs.rawMap]] as const),
    ...(preview === undefined ? [] : [[preview.path, artifactServedAs.preview] as const]),
  ];
}
