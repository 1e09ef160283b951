import * as tf from '@tensorflow/tfjs';

export interface EngineMemory {
  /** Tensors alive in this process (`tf.memory().numTensors`): flat between batches unless a tensor leaks. */
  readonly tensors: number;
  /**
   * The wasm backend's WebAssembly memory, in bytes: it grows to fit the largest engine call and
   * never shrinks (WebAssembly memory cannot). Undefined on any other backend.
   */
  readonly wasmHeapBytes?: number;
}

/** What the active tfjs backend holds now; cheap enough to read after every batch. */
export function engineMemory(): EngineMemory {
  const tensors = tf.memory().numTensors;
  if (tf.getBackend() !== 'wasm') return { tensors };
  // The emscripten module's views are replaced as its memory grows, so HEAPU8 is always the whole heap.
  const heap = (tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } }).wasm?.HEAPU8;
  return heap === undefined ? { tensors } : { tensors, wasmHeapBytes: heap.buffer.byteLength };
}
