import { EngineError, type EngineErrorCode } from '@gradcam/engine';

/** Engine codes that come from the settings (GRADCAM_MODELS and the models' own descriptors). */
const settingsCodes: ReadonlySet<EngineErrorCode> = new Set(['MODEL_NOT_FOUND', 'MODEL_NAME_INVALID', 'TARGET_LAYER_NOT_FOUND', 'TARGET_LAYER_INVALID', 'METHOD_UNKNOWN']);

/** File-system answers that a retry would get again: the path is not there, or not readable. */
const lastingFileErrors: ReadonlySet<string> = new Set(['ENOENT', 'ENOTDIR', 'EISDIR', 'EACCES', 'EPERM']);

/**
 * Whether an engine process's start-up failure would repeat on every start, so that its
 * supervisor should give up at once (it exits with the configuration code) rather than after five
 * slow model loads: an unknown model name or folder, a name or version that cannot be a storage
 * key, a bad target layer or method, a model.json that is not JSON. Not a model
 * that failed to load (MODEL_INVALID wraps whatever the backend threw, a GPU out of memory while
 * uploading weights included), a backend that did not start, nor a model file that could not be
 * read for a passing reason (EMFILE, EIO, a network file system's hiccup): those are retried.
 */
export function failsEveryStart(error: unknown): boolean {
  if (!(error instanceof EngineError)) return false;
  // A model.json that is not JSON is read again, unchanged, by every start.
  if (error.code === 'MODEL_INVALID' && error.cause instanceof SyntaxError) return true;
  if (!settingsCodes.has(error.code)) return false;
  const fileError = (error.cause as NodeJS.ErrnoException | undefined)?.code;
  return fileError === undefined || lastingFileErrors.has(fileError);
}
