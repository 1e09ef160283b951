import type { BackendDetails } from '@gradcam/contracts';
import * as tf from '@tensorflow/tfjs';
import { EngineError } from '../errors.ts';
import { registerEngineGradients } from '../gradients/register-gradients.ts';
import { backendDetails } from './backend-details.ts';
import { installWasmKernelFallbacks } from './fallback-kernels.ts';
import { installWebGpu } from './webgpu-device.ts';

export const backendPreferences = ['auto', 'tensorflow-gpu', 'webgpu', 'tensorflow', 'wasm', 'cpu'] as const;
export type BackendPreference = (typeof backendPreferences)[number];
export type BackendName = Exclude<BackendPreference, 'auto'>;

export interface SelectedBackend {
  /**
   * What we loaded: `tensorflow-gpu` = @tensorflow/tfjs-node-gpu, `tensorflow` =
   * @tensorflow/tfjs-node, `webgpu` = @tensorflow/tfjs-backend-webgpu on Dawn (the `webgpu` package).
   */
  readonly name: BackendName;
  /** The tfjs backend id (`tensorflow`, `webgpu`, `wasm`, `cpu`). */
  readonly tfBackend: string;
  /** The device behind a GPU backend, for the start-up log and the benchmarks. */
  readonly device?: string;
  /** What it runs on, recorded in each manifest (engine.backendDetails): the wasm build, the WebGPU adapter. */
  readonly details?: BackendDetails;
  /** Why earlier candidates were skipped, for the start-up log. */
  readonly skipped: readonly { name: BackendName; reason: string }[];
}

const tfjsNodeGpu = '@tensorflow/tfjs-node-gpu';
const tfjsNode = '@tensorflow/tfjs-node';
const autoOrder: readonly BackendName[] = ['tensorflow-gpu', 'webgpu', 'tensorflow', 'wasm', 'cpu'];

interface Activated {
  readonly tfBackend: string;
  readonly device?: string;
}

async function activate(name: BackendName, preference: BackendPreference): Promise<Activated> {
  switch (name) {
    case 'tensorflow-gpu':
      // Optional dependencies, absent where their install script could not download
      // libtensorflow; imported through a variable so the type checker does not require them.
      await import(tfjsNodeGpu);
      return { tfBackend: 'tensorflow' };
    case 'webgpu':
      // `auto` takes WebGPU only on a real GPU: a software Vulkan (llvmpipe) is slower than wasm.
      return { tfBackend: 'webgpu', device: await installWebGpu({ allowSoftware: preference === 'webgpu' }) };
    case 'tensorflow':
      await import(tfjsNode);
      return { tfBackend: 'tensorflow' };
    case 'wasm':
      await import('@tensorflow/tfjs-backend-wasm');
      installWasmKernelFallbacks();
      return { tfBackend: 'wasm' };
    case 'cpu':
      return { tfBackend: 'cpu' };
  }
}

function describe(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split('\n')[0] ?? message;
}

interface ProcessHandlers {
  readonly exceptions: readonly NodeJS.UncaughtExceptionListener[];
  readonly rejections: readonly NodeJS.UnhandledRejectionListener[];
}

function processHandlers(): ProcessHandlers {
  return { exceptions: process.listeners('uncaughtException'), rejections: process.listeners('unhandledRejection') };
}

/**
 * The emscripten glue of the wasm backend installs process-wide handlers that rethrow every
 * uncaught exception and unhandled rejection, which crashes the process and prints the whole
 * minified glue source. Error handling belongs to the application, so they are removed.
 */
function removeHandlersAddedSince(before: ProcessHandlers): void {
  for (const listener of process.listeners('uncaughtException')) {
    if (!before.exceptions.includes(listener)) process.removeListener('uncaughtException', listener);
  }
  for (const listener of process.listeners('unhandledRejection')) {
    if (!before.rejections.includes(listener)) process.removeListener('unhandledRejection', listener);
  }
}

let current: SelectedBackend | undefined;

/**
 * Picks the compute backend (cached; switching later moves tensors lazily, which tests use to
 * compare backends in one process). `auto` tries, in order, tfjs-node-gpu (CUDA),
 * WebGPU on a hardware adapter (Vulkan through Dawn), tfjs-node, wasm (SIMD), then the pure-JS
 * cpu backend; a forced backend that cannot load is an
 * error rather than a silent fallback, because a production worker on the wrong backend is 20×
 * slower and nobody notices.
 */
export async function selectBackend(preference: BackendPreference = 'auto'): Promise<SelectedBackend> {
  if (current && (preference === 'auto' || preference === current.name)) {
    if (tf.getBackend() !== current.tfBackend) await tf.setBackend(current.tfBackend);
    return current;
  }
  // Production mode: no debug checks, and no "install the node backend" banner from tfjs on
  // stdout, which would corrupt machine-readable CLI output.
  tf.enableProdMode();
  registerEngineGradients();
  const candidates = preference === 'auto' ? autoOrder : [preference];
  const skipped: { name: BackendName; reason: string }[] = [];
  for (const name of candidates) {
    try {
      const { tfBackend, device } = await activate(name, preference);
      const handlers = processHandlers();
      if (!(await tf.setBackend(tfBackend))) throw new Error(`tf.setBackend('${tfBackend}') failed`);
      await tf.ready();
      removeHandlersAddedSince(handlers);
      const details = await backendDetails(tfBackend, device);
      current = { name, tfBackend, ...(device === undefined ? {} : { device }), ...(details === undefined ? {} : { details }), skipped };
      return current;
    } catch (error) {
      skipped.push({ name, reason: describe(error) });
    }
  }
  const reasons = skipped.map((s) => `${s.name}: ${s.reason}`).join('; ');
  throw new EngineError(
    'BACKEND_UNAVAILABLE',
    preference === 'auto'
      ? `no TensorFlow.js backend could start (${reasons})`
      : `backend ${preference} is not available (${reasons}); install it or use --backend auto`,
  );
}
