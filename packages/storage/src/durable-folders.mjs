// Which folders a filesystem put must fsync to be durable, in one place for the store
// (TypeScript) and its I/O threads (plain JavaScript). fsyncing a file makes its bytes durable,
// not its name: the rename that puts the object in place is an entry in its folder, and each
// folder mkdir created is an entry in the folder above it. Until those folders are fsynced too,
// a power loss can take an object whose put was already acknowledged.
import { dirname } from 'node:path';

/**
 * The object's own folder (for its rename) and, when mkdir created folders (`firstCreated` is
 * what a recursive mkdir returns: the topmost one it made), each created folder's parent.
 */
export function foldersToSync(folder, firstCreated) {
  const folders = [folder];
  if (firstCreated === undefined) return folders;
  const stop = dirname(firstCreated);
  for (let at = folder; at !== stop; ) {
    const parent = dirname(at);
    if (parent === at) break; // the filesystem root: nothing above it
    at = parent;
    folders.push(at);
  }
  return folders;
}

/**
 * Errors of fsyncing a folder that leave nothing to do: ENOENT, the folder was removed since (a
 * delete emptied it; then no object of ours is in it), and EINVAL, a filesystem that cannot
 * sync folders (some network and FUSE ones), where failing every put would not make it durable.
 */
export function folderSyncNeedless(code) {
  return code === 'ENOENT' || code === 'EINVAL';
}
