import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from './backends/select-backend.ts';
import { EngineError } from './errors.ts';
import { type BatchExplanation, Explainer, paddedBatchSize, warmUpBatchSizes } from './explainer.ts';
import type { MethodName } from './methods/method-registry.ts';
import { loadModel } from './models/load-model.ts';
import { fixtureInput } from './test-support/fixture-images.ts';

const images = ['house-cat-locomotion.jpg', 'cartoon-open-peeps.jpg'];
const gradientAndEigen: MethodName[] = ['gradcam', 'gradcam++', 'xgradcam', 'layercam', 'hirescam', 'eigencam'];

function mapsByKey(result: BatchExplanation): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  result.images.forEach((image, i) => {
    for (const map of image.maps) out.set(`${i}/${map.method}/${map.classIndex}`, map.normalized);
  });
  return out;
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  return a.reduce((worst, v, i) => Math.max(worst, Math.abs(v - (b[i] as number))), 0);
}

test('batches are padded to a power of two only where kernels are compiled per shape', () => {
  const sizes = (padding: 'auto' | 'power-of-two' | 'none', backend: string, methods: MethodName[] = ['gradcam']) =>
    [1, 2, 3, 5, 8, 24, 32, 33].map((n) => paddedBatchSize(n, padding, backend, methods));
  assert.deepEqual(sizes('auto', 'webgpu'), [1, 2, 4, 8, 8, 32, 32, 64]);
  assert.deepEqual(sizes('auto', 'webgl'), [1, 2, 4, 8, 8, 32, 32, 64]);
  assert.deepEqual(sizes('auto', 'wasm'), [1, 2, 3, 5, 8, 24, 32, 33]);
  assert.deepEqual(sizes('auto', 'tensorflow'), [1, 2, 3, 5, 8, 24, 32, 33]);
  assert.deepEqual(sizes('power-of-two', 'cpu'), [1, 2, 4, 8, 8, 32, 32, 64]);
  assert.deepEqual(sizes('none', 'webgpu'), [1, 2, 3, 5, 8, 24, 32, 33]);
  // Score-CAM works image by image: padding would only add blank images to perturb.
  assert.deepEqual(sizes('auto', 'webgpu', ['gradcam', 'scorecam']), [1, 2, 3, 5, 8, 24, 32, 33]);
});

test('a worker warms up every padded batch size where kernels are compiled per shape, else one image', () => {
  assert.deepEqual(warmUpBatchSizes(8, 'webgpu'), [1, 2, 4, 8]);
  assert.deepEqual(warmUpBatchSizes(24, 'webgpu'), [1, 2, 4, 8, 16, 32]);
  assert.deepEqual(warmUpBatchSizes(1, 'webgpu'), [1]);
  assert.deepEqual(warmUpBatchSizes(32, 'wasm'), [1]);
  assert.deepEqual(warmUpBatchSizes(32, 'tensorflow'), [1]);
});

