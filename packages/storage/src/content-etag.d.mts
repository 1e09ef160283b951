/** The ETag of `data`, the whole contents of an object: their sha256 and size. */
export declare function contentEtag(data: Uint8Array): string;
/** The ETag of the open file `fd`, read from its start to its end. */
export declare function fileEtag(fd: number): string;
/** The size an ETag of this store names, or undefined for another form (another store's). */
export declare function etagBytes(etag: string): number | undefined;
