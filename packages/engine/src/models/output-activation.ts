import * as tf from '@tensorflow/tfjs';
import type { Tensor, Tensor2D } from '@tensorflow/tfjs';

/**
 * How a runner's scores (its head's and logits' output) become the model's probabilities: the
 * activation the runner stripped from the model's output. A model that ends without one has its
 * scores read as logits, as Keras' `from_logits` losses do: softmax across several units, a
 * sigmoid on a single unit. There is no third, "none", reading: probabilities are 0…1 in every
 * manifest, and a linear output is logits by that same convention.
 */
export type OutputActivation = 'softmax' | 'sigmoid';

/** The activation to apply, from the one stripped (if any) and the model's output units. */
export function resolveOutputActivation(stripped: OutputActivation | undefined, units: number): OutputActivation {
  return stripped ?? (units === 1 ? 'sigmoid' : 'softmax');
}

/**
 * A one-unit sigmoid output is a binary classifier: explained as two classes with logits [−z, z]
 * (class 0 = negative, class 1 = positive), whose sigmoids are [1 − p, p]. So "predicted" picks
 * the class the model says, and the gradient of class 0 is evidence for "negative".
 */
export function isBinary(activation: OutputActivation, units: number): boolean {
  return activation === 'sigmoid' && units === 1;
}

/** [batch, 1] scores z → [batch, 2] logits [−z, z]. Call it inside a tidy, as a runner's head. */
export function binaryLogits(z: Tensor2D): Tensor2D {
  return tf.concat([tf.neg(z), z], 1);
}

/** Scores [batch, classes] → the model's probabilities, as the model's own output gives them. */
export function toProbabilities(scores: Tensor, activation: OutputActivation): Tensor {
  return activation === 'sigmoid' ? tf.sigmoid(scores) : tf.softmax(scores);
}

/** One image's scores → probabilities, on the CPU (a handful of numbers). */
export function probabilitiesOf(scores: ArrayLike<number>, activation: OutputActivation): number[] {
  if (activation === 'sigmoid') return Array.from(scores, (v) => 1 / (1 + Math.exp(-v)));
  const values = Array.from(scores);
  const max = Math.max(...values);
  const exps = values.map((v) => Math.exp(v - max));
  const sum = exps.reduce((a, b) => a + b, 0);
  return exps.map((v) => v / sum);
}
