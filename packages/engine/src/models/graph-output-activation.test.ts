import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../backends/select-backend.ts';
import { seededValues } from '../test-support/tiny-model.ts';
import { graphOutputActivation, withGraphOutputActivation } from './graph-output-activation.ts';
import type { ModelRunner } from './model-runner.ts';

before(() => selectBackend('wasm'));

/** A GraphDef holding a chain of [name, op] nodes, each fed by the one before. */
function chain(...nodes: [string, string][]): tf.io.ModelArtifacts {
  return { modelTopology: { node: nodes.map(([name, op], i) => ({ name, op, input: i === 0 ? [] : [`${nodes[i - 1]?.[0]}:0`] })) } };
}

test('the activation between a graph\'s logits node and its output is found, through Identity nodes', () => {
  const head: [string, string][] = [['features', 'Mean'], ['logits', 'BiasAdd']];
  assert.equal(graphOutputActivation(chain(...head, ['probabilities', 'Softmax']), 'probabilities:0', 'logits'), 'softmax');
  assert.equal(graphOutputActivation(chain(...head, ['sigmoid', 'Sigmoid'], ['Identity', 'Identity']), 'Identity', 'logits'), 'sigmoid');
  assert.equal(graphOutputActivation(chain(...head, ['Identity', 'Identity']), 'Identity', 'logits'), undefined, 'logits as the output');
  assert.equal(graphOutputActivation(chain(...head), 'logits', 'logits'), undefined);
  // A declared logits node after the activation: nothing lies between it and the output.
  assert.equal(graphOutputActivation(chain(...head, ['sigmoid', 'Sigmoid'], ['Identity', 'Identity']), 'Identity', 'sigmoid'), undefined);
});

/** A graph-like runner with a one-unit head, z = Σ activations · w per image (real tfjs ops). */
function oneUnitRunner(weights: tf.Tensor4D): ModelRunner {
  return {
    targetLayer: 'features',
    targetShape: [2, 2, 3],
    numClasses: 1,
    trunk: (input) => ({ activations: tf.avgPool(input, 4, 4, 'valid'), bypass: [] }),
    head: (activations) => tf.sum(tf.mul(activations, weights), [1, 2, 3], true).reshape([-1, 1]) as tf.Tensor2D,
    logits(input) {
      return tf.tidy(() => this.head(this.trunk(input).activations, []));
    },
    dispose: () => weights.dispose(),
  };
}

test('a one-unit graph output, sigmoid or linear, is scored as the two classes [−z, z]; softmax runners are left as they are', () => {
  for (const stripped of ['sigmoid', undefined] as const) {
    const inner = oneUnitRunner(tf.tensor4d(seededValues(12, 1).map((v) => v - 0.5), [1, 2, 2, 3]));
    const runner = withGraphOutputActivation(inner, stripped);
    assert.equal(runner.outputActivation, 'sigmoid');
    assert.equal(runner.numClasses, 2);
    const x = tf.tensor4d(seededValues(2 * 8 * 8 * 3, 4), [2, 8, 8, 3]);
    const before = tf.memory().numTensors;
    const [z, scores] = tf.tidy(() => [inner.logits(x).arraySync() as number[][], runner.logits(x).arraySync() as number[][]]);
    z.forEach(([value], b) => assert.deepEqual(scores[b], [-(value as number), value]));
    // Class 0's gradient is class 1's negated.
    const [negative, positive] = tf.tidy(() => {
      const { activations } = runner.trunk(x);
      return [[1, 0], [0, 1]].map((row) => {
        const mask = tf.tensor2d([row, row]);
        return tf.grad((a: tf.Tensor) => tf.sum(tf.mul(runner.head(a as tf.Tensor4D, []), mask)))(activations).arraySync() as number[][][][];
      });
    });
    assert.deepEqual(negative?.flat(3).map((v) => -v), positive?.flat(3));
    assert.equal(tf.memory().numTensors, before);
    x.dispose();
    runner.dispose();
  }
  const softmax = oneUnitRunner(tf.zeros([1, 2, 2, 3]));
  const three = { ...softmax, numClasses: 3 };
  assert.equal(withGraphOutputActivation(three, 'softmax'), three);
  assert.equal(withGraphOutputActivation(three, undefined), three, 'a linear output of several units is read as softmax logits');
  assert.equal(withGraphOutputActivation(three, 'sigmoid').outputActivation, 'sigmoid');
  softmax.dispose();
});
