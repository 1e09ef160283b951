import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { vulkanGpuDrivers } from './webgpu-device.ts';

test('auto looks for a hardware Vulkan driver before loading Dawn; Mesa lavapipe does not count', () => {
  const root = mkdtempSync(join(tmpdir(), 'vulkan-icd-'));
  const [empty, software, gpu] = ['empty', 'software', 'gpu'].map((name) => join(root, name)) as [string, string, string];
  for (const dir of [empty, software, gpu]) mkdirSync(dir);
  writeFileSync(join(software, 'lvp_icd.x86_64.json'), '{}');
  writeFileSync(join(gpu, 'lvp_icd.x86_64.json'), '{}');
  writeFileSync(join(gpu, 'nvidia_icd.json'), '{}');
  const dev = join(root, 'dev');
  mkdirSync(dev);
  writeFileSync(join(dev, 'nvidia0'), '');

  assert.deepEqual(vulkanGpuDrivers({}, [join(root, 'missing'), empty, software], dev), []);
  assert.deepEqual(vulkanGpuDrivers({}, [empty, gpu], dev), [join(gpu, 'nvidia_icd.json')]);
  // A variable naming the manifests replaces the folders, as it does for the Vulkan loader.
  assert.deepEqual(vulkanGpuDrivers({ VK_DRIVER_FILES: join(software, 'lvp_icd.x86_64.json') }, [gpu]), []);
  assert.deepEqual(vulkanGpuDrivers({ VK_ICD_FILENAMES: `${join(root, 'gone.json')}:${join(gpu, 'nvidia_icd.json')}` }, []), [join(gpu, 'nvidia_icd.json')]);
});

test('a hardware driver counts only where its GPU device is: Mesa\'s manifests on a machine without a GPU do not load Dawn', () => {
  const root = mkdtempSync(join(tmpdir(), 'vulkan-dev-'));
  const [icd, noGpu, dri, nvidia, wsl] = ['icd', 'dev-none', 'dev-dri', 'dev-nvidia', 'dev-wsl'].map((name) => join(root, name)) as [string, string, string, string, string];
  for (const dir of [icd, noGpu, join(dri, 'dri'), nvidia, wsl]) mkdirSync(dir, { recursive: true });
  for (const name of ['intel_icd.json', 'radeon_icd.json', 'lvp_icd.json', 'nvidia_icd.json', 'dzn_icd.json']) writeFileSync(join(icd, name), '{}');
  writeFileSync(join(dri, 'dri', 'renderD128'), '');
  writeFileSync(join(nvidia, 'nvidiactl'), '');
  writeFileSync(join(nvidia, 'nvidia0'), '');
  writeFileSync(join(wsl, 'dxg'), '');
  const found = (devDir: string) => vulkanGpuDrivers({}, [icd], devDir).map((file) => file.slice(icd.length + 1)).sort();
  // Debian's mesa-vulkan-drivers on a VM: manifests, no device (Dawn printed two warnings per process).
  assert.deepEqual(found(noGpu), []);
  assert.deepEqual(found(dri), ['intel_icd.json', 'radeon_icd.json']);
  assert.deepEqual(found(nvidia), ['nvidia_icd.json']);
  assert.deepEqual(found(wsl), ['dzn_icd.json']);
  // A variable naming a manifest is the operator's choice: taken whatever /dev holds.
  assert.deepEqual(vulkanGpuDrivers({ VK_DRIVER_FILES: join(icd, 'nvidia_icd.json') }, [], noGpu), [join(icd, 'nvidia_icd.json')]);
});
