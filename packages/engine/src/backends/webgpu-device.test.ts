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

  assert.deepEqual(vulkanGpuDrivers({}, [join(root, 'missing'), empty, software]), []);
  assert.deepEqual(vulkanGpuDrivers({}, [empty, gpu]), [join(gpu, 'nvidia_icd.json')]);
  // A variable naming the manifests replaces the folders, as it does for the Vulkan loader.
  assert.deepEqual(vulkanGpuDrivers({ VK_DRIVER_FILES: join(software, 'lvp_icd.x86_64.json') }, [gpu]), []);
  assert.deepEqual(vulkanGpuDrivers({ VK_ICD_FILENAMES: `${join(root, 'gone.json')}:${join(gpu, 'nvidia_icd.json')}` }, []), [join(gpu, 'nvidia_icd.json')]);
});
