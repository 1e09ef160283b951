/**
 * Every folder from the object's own up to the store's `root` (whoever created them), and the
 * folders above the root up to the parent of `firstCreated` when mkdir created the root too.
 */
export declare function foldersToSync(folder: string, root: string, firstCreated: string | undefined): string[];
/** Errors of fsyncing a folder that leave nothing to do (the folder is gone; the filesystem cannot). */
export declare function folderSyncNeedless(code: string | undefined): boolean;
