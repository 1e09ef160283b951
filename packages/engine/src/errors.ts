/** Stable codes: callers branch on these, users grep for them. */
export type EngineErrorCode =
  | 'BACKEND_UNAVAILABLE'
  | 'MODEL_NOT_FOUND'
  | 'MODEL_INVALID'
  /** With LoadOptions.keySafeIdentity: the model's name or version cannot be a storage key segment. */
  | 'MODEL_NAME_INVALID'
  | 'TARGET_LAYER_NOT_FOUND'
  | 'TARGET_LAYER_INVALID'
  | 'METHOD_UNKNOWN'
  | 'CLASS_OUT_OF_RANGE'
  | 'INPUT_INVALID';

export class EngineError extends Error {
  override readonly name = 'EngineError';
  readonly code: EngineErrorCode;

  constructor(
    code: EngineErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.code = code;
  }
}
