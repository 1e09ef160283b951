/** What making a put's folder did: the topmost folder made (if any), and the error (if any). */
export interface MadeFolder {
  readonly created?: string | undefined;
  /** ENOENT only when a delete removed a folder on the path meanwhile: try again. */
  readonly error?: unknown;
}
/** Tries of a put whose folder concurrent deletes keep removing. */
export declare const maxWriteTries: number;
/** Whether a put's try that failed with `code` (ENOENT: its folder was removed under it) is worth another. */
export declare function retriesWrite(code: string | undefined, tries: number): boolean;
/** After a recursive mkdir's ENOENT (`missing`), a plain mkdir of the first missing folder: the real errno, or ENOENT to try again. */
export declare function makeFirstMissingSync(folder: string, missing: unknown): MadeFolder;
export declare function makeFirstMissing(folder: string, missing: unknown): Promise<MadeFolder>;
/** mkdir -p, never taking a read-only volume (or any other failure) for a missing folder. */
export declare function makeFolderSync(folder: string): MadeFolder;
export declare function makeFolder(folder: string): Promise<MadeFolder>;
