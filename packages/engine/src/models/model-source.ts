import { stat } from 'node:fs/promises';
import { isAbsolute, resolve } from 'node:path';
import { EngineError } from '../errors.ts';
import { type BuiltinModel, builtinModels } from './builtin-models.ts';

/** What a model source (`--model`, an entry of GRADCAM_MODELS) names: a built-in model, or a model folder. */
export type ModelSource = { readonly kind: 'builtin'; readonly model: BuiltinModel } | { readonly kind: 'directory'; readonly dir: string };

export interface ResolveOptions {
  /** What a relative folder is relative to: the process's own by default; `gradcam up` passes the services' (the repository). */
  readonly cwd?: string | undefined;
}

/** A source written as a path (`./models/mine`, `/srv/models/mine`, `models/mine`), never a built-in model's name. */
function looksLikePath(source: string): boolean {
  return isAbsolute(source) || source.includes('/') || source.includes('\\') || source.startsWith('.') || source.startsWith('~');
}

/**
 * How every model source is read, by loadModel (the worker, gradcam explain) and by the start's
 * checks (gradcam up): a built-in model's name, else a folder there is. Neither is MODEL_NOT_FOUND,
 * naming the source and the built-in models; one written as a path says the folder is not there
 * (or is a file), where it looked. Whether the folder holds a model is for loadModel to find.
 */
export async function resolveModelSource(source: string, options: ResolveOptions = {}): Promise<ModelSource> {
  const builtin = builtinModels.find((m) => m.descriptor.name === source);
  if (builtin) return { kind: 'builtin', model: builtin };
  const dir = resolve(options.cwd ?? process.cwd(), source);
  const found = await stat(dir).catch(() => undefined);
  if (found?.isDirectory()) return { kind: 'directory', dir };
  const known = builtinModels.map((m) => m.descriptor.name).join(', ');
  if (!looksLikePath(source)) throw new EngineError('MODEL_NOT_FOUND', `unknown model "${source}": not a built-in model (${known}) nor a model directory`);
  const what = found === undefined ? `no folder at ${dir}` : `${dir} is a file, not a model folder`;
  throw new EngineError('MODEL_NOT_FOUND', `unknown model "${source}": ${what} (built-in models: ${known})`);
}
