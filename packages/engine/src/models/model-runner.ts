import type { Tensor, Tensor2D, Tensor4D } from '@tensorflow/tfjs';
import type { OutputActivation } from './output-activation.ts';

/** What the trunk hands to the head: the target activations plus any tensors that bypass them. */
export interface TrunkOutput {
  readonly activations: Tensor4D;
  /** Tensors the head needs that do not depend on the target (e.g. a skip connection around it). */
  readonly bypass: readonly Tensor[];
}

/**
 * A model split at its target layer. Grad-CAM runs the trunk once (input → target activations)
 * and differentiates only the head (activations → logits), so the backward pass never touches the
 * trunk's convolutions.
 */
export interface ModelRunner {
  readonly targetLayer: string;
  /** [height, width, channels] of the target activations. */
  readonly targetShape: readonly [number, number, number];
  /** Classes the head scores: a one-unit sigmoid output counts as two (negative, positive). */
  readonly numClasses: number;
  /** How the scores become the model's probabilities (see output-activation.ts). */
  readonly outputActivation: OutputActivation;
  trunk(input: Tensor4D): TrunkOutput;
  /** Class scores before the output activation (logits). Pure in `activations`, so it can be differentiated. */
  head(activations: Tensor4D, bypass: readonly Tensor[]): Tensor2D;
  /** Full forward pass to logits, for baselines and perturbation methods. */
  logits(input: Tensor4D): Tensor2D;
  dispose(): void;
}
