import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { engineMemory } from './engine-memory.ts';
import { selectBackend } from './select-backend.ts';

test('wasm: the tensors alive and the WebAssembly heap, which grows to fit a large tensor and does not shrink once it is disposed', async () => {
  await selectBackend('wasm');
  const before = engineMemory();
  assert.ok(before.wasmHeapBytes !== undefined && before.wasmHeapBytes > 0, JSON.stringify(before));
  const large = tf.zeros([64, 1024, 1024]); // 256 MiB of float32 in the heap
  const holding = engineMemory();
  assert.equal(holding.tensors, before.tensors + 1);
  assert.ok((holding.wasmHeapBytes ?? 0) >= before.wasmHeapBytes + 200 * 1024 * 1024, `${before.wasmHeapBytes} → ${holding.wasmHeapBytes}`);
  large.dispose();
  const after = engineMemory();
  assert.equal(after.tensors, before.tensors);
  assert.equal(after.wasmHeapBytes, holding.wasmHeapBytes, 'WebAssembly memory never shrinks');
});

test('another backend: the tensors alive, no WebAssembly heap', async () => {
  await selectBackend('cpu');
  try {
    const before = engineMemory();
    assert.equal(before.wasmHeapBytes, undefined);
    const one = tf.scalar(1);
    assert.equal(engineMemory().tensors, before.tensors + 1);
    one.dispose();
  } finally {
    await selectBackend('wasm');
  }
});
