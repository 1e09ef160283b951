/**
 * The object's own folder (for its rename) and, when mkdir created folders (`firstCreated` is
 * what a recursive mkdir returns: the topmost one it made), each created folder's parent.
 */
export declare function foldersToSync(folder: string, firstCreated: string | undefined): string[];
/** Errors of fsyncing a folder that leave nothing to do (the folder is gone; the filesystem cannot). */
export declare function folderSyncNeedless(code: string | undefined): boolean;
