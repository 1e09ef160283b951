/** Why a .npy file was refused: damaged bytes, or a valid file this codec does not read. */
export type NpyErrorCode = 'NPY_MALFORMED' | 'NPY_UNSUPPORTED';

/**
 * Separate from ImagingError: .npy files are the pipeline's own artifacts read back from
 * storage, not client input, so a failure here points at storage or a foreign file, not the user.
 */
export class NpyError extends Error {
  readonly code: NpyErrorCode;

  constructor(code: NpyErrorCode, message: string) {
    super(message);
    this.name = 'NpyError';
    this.code = code;
  }
}
