export { EngineError, type EngineErrorCode } from './errors.ts';
export {
  backendPreferences,
  selectBackend,
  type BackendName,
  type BackendPreference,
  type SelectedBackend,
} from './backends/select-backend.ts';
export { installWasmKernelFallbacks, wasmDelegatedKernels } from './backends/fallback-kernels.ts';
export { engineMemory, type EngineMemory } from './backends/engine-memory.ts';
export type { ModelDescriptor } from './models/model-descriptor.ts';
export { builtinModels, defaultModelName, type BuiltinModel } from './models/builtin-models.ts';
export { readModelDirectory, toArtifacts } from './models/model-artifacts.ts';
export { resolveModelSource, type ModelSource, type ResolveOptions } from './models/model-source.ts';
export { loadModel, loadModelFromArtifacts, descriptorFileName, type LoadedModel, type LoadOptions } from './models/load-model.ts';
export { modelWeightsSha256 } from './models/weights-sha256.ts';
export type { ModelRunner, TrunkOutput } from './models/model-runner.ts';
export type { OutputActivation } from './models/output-activation.ts';
export { camMethods, methodNames, parseMethodName, type MethodName } from './methods/method-registry.ts';
export { scoreCamChannelCount } from './methods/score-cam.ts';
export type { CamMethod, PerturbationOptions } from './methods/cam-method.ts';
export { resolveTargets, predictedClass, type TargetSpec } from './targets.ts';
export { mapStatistics, normaliseMap, type MapStatistics } from './map-statistics.ts';
export {
  Explainer,
  paddedBatchSize,
  warmUpBatchSizes,
  type BatchExplanation,
  type BatchPadding,
  type ExplainerOptions,
  type CamMap,
  type ExplainOptions,
  type ImageExplanation,
  type StageTimings,
} from './explainer.ts';
export { engineInfo } from './engine-info.ts';
