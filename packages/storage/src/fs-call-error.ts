/** A failed filesystem call, shaped like Node's own fs errors (`code`), plus which step failed. */
export class FsCallError extends Error {
  override readonly name = 'FsCallError';
  constructor(
    message: string,
    readonly code: string | undefined,
    readonly step: string,
  ) {
    super(message);
  }
}
