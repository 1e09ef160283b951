import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from './backends/select-backend.ts';
import { EngineError } from './errors.ts';
import { Explainer } from './explainer.ts';
import type { MethodName } from './methods/method-registry.ts';
import type { LoadedModel } from './models/load-model.ts';
import type { ModelDescriptor } from './models/model-descriptor.ts';
import type { ModelRunner } from './models/model-runner.ts';
import { LayersModelRunner } from './models/layers-model-runner.ts';
import { seededValues, tinyBranchyModel } from './test-support/tiny-model.ts';

const descriptor: ModelDescriptor = {
  name: 'tiny',
  version: '1',
  format: 'layers',
  preprocessing: { width: 8, height: 8, fit: 'fill', channelOrder: 'rgb', scale: 1 / 255, mean: [0, 0, 0], std: [1, 1, 1] },
  labels: ['a', 'b', 'c'],
};
const allMethods: MethodName[] = ['gradcam', 'gradcam++', 'xgradcam', 'layercam', 'hirescam', 'eigencam', 'scorecam'];

/** The tiny model's runner with some of its parts replaced. */
function withRunner(runner: ModelRunner, overrides: Partial<ModelRunner>): LoadedModel {
  const wrapped: ModelRunner = {
    targetLayer: runner.targetLayer,
    targetShape: runner.targetShape,
    numClasses: runner.numClasses,
    outputActivation: runner.outputActivation,
    trunk: (input) => runner.trunk(input),
    head: (activations, bypass) => runner.head(activations, bypass),
    logits: (input) => runner.logits(input),
    dispose: () => undefined,
    ...overrides,
  };
  return { descriptor, runner: wrapped, weightsSha256: '0'.repeat(64), loadMs: 0 };
}

describe('Explainer when a call fails part-way (tiny model)', () => {
  let runner: LayersModelRunner;
  const inputs = [seededValues(8 * 8 * 3, 1), seededValues(8 * 8 * 3, 2)];
  before(async () => {
    await selectBackend('wasm');
    runner = new LayersModelRunner(tinyBranchyModel(), 'target');
    await new Explainer({ descriptor, runner, weightsSha256: '0'.repeat(64), loadMs: 0 }).explain(inputs, { methods: allMethods }); // warm-up allocations
  });
  after(() => runner.dispose());

  async function assertFailsWithoutLeaks(model: LoadedModel, methods: MethodName[], message: RegExp) {
    const before = tf.memory().numTensors;
    await assert.rejects(new Explainer(model).explain(inputs, { methods, targets: { kind: 'topK', k: 2 }, scoreCam: { maxChannels: 3, batchSize: 2 } }), message);
    assert.equal(tf.memory().numTensors, before, 'tensors left behind by the failed call');
  }

  test('Score-CAM failing after the gradient and activation maps are made', async () => {
    const model = withRunner(runner, {
      logits: () => {
        throw new Error('simulated Score-CAM failure');
      },
    });
    await assertFailsWithoutLeaks(model, allMethods, /simulated Score-CAM failure/);
  });

  test('the backward pass failing (the head throws under tf.grad) on the second class rank', async () => {
    let calls = 0;
    const model = withRunner(runner, {
      head: (activations, bypass) => {
        if (++calls === 3) throw new Error('simulated backward failure');
        return runner.head(activations, bypass);
      },
    });
    await assertFailsWithoutLeaks(model, ['gradcam', 'layercam'], /simulated backward failure/);
  });

  test('the logits read-back rejecting (a lost device)', async () => {
    const model = withRunner(runner, {
      head: (activations, bypass) => {
        const logits = runner.head(activations, bypass);
        logits.data = () => Promise.reject(new Error('simulated device lost'));
        return logits;
      },
    });
    await assertFailsWithoutLeaks(model, ['gradcam'], /simulated device lost/);
  });

  test('maps take the activations\' size, whatever size the runner declares', async () => {
    // A runner declaring 4×4 for an 8×8 target: slicing by the declaration cut each map from the
    // wrong place and mixed the second image's map with the first's.
    const model = withRunner(runner, { targetShape: [4, 4, 6] });
    const together = await new Explainer(model).explain(inputs, { methods: ['gradcam', 'eigencam'] });
    const alone = await new Explainer(model).explain(inputs.slice(1), { methods: ['gradcam', 'eigencam'] });
    for (const [i, map] of (together.images[1]?.maps ?? []).entries()) {
      assert.deepEqual([map.width, map.height, map.raw.length], [8, 8, 64]);
      const own = alone.images[0]?.maps[i]?.raw as Float32Array;
      map.raw.forEach((v, j) => assert.ok(Math.abs(v - (own[j] as number)) <= 1e-5 * Math.max(1, Math.abs(v)), `${map.method}[${j}]`));
    }
  });

  test('predict() with a runner that throws: the input tensor is disposed and the staging array returned', async () => {
    let fail = true;
    const model = withRunner(runner, {
      logits: (x) => {
        if (fail) {
          tf.mul(x, 2); // work done before the failure, inside predict()'s tidy
          throw new Error('simulated forward failure');
        }
        return runner.logits(x);
      },
    });
    const explainer = new Explainer(model);
    // Private, but it is what leaked: a staging array never handed back is a fresh one each call.
    const staging = () => (explainer as unknown as { staging: Float32Array[] }).staging;
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) await assert.rejects(explainer.predict(inputs), /simulated forward failure/);
    assert.equal(tf.memory().numTensors, before, 'tensors left behind by the failed predict()');
    assert.equal(staging().length, 1, 'the one staging array is back, reused by each call');
    fail = false;
    const logits = await explainer.predict(inputs);
    assert.equal(logits.length, 2 * 3);
    assert.equal(tf.memory().numTensors, before);
    assert.equal(staging().length, 1);
  });

  test('an unknown method or a Score-CAM batch size of 0 is refused before any work', async () => {
    const explainer = new Explainer({ descriptor, runner, weightsSha256: '0'.repeat(64), loadMs: 0 });
    const before = tf.memory().numTensors;
    const code = (expected: string) => (e: unknown) => e instanceof EngineError && e.code === expected;
    await assert.rejects(explainer.explain(inputs, { methods: ['magic' as MethodName] }), code('METHOD_UNKNOWN'));
    await assert.rejects(explainer.explain(inputs, { methods: ['constructor' as MethodName] }), code('METHOD_UNKNOWN'));
    await assert.rejects(explainer.explain(inputs, { methods: ['scorecam'], scoreCam: { batchSize: 0 } }), code('INPUT_INVALID'));
    await assert.rejects(explainer.explain(inputs, { methods: ['scorecam'], scoreCam: { maxChannels: -1 } }), code('INPUT_INVALID'));
    assert.equal(tf.memory().numTensors, before);
  });
});
