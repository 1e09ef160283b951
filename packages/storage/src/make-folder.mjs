// mkdir -p with the real reason it failed, and when a put tries again, in one place for the store
// (fs/promises) and its I/O threads (synchronous calls). Node 20's recursive mkdir answers
// ENOENT for any failure to make a folder that it then cannot stat: on a read-only volume (EROFS
// reads as ENOENT), and when a delete removes a folder between mkdir's EEXIST and its stat (the
// folder was there, and is gone). A plain mkdir of the first missing folder tells them apart: it
// fails with the real errno on a read-only volume, and makes the folder, or finds it, after a race.
import { lstatSync, mkdirSync, statSync } from 'node:fs';
import { lstat, mkdir, stat } from 'node:fs/promises';
import { dirname } from 'node:path';

/**
 * Tries of a put whose folder concurrent deletes keep removing between its mkdir and its file:
 * each delete removes it at most once, so this bounds only a pathological filesystem. A try is a
 * mkdir and an open, microseconds: 100 were all lost once on a loaded 2-core CI machine to a
 * process removing the folder without pause (fs-blob-store.test's stand-in for many deletes).
 */
export const maxWriteTries = 1000;

/**
 * Whether a put's try that failed with `code` is worth another: ENOENT, from its mkdir or its
 * file, means a delete removed its folder under it, and the next try makes it again.
 */
export function retriesWrite(code, tries) {
  return code === 'ENOENT' && tries < maxWriteTries;
}

/**
 * What a plain mkdir of `at` that failed with `error` says about a recursive mkdir's ENOENT
 * (`missing`): undefined when `at`'s parent is missing too (look one folder up). `folderThere`
 * is whether `at` is a folder now, or gone again (asked only on EEXIST).
 */
function judged(at, error, missing, folderThere) {
  if (error?.code === 'ENOENT' && dirname(at) !== at) return undefined;
  if (error?.code === 'EEXIST') {
    // A folder there now, or gone again: a delete raced the recursive mkdir: try the whole put
    // again. Anything else (a dangling symlink, which mkdir -p reads as missing) would fail every try.
    if (folderThere) return { error: missing };
    return { error: Object.assign(new Error(`ENOTDIR: not a directory, mkdir '${at}'`), { code: 'ENOTDIR', errno: -20, syscall: 'mkdir', path: at }) };
  }
  return { error }; // the real reason: EROFS, EACCES, ENOSPC, EDQUOT, ENOTDIR, EIO…
}

/**
 * `at` is a folder (or a link to one), or nothing at all any more (a delete raced this mkdir).
 * Its own entry first: a folder removed between two looks must not read as "not a folder".
 */
const isFolderSync = (at) => {
  const entry = lstatSync(at, { throwIfNoEntry: false });
  if (entry === undefined || !entry.isSymbolicLink()) return entry === undefined || entry.isDirectory();
  return statSync(at, { throwIfNoEntry: false })?.isDirectory() === true;
};
const isFolder = async (at) => {
  const entry = await lstat(at).catch(() => undefined);
  if (entry === undefined || !entry.isSymbolicLink()) return entry === undefined || entry.isDirectory();
  return stat(at).then((info) => info.isDirectory(), () => false);
};

/**
 * After a recursive mkdir of `folder` failed with ENOENT (`missing`), makes the first missing
 * folder on its path with a plain mkdir, walking up from `folder`. Returns the folder it made, if
 * any (the caller must take it away if the put fails), and the error: none when `folder` itself
 * was the one missing, ENOENT (`missing`) when the put should try again, else the real one.
 */
export function makeFirstMissingSync(folder, missing) {
  for (let at = folder; ; at = dirname(at)) {
    try {
      mkdirSync(at);
      return at === folder ? { created: at } : { created: at, error: missing };
    } catch (error) {
      const outcome = judged(at, error, missing, error?.code === 'EEXIST' && isFolderSync(at));
      if (outcome) return outcome;
    }
  }
}

/** makeFirstMissingSync through fs/promises. */
export async function makeFirstMissing(folder, missing) {
  for (let at = folder; ; at = dirname(at)) {
    try {
      await mkdir(at);
      return at === folder ? { created: at } : { created: at, error: missing };
    } catch (error) {
      const outcome = judged(at, error, missing, error?.code === 'EEXIST' && (await isFolder(at)));
      if (outcome) return outcome;
    }
  }
}

/**
 * mkdir -p `folder`. Returns the topmost folder it made (undefined when none; the caller must
 * take it away if the put fails) and the error, if any: ENOENT only when a delete removed a
 * folder on the path meanwhile (try again), never for a read-only volume.
 */
export function makeFolderSync(folder) {
  try {
    return { created: mkdirSync(folder, { recursive: true }) };
  } catch (error) {
    return error?.code === 'ENOENT' ? makeFirstMissingSync(folder, error) : { error };
  }
}

/** makeFolderSync through fs/promises. */
export async function makeFolder(folder) {
  try {
    return { created: await mkdir(folder, { recursive: true }) };
  } catch (error) {
    return error?.code === 'ENOENT' ? makeFirstMissing(folder, error) : { error };
  }
}
