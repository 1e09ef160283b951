/** Names of temporary files: hidden from listings, refused as keys, swept when stale. */
export declare const partialName: RegExp;
/** A fresh temporary path next to `path`. */
export declare function temporaryPathFor(path: string): string;
