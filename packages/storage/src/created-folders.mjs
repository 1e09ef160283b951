// The folders a failed filesystem put made and must take away again, in one place for the store
// (TypeScript) and its I/O threads (plain JavaScript). S3 has no folders: a put that stored
// nothing must leave nothing, or the empty folder it made holds a name that a later key
// (`a/b` after a failed `a/b/c`) cannot have on disk.
import { dirname } from 'node:path';

/**
 * The folders from the object's `folder` up to `firstCreated` (what a recursive mkdir returns:
 * the topmost folder it made), deepest first, to rmdir in that order; none when mkdir made none.
 * Never `root` (the store's root directory) or anything above it: a delete stops there too.
 */
export function createdFolders(folder, root, firstCreated) {
  const folders = [];
  if (firstCreated === undefined) return folders;
  for (let at = folder; at.length > root.length; at = dirname(at)) {
    folders.push(at);
    if (at === firstCreated) break;
  }
  return folders;
}

/** The topmost of two folders mkdir reported making for one put (both on one path), or either. */
export function topmost(a, b) {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return a.length <= b.length ? a : b;
}
