/**
 * WebGPU for Node: Dawn's native binding (the `webgpu` package, Vulkan on Linux) exposes
 * `navigator.gpu`, and @tensorflow/tfjs-backend-webgpu registers itself on import when it finds
 * one. This is the GPU path that needs no CUDA-version-matched libtensorflow: only the GPU's
 * Vulkan driver and the system's Vulkan loader (`libvulkan1`).
 */

interface AdapterInfo {
  readonly vendor: string;
  readonly architecture: string;
  readonly device: string;
  readonly description: string;
  readonly isFallbackAdapter?: boolean;
}

interface Adapter {
  readonly info: AdapterInfo;
}

interface Gpu {
  requestAdapter(options?: { powerPreference?: 'high-performance' | 'low-power' }): Promise<Adapter | null>;
}

interface DawnModule {
  create(flags: string[]): Gpu;
  readonly globals: Record<string, unknown>;
}

// Optional dependencies, imported through variables so the type checker does not require them.
const dawnPackage = 'webgpu';
const tfjsWebGpu = '@tensorflow/tfjs-backend-webgpu';

function describeAdapter(info: AdapterInfo): string {
  const parts = [info.vendor, info.architecture, info.device, info.description].filter((part) => part !== '');
  return [...new Set(parts)].join(' ');
}

/** Node 21+ has a `navigator` global without `gpu`; Node 20 has none. */
function exposeNavigatorGpu(gpu: Gpu): void {
  const existing = (globalThis as { navigator?: object }).navigator;
  if (existing) Object.defineProperty(existing, 'gpu', { value: gpu, configurable: true });
  else Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
}

/**
 * Loads Dawn, checks that it offers an adapter, and registers the tfjs WebGPU backend.
 * Returns the adapter's description. `allowSoftware: false` refuses a CPU implementation of
 * Vulkan (Mesa's llvmpipe), which is slower than the wasm backend.
 */
export async function installWebGpu(options: { allowSoftware: boolean }): Promise<string> {
  const dawn = (await import(dawnPackage)) as DawnModule;
  const gpu = dawn.create([]);
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) {
    throw new Error('no WebGPU adapter: install the Vulkan loader (libvulkan1) and a Vulkan driver for the GPU');
  }
  const description = describeAdapter(adapter.info);
  if (adapter.info.isFallbackAdapter === true && !options.allowSoftware) {
    throw new Error(`only a software WebGPU adapter (${description}), slower than wasm; force it with --backend webgpu`);
  }
  // The backend's shaders read the WebGPU constants (GPUBufferUsage, GPUMapMode...) as globals.
  Object.assign(globalThis, dawn.globals);
  exposeNavigatorGpu(gpu);
  await import(tfjsWebGpu);
  return description;
}
