// The filesystem store's temporary-file names, in one place for the store (TypeScript) and its
// I/O threads (plain JavaScript, which cannot load TypeScript): a put writes
// `.<name>.<16 hex>.partial` next to its target, then renames it into place.
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';

/** Names of temporary files: hidden from listings, refused as keys, swept when stale. @gradcam/contracts' temporaryFileSegment is the same pattern, for the values that become key segments. */
export const partialName = /^\..*\.[0-9a-f]{16}\.partial$/;

// Unique among concurrent writers of one key is enough: a random prefix per thread (each thread
// loads its own copy of this module) and a counter make them so without a call into the CSPRNG
// per object.
const prefix = randomBytes(4).toString('hex');
let counter = 0;

/** A fresh temporary path next to `path`. */
export function temporaryPathFor(path) {
  return join(dirname(path), `.${basename(path)}.${prefix}${(counter++ >>> 0).toString(16).padStart(8, '0')}.partial`);
}
