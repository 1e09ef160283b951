// Which folders a filesystem put must fsync to be durable, in one place for the store
// (TypeScript) and its I/O threads (plain JavaScript). fsyncing a file makes its bytes durable,
// not its name: the rename that puts the object in place is an entry in its folder, and each
// folder on its path is an entry in the folder above it. Until those folders are fsynced too, a
// power loss can take an object whose put was already acknowledged.
import { dirname } from 'node:path';

/**
 * Every folder from the object's own (for its rename) up to the store's root directory, and,
 * when mkdir created the root too (`firstCreated` is what a recursive mkdir returns: the topmost
 * folder it made), the folders above the root up to that one's parent. Not only the parents of
 * the folders this put created: a folder another put (another I/O thread, a streamed put,
 * another process) created a moment ago is there for this put's mkdir to find, but its entry is
 * not durable until its creator fsyncs the parent, which may be after this put resolves, and no
 * record kept in one process could tell. A folder with nothing new still costs a disk cache flush
 * to fsync (0.07–0.3 ms on the 2-core VM); the I/O threads sync each folder once per message, so
 * a batch shares its chain.
 */
export function foldersToSync(folder, root, firstCreated) {
  const folders = [folder];
  const stop = firstCreated !== undefined && firstCreated.length <= root.length ? dirname(firstCreated) : root;
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
