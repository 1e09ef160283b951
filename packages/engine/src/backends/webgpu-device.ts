/**
 * WebGPU for Node: Dawn's native binding (the `webgpu` package, Vulkan on Linux) exposes
 * `navigator.gpu`, and @tensorflow/tfjs-backend-webgpu registers itself on import when it finds
 * one. This is the GPU path that needs no CUDA-version-matched libtensorflow: only the GPU's
 * Vulkan driver and the system's Vulkan loader (`libvulkan1`).
 */

import { existsSync, readdirSync } from 'node:fs';
import { basename, join } from 'node:path';

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

/** Where the Vulkan loader looks for driver manifests (ICDs) when no variable names them. */
export const vulkanManifestDirs = ['/etc/vulkan/icd.d', '/usr/share/vulkan/icd.d', '/usr/local/share/vulkan/icd.d'];

/** Mesa's lavapipe: Vulkan on the CPU, slower than the wasm backend. */
const softwareDriver = /^lvp_icd/;

/**
 * Whether `devDir` holds a device the driver of this manifest could drive: NVIDIA's driver its
 * /dev/nvidia* nodes, Mesa's Dozen (WSL) /dev/dxg, every other driver a DRM render node.
 */
function driverHasDevice(manifest: string, devDir: string): boolean {
  const name = basename(manifest);
  const has = (dir: string, node: RegExp) => existsSync(dir) && readdirSync(dir).some((entry) => node.test(entry));
  if (name.startsWith('nvidia')) return has(devDir, /^nvidia(ctl|\d+)$/);
  if (name.startsWith('dzn')) return existsSync(join(devDir, 'dxg'));
  return has(join(devDir, 'dri'), /^renderD\d+$/);
}

/**
 * The hardware Vulkan drivers the loader would find: the manifests named by VK_DRIVER_FILES (or
 * the older VK_ICD_FILENAMES), else those in the standard folders, less Mesa's software one and
 * those with no GPU device to drive. `auto` asks this before loading Dawn, whose native warnings
 * ("Found no drivers!", or "maxDynamicUniformBuffersPerPipelineLayout artificially reduced" when
 * only lavapipe answers) would otherwise land on the stderr of every process started on a machine
 * without a GPU: Debian's mesa-vulkan-drivers installs Intel's and AMD's manifests on any machine.
 * Manifests a variable names are taken as they are: whoever set it chose them.
 */
export function vulkanGpuDrivers(env: NodeJS.ProcessEnv = process.env, dirs: readonly string[] = vulkanManifestDirs, devDir = '/dev'): string[] {
  const named = env.VK_DRIVER_FILES ?? env.VK_ICD_FILENAMES;
  const manifests = named
    ? named.split(':').filter((file) => file !== '' && existsSync(file))
    : dirs
        .flatMap((dir) => (existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.json')).map((f) => join(dir, f)) : []))
        .filter((file) => driverHasDevice(file, devDir));
  return manifests.filter((file) => !softwareDriver.test(basename(file)));
}

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
  if (!options.allowSoftware && vulkanGpuDrivers().length === 0) {
    throw new Error(`no Vulkan GPU driver found (no *_icd.json in ${vulkanManifestDirs.join(', ')} whose GPU device is in /dev, and no VK_DRIVER_FILES)`);
  }
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
