import * as tf from '@tensorflow/tfjs';
import type { KernelBackend, KernelConfig, NamedTensorInfoMap, TensorInfo } from '@tensorflow/tfjs';

/**
 * Kernels the wasm backend lacks (so any gradient through a conv weight, a depthwise conv or a
 * `gather` fails there) or computes wrongly (MaxPoolGrad disagrees with finite differences for
 * 2×2/s2 and some `same` pools, see maxpool-grad test). Each is delegated to the pure-JS cpu
 * kernel: the data is copied out of wasm memory, computed, copied back. These kernels are rare
 * in a Grad-CAM backward pass (the head after the target layer is usually pooling + dense), so the
 * copies cost little, and results match the cpu backend exactly.
 */
export const wasmDelegatedKernels = [
  'Conv2DBackpropFilter',
  'DepthwiseConv2dNativeBackpropFilter',
  'DepthwiseConv2dNativeBackpropInput',
  'UnsortedSegmentSum',
  'Einsum',
  'MaxPoolGrad',
] as const;

function delegateToCpu(kernelName: string, backendName: string): KernelConfig {
  const cpuKernel = tf.getKernel(kernelName, 'cpu');
  if (!cpuKernel) throw new Error(`cpu backend has no kernel ${kernelName}`);
  return {
    kernelName,
    backendName,
    kernelFunc: ({ inputs, attrs, backend }) => {
      const source = backend as KernelBackend;
      const cpu = tf.findBackend('cpu');
      if (!cpu) throw new Error('cpu backend is not registered');
      const cpuInputs: NamedTensorInfoMap = {};
      for (const [name, info] of Object.entries(inputs)) {
        if (!info) continue;
        const values = source.readSync(info.dataId);
        cpuInputs[name] = { dataId: cpu.write(values, info.shape, info.dtype), shape: info.shape, dtype: info.dtype };
      }
      try {
        const out = cpuKernel.kernelFunc({ inputs: cpuInputs, attrs: attrs ?? {}, backend: cpu });
        const outputs = Array.isArray(out) ? out : [out];
        const moved = outputs.map((o: TensorInfo): TensorInfo => {
          const values = cpu.readSync(o.dataId);
          cpu.disposeData(o.dataId);
          return { dataId: source.write(values, o.shape, o.dtype), shape: o.shape, dtype: o.dtype };
        });
        return Array.isArray(out) ? moved : (moved[0] as TensorInfo);
      } finally {
        for (const info of Object.values(cpuInputs)) if (info) cpu.disposeData(info.dataId);
      }
    },
  };
}

let installed = false;

/** Idempotent; call after the wasm backend is registered. */
export function installWasmKernelFallbacks(): void {
  if (installed) return;
  for (const name of wasmDelegatedKernels) {
    if (tf.getKernel(name, 'wasm')) tf.unregisterKernel(name, 'wasm');
    tf.registerKernel(delegateToCpu(name, 'wasm'));
  }
  installed = true;
}
