import { ConfigError } from '@gradcam/config';
import { EngineError, resolveModelSource } from '@gradcam/engine';

/**
 * Refuses, as a ConfigError naming GRADCAM_MODELS, a model the worker could not even find (an
 * unknown name, a folder that is not there), read as the worker reads it (resolveModelSource) from
 * the folder it runs in (`cwd`): otherwise Redis would start and the worker load the other models
 * before it exits. What a folder holds is still the worker's to find when it loads it.
 */
export async function checkServedModels(models: readonly string[], cwd: string): Promise<void> {
  for (const model of models) {
    try {
      await resolveModelSource(model, { cwd });
    } catch (error) {
      if (error instanceof EngineError && error.code === 'MODEL_NOT_FOUND') throw new ConfigError('GRADCAM_MODELS', error.message);
      throw error;
    }
  }
}
