import type { BackendDetails } from '@gradcam/contracts';
import * as tf from '@tensorflow/tfjs';

/** The three builds tfjs-backend-wasm ships, as its own getPathToWasmBinary names them. */
export const wasmBinaries = {
  plain: 'tfjs-backend-wasm.wasm',
  simd: 'tfjs-backend-wasm-simd.wasm',
  threadedSimd: 'tfjs-backend-wasm-threaded-simd.wasm',
} as const;

/**
 * The wasm build that was loaded. tfjs-backend-wasm reads WASM_HAS_SIMD_SUPPORT and
 * WASM_HAS_MULTITHREAD_SUPPORT once, as it initialises (the flags keep those values), and picks
 * its binary from them: threaded SIMD when both, SIMD when only SIMD, else the plain build. In
 * Node, tfjs answers no to threads whatever the platform (tfjs issue 3830), so the SIMD build is
 * the best Node gets. getThreadsCount is XNNPACK's thread pool as initialised (1 without threads).
 */
async function wasmDetails(): Promise<BackendDetails> {
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  const [simd, threaded] = await Promise.all([tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'), tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT')]);
  const wasmBinary = simd === true ? (threaded === true ? wasmBinaries.threadedSimd : wasmBinaries.simd) : wasmBinaries.plain;
  return { simd: simd === true, threads: wasm.getThreadsCount(), wasmBinary };
}

/**
 * What a started backend runs on, for the manifest: wasm its build, webgpu its adapter. Nothing
 * for tensorflow and tensorflow-gpu (the CUDA device is not known without more of libtensorflow
 * than tfjs-node exposes, and no machine here has tfjs-node to check what it does expose) nor cpu.
 */
export async function backendDetails(tfBackend: string, device: string | undefined): Promise<BackendDetails | undefined> {
  if (tfBackend === 'wasm') return wasmDetails();
  if (tfBackend === 'webgpu' && device !== undefined) return { adapter: device };
  return undefined;
}
