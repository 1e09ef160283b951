import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { EngineError } from '../errors.ts';
import { builtinModels } from './builtin-models.ts';
import { loadModel } from './load-model.ts';
import { resolveModelSource } from './model-source.ts';

const known = builtinModels.map((m) => m.descriptor.name).join(', ');
const notFound = (message: string) => (e: unknown) => e instanceof EngineError && e.code === 'MODEL_NOT_FOUND' && e.message === message;

test('a built-in name is the built-in model; a folder there is, absolute or relative to cwd, is a folder', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'gradcam-source-'));
  try {
    const builtin = builtinModels[0]?.descriptor.name as string;
    const named = await resolveModelSource(builtin);
    assert.equal(named.kind === 'builtin' && named.model.descriptor.name, builtin);
    await mkdir(join(dir, 'models', 'mine'), { recursive: true });
    assert.deepEqual(await resolveModelSource(join(dir, 'models', 'mine')), { kind: 'directory', dir: join(dir, 'models', 'mine') });
    assert.deepEqual(await resolveModelSource('./models/mine', { cwd: dir }), { kind: 'directory', dir: join(dir, 'models', 'mine') });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('neither: MODEL_NOT_FOUND naming the source and the built-in models; one written as a path says where it looked, and loadModel says the same', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'gradcam-source-'));
  try {
    await assert.rejects(resolveModelSource('bogus-model', { cwd: dir }), notFound(`unknown model "bogus-model": not a built-in model (${known}) nor a model directory`));
    await assert.rejects(resolveModelSource('./models/mine', { cwd: dir }), notFound(`unknown model "./models/mine": no folder at ${join(dir, 'models', 'mine')} (built-in models: ${known})`));
    await writeFile(join(dir, 'a-file'), '');
    await assert.rejects(resolveModelSource(join(dir, 'a-file')), notFound(`unknown model "${join(dir, 'a-file')}": ${join(dir, 'a-file')} is a file, not a model folder (built-in models: ${known})`));
    await assert.rejects(loadModel(join(dir, 'missing')), notFound(`unknown model "${join(dir, 'missing')}": no folder at ${join(dir, 'missing')} (built-in models: ${known})`));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
