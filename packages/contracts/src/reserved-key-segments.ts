/**
 * Folder or file names the stores refuse in a storage key, for the values that become key
 * segments (model names and versions, the storage prefix) to be refused before they reach one.
 */

/** '.' and '..' climb folders; every store refuses them, so names of dots only are refused. */
export const dotsOnlySegment = /^\.+$/;

/**
 * The filesystem store's temporary files (`.<name>.<16 hex>.partial`). @gradcam/storage's
 * `partialName` is the same pattern: its I/O threads load it as plain JavaScript, so it keeps
 * its own copy.
 */
export const temporaryFileSegment = /^\..*\.[0-9a-f]{16}\.partial$/;

/**
 * The folder under the storage prefix where erasure records are kept (erasureRecordKey). A model
 * name may not be this (modelNameSchema refuses it), so no inference's folder is ever under it.
 */
export const erasuresFolderName = '_erasures';
