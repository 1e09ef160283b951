import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from './select-backend.ts';
import { wasmBinaries } from './backend-details.ts';

/** The emscripten module of the wasm backend: its locateFile is the one tfjs gave it to find its binary. */
interface WasmModule {
  readonly locateFile: (path: string, prefix: string) => string;
}

test('wasm: the details name the build that was loaded (SIMD in Node, one XNNPACK thread), as the module itself locates its binary', async () => {
  const selected = await selectBackend('wasm');
  // Node has had WebAssembly SIMD since 16.4; tfjs never gives Node the threaded build (tfjs issue 3830).
  assert.deepEqual(selected.details, { simd: true, threads: 1, wasmBinary: wasmBinaries.simd });
  // The binary the running module was instantiated from: its locateFile closes over the flags
  // tfjs read as it initialised, and maps any '.wasm' request to the file it loaded.
  const module = (tf.backend() as unknown as { wasm: WasmModule }).wasm;
  assert.equal(module.locateFile('any.wasm', ''), selected.details?.wasmBinary);
});

test('cpu: no details (nothing to tell beyond the backend)', async () => {
  const selected = await selectBackend('cpu');
  assert.equal(selected.details, undefined);
  await selectBackend('wasm');
});
