/** A failed filesystem call, shaped like Node's own fs errors (`code`), plus which step failed. */
export class FsCallError extends Error {
  override readonly name = 'FsCallError';
  readonly code: string | undefined;
  readonly step: string;

  constructor(
    message: string,
    code: string | undefined,
    step: string,
  ) {
    super(message);
    this.code = code;
    this.step = step;
  }
}
