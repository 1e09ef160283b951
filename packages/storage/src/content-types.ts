import { extname } from 'node:path';

/** The pipeline's file kinds (see DESIGN.md, storage layout) plus a few common neighbours. */
const byExtension: Readonly<Record<string, string>> = {
  '.json': 'application/json',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.png': 'image/png',
  '.webp': 'image/webp',
  '.gif': 'image/gif',
  '.tif': 'image/tiff',
  '.tiff': 'image/tiff',
  '.avif': 'image/avif',
  '.heic': 'image/heic',
  '.heif': 'image/heif',
  '.npy': 'application/x-npy',
  '.txt': 'text/plain; charset=utf-8',
  '.csv': 'text/csv; charset=utf-8',
  '.html': 'text/html; charset=utf-8',
  '.jsonl': 'application/x-ndjson',
};

export const defaultContentType = 'application/octet-stream';

/**
 * The content type a key's extension implies. The filesystem store answers this for every
 * object (it keeps no per-object metadata); S3 callers can pass it to `put` so both agree.
 */
export function contentTypeFor(key: string): string {
  return byExtension[extname(key).toLowerCase()] ?? defaultContentType;
}
