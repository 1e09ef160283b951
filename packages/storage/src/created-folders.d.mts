/**
 * The folders from the object's `folder` up to `firstCreated` (what a recursive mkdir returns),
 * deepest first, below `root`; none when mkdir made none.
 */
export declare function createdFolders(folder: string, root: string, firstCreated: string | undefined): string[];
/** The topmost of two folders mkdir reported making for one put (both on one path), or either. */
export declare function topmost(a: string | undefined, b: string | undefined): string | undefined;
