/**
 * How a presigned link's answer presents its object, forced over what the object was stored
 * with: an object a client uploaded keeps the Content-Type the client gave it (text/html under an
 * images key, say), which a browser opening the link would render as a page of the store's origin.
 * S3 carries these as the signed `response-content-type` and `response-content-disposition`.
 */
export interface PresignOptions {
  /** One of `servedContentTypes`; a presign asking for any other is a RangeError. */
  readonly contentType: string;
  /** `inline`: shown in a browser tab (an image, JSON); `attachment`: saved (a `.npy` map). */
  readonly disposition: 'inline' | 'attachment';
}

/**
 * The content types a blob is ever answered with: the pipeline's images, JSON and `.npy` maps, and
 * plain bytes. None of them is active content (no HTML, SVG, XML or script), and with nosniff a
 * browser does not guess another. Anything else is answered `application/octet-stream`.
 */
export const servedContentTypes: ReadonlySet<string> = new Set([
  'image/jpeg',
  'image/png',
  'image/webp',
  'image/gif',
  'image/tiff',
  'image/avif',
  'image/heic',
  'image/heif',
  'application/json',
  'application/x-npy',
  'application/octet-stream',
]);

const octetStream = 'application/octet-stream';

/** `contentType` (its essence: no parameters, lower case) when on the allow-list, else application/octet-stream. */
export function servedContentType(contentType: string): string {
  const essence = contentType.split(';', 1)[0]?.trim().toLowerCase() ?? '';
  return servedContentTypes.has(essence) ? essence : octetStream;
}

/** Refuses options a presigned link must not carry: a content type off the allow-list, a disposition other than inline or attachment. */
export function assertPresignOptions(options: PresignOptions | undefined): void {
  if (options === undefined) return;
  if (!servedContentTypes.has(options.contentType)) {
    throw new RangeError(`a presigned link's content type must be one of ${[...servedContentTypes].join(', ')}, got ${JSON.stringify(options.contentType)}`);
  }
  if (options.disposition !== 'inline' && options.disposition !== 'attachment') {
    throw new RangeError(`a presigned link's disposition must be inline or attachment, got ${JSON.stringify(options.disposition)}`);
  }
}

/**
 * The headers of a blob answer served by one of our HTTP services (the filesystem store's
 * `/v1/blobs/…`): the content type allow-listed, `nosniff`, and `Content-Security-Policy: sandbox`,
 * so whatever the bytes are, a browser opening the link runs nothing: no script, no form, no
 * plugin, and the document has an opaque origin (no cookie or storage of the service's).
 */
export function blobAnswerHeaders(blob: { readonly bytes: number; readonly contentType: string; readonly disposition?: 'inline' | 'attachment' | undefined }): Record<string, string> {
  return {
    'content-type': servedContentType(blob.contentType),
    'content-length': String(blob.bytes),
    'x-content-type-options': 'nosniff',
    'content-security-policy': 'sandbox',
    ...(blob.disposition !== undefined && { 'content-disposition': blob.disposition }),
  };
}