describe('Explainer on the built-in MobileNetV2', () => {
  let inputs: Float32Array[];
  let explainer: Explainer;
  before(async () => {
    await selectBackend('wasm');
    inputs = await Promise.all(images.map((file) => fixtureInput(file, 224)));
    explainer = new Explainer(await loadModel('nsfw-mobilenet-v2'));
  });

  test('targets the out_relu layer and keeps the raw map unnormalised', async () => {
    assert.equal(explainer.model.runner.targetLayer, 'out_relu');
    const { images: [first] } = await explainer.explain(inputs.slice(0, 1));
    const map = first?.maps[0];
    assert.ok(map);
    assert.equal(map.method, 'gradcam');
    assert.equal(map.classIndex, first?.predictedClass);
    assert.deepEqual([map.width, map.height, map.raw.length], [7, 7, 49]);
    assert.equal(Math.max(...map.raw), map.stats.max);
    assert.ok(map.stats.max > 0 && map.stats.max !== 1, `raw max ${map.stats.max} is the method's own scale`);
    assert.equal(Math.max(...map.normalized), 1);
    const total = first?.probabilities.reduce((a, b) => a + b, 0) ?? 0;
    assert.ok(Math.abs(total - 1) < 1e-5);
  });

  test('a real model: the cartoon is classified as a Drawing, the sheep photo as Neutral', async () => {
    const sheep = await fixtureInput('sheep-pastoral.jpg', 224);
    const { images: [cartoon, photo] } = await explainer.explain([inputs[1] as Float32Array, sheep]);
    assert.equal(cartoon?.predictedLabel, 'Drawing');
    assert.equal(photo?.predictedLabel, 'Neutral');
    assert.ok((photo?.probabilities[2] ?? 0) > 0.9);
  });

  test('no tensor leaks: the count after a batch equals the count before, every method', async () => {
    await explainer.explain(inputs, { methods: ['gradcam'] }); // warm-up allocations
    const before = tf.memory().numTensors;
    await explainer.explain(inputs, { methods: [...gradientAndEigen, 'scorecam'], targets: { kind: 'topK', k: 2 }, scoreCam: { maxChannels: 4 } });
    await explainer.predict(inputs);
    assert.equal(tf.memory().numTensors, before);
  });

  test('deterministic: the same input gives the same maps twice', async () => {
    const a = mapsByKey(await explainer.explain(inputs, { methods: gradientAndEigen }));
    const b = mapsByKey(await explainer.explain(inputs, { methods: gradientAndEigen }));
    for (const [key, map] of a) assert.deepEqual(b.get(key), map, key);
  });

  test('per-image gradients: a batch gives each image the map it gets alone', async () => {
    const together = await explainer.explain(inputs);
    const alone = await explainer.explain(inputs.slice(1));
    const diff = maxAbsDiff(together.images[1]?.maps[0]?.raw as Float32Array, alone.images[0]?.maps[0]?.raw as Float32Array);
    assert.ok(diff < 1e-4 * (alone.images[0]?.maps[0]?.stats.max ?? 1), `diff ${diff}`);
  });

  test('top-k and explicit classes, one backward pass per rank', async () => {
    const topk = await explainer.explain(inputs, { methods: ['gradcam', 'layercam'], targets: { kind: 'topK', k: 3 } });
    for (const image of topk.images) {
      const ranked = [...image.logits.keys()].sort((a, b) => (image.logits[b] as number) - (image.logits[a] as number)).slice(0, 3);
      assert.deepEqual(image.maps.filter((m) => m.method === 'gradcam').map((m) => m.classIndex), ranked);
      assert.equal(image.maps.length, 6);
    }
    const perImage = await explainer.explain(inputs, { targets: [{ kind: 'classes', classes: [4] }, { kind: 'classes', classes: [0, 2] }] });
    assert.deepEqual(perImage.images.map((i) => i.maps.map((m) => m.classIndex)), [[4], [0, 2]]);
    // Different classes give different maps: the class logit is what gets differentiated.
    const [m0, m2] = perImage.images[1]?.maps ?? [];
    assert.ok(maxAbsDiff(m0?.normalized as Float32Array, m2?.normalized as Float32Array) > 0.05);
  });

  test('a batch padded to a power of two gives each real image the maps it gets unpadded', async () => {
    const three = [...inputs, inputs[0] as Float32Array];
    const padded = new Explainer(explainer.model, { batchPadding: 'power-of-two' });
    const options = { methods: gradientAndEigen, targets: { kind: 'topK', k: 2 } } as const;
    const [plain, withBlank] = [await explainer.explain(three, options), await padded.explain(three, options)];
    assert.equal(withBlank.images.length, 3);
    const plainMaps = mapsByKey(plain);
    const paddedMaps = mapsByKey(withBlank);
    assert.equal(paddedMaps.size, plainMaps.size);
    for (const [key, map] of plainMaps) assert.ok(maxAbsDiff(map, paddedMaps.get(key) as Float32Array) < 1e-4, key);
    assert.deepEqual(withBlank.images.map((i) => i.predictedClass), plain.images.map((i) => i.predictedClass));
  });

  test('Score-CAM yields to the event loop between its forward passes: the longest stall is a fraction of the call', async () => {
    // wasm runs kernels synchronously: without the yields the whole call is one stall, and a
    // worker could neither renew its job locks nor answer /metrics. 8 passes of one masked image.
    const options = { methods: ['scorecam'], scoreCam: { maxChannels: 8, batchSize: 1 } } as const;
    const expected = mapsByKey(await explainer.explain(inputs.slice(0, 1), options)); // warm-up
    let last = performance.now();
    let longest = 0;
    const timer = setInterval(() => {
      const now = performance.now();
      longest = Math.max(longest, now - last);
      last = now;
    }, 2);
    const started = performance.now();
    let result: BatchExplanation;
    try {
      result = await explainer.explain(inputs.slice(0, 1), options);
    } finally {
      clearInterval(timer);
    }
    const ended = performance.now();
    longest = Math.max(longest, ended - last); // the stretch since the timer last ran
    const total = ended - started;
    assert.ok(longest < total / 2, `longest event-loop stall ${longest.toFixed(0)} ms of a ${total.toFixed(0)} ms call`);
    // The same maps as any other call: yielding changes when the passes run, not what they compute.
    for (const [key, map] of mapsByKey(result)) assert.deepEqual(map, expected.get(key), key);
  });

  test('bad requests fail with stable codes', async () => {
    await assert.rejects(explainer.explain(inputs, { targets: { kind: 'classes', classes: [5] } }), (e: unknown) => e instanceof EngineError && e.code === 'CLASS_OUT_OF_RANGE');
    await assert.rejects(explainer.explain([new Float32Array(10)]), (e: unknown) => e instanceof EngineError && e.code === 'INPUT_INVALID');
  });

  test('wasm and cpu backends give the same maps (within 1e-4 after normalisation)', async () => {
    const onWasm = await explainer.explain(inputs, { methods: gradientAndEigen, targets: { kind: 'topK', k: 2 } });
    await selectBackend('cpu');
    try {
      const onCpu = await explainer.explain(inputs, { methods: gradientAndEigen, targets: { kind: 'topK', k: 2 } });
      const cpuMaps = mapsByKey(onCpu);
      const wasmMaps = mapsByKey(onWasm);
      assert.equal(cpuMaps.size, 2 * 2 * gradientAndEigen.length);
      for (const [key, map] of wasmMaps) {
        const diff = maxAbsDiff(map, cpuMaps.get(key) as Float32Array);
        assert.ok(diff < 1e-4, `${key}: max |wasm − cpu| = ${diff}`);
      }
    } finally {
      await selectBackend('wasm');
    }
  });

  test('concurrent calls each explain their own images, on the CPU backend too (it reads its input arrays in place)', async () => {
    // Score-CAM reads the input tensor again after the first await, when another call may have
    // staged its own batch: each call must hold its own staging array until its tensor is gone.
    const options = { methods: ['gradcam', 'scorecam'], scoreCam: { maxChannels: 2, batchSize: 2 } } as const;
    await selectBackend('cpu');
    try {
      const [a, b] = inputs.map((input) => [input]) as [Float32Array[], Float32Array[]];
      const alone = [await explainer.explain(a, options), await explainer.explain(b, options)];
      const together = await Promise.all([explainer.explain(a, options), explainer.explain(b, options)]);
      together.forEach((result, i) => {
        const expected = mapsByKey(alone[i] as BatchExplanation);
        const got = mapsByKey(result);
        assert.equal(got.size, expected.size);
        for (const [key, map] of expected) assert.equal(maxAbsDiff(map, got.get(key) as Float32Array), 0, `call ${i}: ${key}`);
      });
    } finally {
      await selectBackend('wasm');
    }
  });

  test('webgpu gives the wasm maps where a WebGPU adapter exists, else a BACKEND_UNAVAILABLE error saying what to install', async (t) => {
    // eigencam reads its Gram matrix back before the maps: a synchronous read of a GPU tensor
    // goes through OffscreenCanvas in tfjs-backend-webgpu, which Node does not have.
    const methods: MethodName[] = ['gradcam', 'gradcam++', 'eigencam'];
    const onWasm = await explainer.explain(inputs, { methods });
    const selected = await selectBackend('webgpu').catch((error: unknown) => {
      assert.ok(error instanceof EngineError && error.code === 'BACKEND_UNAVAILABLE');
      assert.match(error.message, /backend webgpu is not available \(webgpu: (no WebGPU adapter: install the Vulkan loader \(libvulkan1\)|Cannot find)/);
      t.diagnostic(`no WebGPU adapter here: checked the error (${error.message})`);
      return undefined;
    });
    if (!selected) return;
    t.diagnostic(`compared with wasm on ${selected.device ?? 'an unnamed adapter'}`);
    try {
      const onGpu = await explainer.explain(inputs, { methods });
      assert.deepEqual(onGpu.images.map((i) => i.predictedClass), onWasm.images.map((i) => i.predictedClass));
      const gpuMaps = mapsByKey(onGpu);
      for (const [key, map] of mapsByKey(onWasm)) {
        const diff = maxAbsDiff(map, gpuMaps.get(key) as Float32Array);
        assert.ok(diff < 1e-4, `${key}: max |wasm − webgpu| = ${diff}`);
      }
    } finally {
      await selectBackend('wasm');
    }
  });
});
