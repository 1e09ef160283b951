import type { Tensor3D, Tensor4D } from '@tensorflow/tfjs';
import type { ModelRunner } from '../models/model-runner.ts';

/** Maps from target activations A and the gradients dScore/dA, both [batch, h, w, channels]. */
export interface GradientCamMethod {
  readonly kind: 'gradient';
  readonly name: string;
  compute(activations: Tensor4D, gradients: Tensor4D): Tensor3D;
}

/**
 * Maps from activations alone: class-independent, no backward pass. Asynchronous because a method
 * may read tensors back to finish on the CPU (EigenCAM's eigenvector), and a synchronous read of a
 * GPU tensor fails on the WebGPU backend in Node; it disposes every tensor it makes but the result.
 */
export interface ActivationCamMethod {
  readonly kind: 'activation';
  readonly name: string;
  compute(activations: Tensor4D): Promise<Tensor3D>;
}

export interface PerturbationContext {
  readonly runner: ModelRunner;
  /** One preprocessed image, [1, H, W, 3]. */
  readonly input: Tensor4D;
  /** Its target activations, [1, h, w, C]. */
  readonly activations: Tensor4D;
  readonly classes: readonly number[];
  readonly options: PerturbationOptions;
}

export interface PerturbationOptions {
  /** Score-CAM: keep the N channels with the highest mean activation (0 = all). */
  readonly maxChannels: number;
  /** Masked images per forward pass. */
  readonly batchSize: number;
}

/**
 * Maps from extra forward passes on perturbed inputs; one image at a time: [classes, h, w].
 * Asynchronous because it yields to the event loop between its forward passes; it disposes every
 * tensor it makes but the result, also when it fails.
 */
export interface PerturbationCamMethod {
  readonly kind: 'perturbation';
  readonly name: string;
  compute(context: PerturbationContext): Promise<Tensor3D>;
}

export type CamMethod = GradientCamMethod | ActivationCamMethod | PerturbationCamMethod;
