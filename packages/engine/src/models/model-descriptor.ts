import type { PreprocessingSpec } from '@gradcam/contracts';

/** Everything the engine must know about a model besides its weights. */
export interface ModelDescriptor {
  readonly name: string;
  readonly version: string;
  readonly format: 'layers' | 'graph';
  readonly preprocessing: PreprocessingSpec;
  readonly labels: readonly string[];
  /** Layer name (layers models) or node name (graph models); discovered when absent. */
  readonly targetLayer?: string;
  /** Graph models: the node holding pre-softmax scores; discovered when absent. */
  readonly logitsNode?: string;
  readonly description?: string;
}
