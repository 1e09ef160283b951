import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { io } from '@tensorflow/tfjs';
import { EngineError } from '../errors.ts';
import { builtinModels } from './builtin-models.ts';
import { GraphModelRunner, discoverGraphNodes } from './graph-model-runner.ts';
import { LayersModelRunner } from './layers-model-runner.ts';
import type { ModelDescriptor } from './model-descriptor.ts';
import { artifactsFormat, readModelDirectory } from './model-artifacts.ts';
import type { ModelRunner } from './model-runner.ts';

export interface LoadedModel {
  readonly descriptor: ModelDescriptor;
  readonly runner: ModelRunner;
  readonly loadMs: number;
}

export interface LoadOptions {
  /** Overrides the descriptor's (or the discovered) target layer / node. */
  readonly targetLayer?: string | undefined;
}

/** Optional file next to model.json describing preprocessing and labels of a user model. */
export const descriptorFileName = 'gradcam-model.json';

async function runnerFor(descriptor: ModelDescriptor, artifacts: io.ModelArtifacts, targetLayer: string | undefined): Promise<ModelRunner> {
  const handler = tf.io.fromMemory(artifacts);
  try {
    if (descriptor.format === 'layers') {
      return new LayersModelRunner(await tf.loadLayersModel(handler), targetLayer);
    }
    const model = await tf.loadGraphModel(handler);
    const output = model.outputs[0]?.name ?? '';
    const found = discoverGraphNodes(artifacts, output);
    const target = targetLayer ?? found.targetNode;
    if (!target) throw new EngineError('TARGET_LAYER_NOT_FOUND', `no global pooling node found in graph model ${descriptor.name}; pass the target node name`);
    return new GraphModelRunner(model, target, descriptor.logitsNode ?? found.logitsNode, descriptor.preprocessing);
  } catch (error) {
    if (error instanceof EngineError) throw error;
    throw new EngineError('MODEL_INVALID', `cannot load model ${descriptor.name}: ${(error as Error).message}`, { cause: error });
  }
}

/** Loads a model from in-memory artifacts (tests, models fetched by the caller). */
export async function loadModelFromArtifacts(
  descriptor: ModelDescriptor,
  artifacts: io.ModelArtifacts,
  options: LoadOptions = {},
): Promise<LoadedModel> {
  const started = performance.now();
  const runner = await runnerFor(descriptor, artifacts, options.targetLayer ?? descriptor.targetLayer);
  const expected = descriptor.labels.length;
  if (expected > 0 && runner.numClasses !== expected) {
    runner.dispose();
    throw new EngineError('MODEL_INVALID', `model ${descriptor.name} has ${runner.numClasses} outputs but ${expected} labels`);
  }
  return { descriptor, runner, loadMs: performance.now() - started };
}

async function describeDirectory(dir: string, artifacts: io.ModelArtifacts): Promise<ModelDescriptor> {
  let declared: Partial<ModelDescriptor> = {};
  try {
    declared = JSON.parse(await readFile(join(dir, descriptorFileName), 'utf8')) as Partial<ModelDescriptor>;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new EngineError('MODEL_INVALID', `${join(dir, descriptorFileName)} is not valid JSON: ${(error as Error).message}`);
    }
  }
  const topology = JSON.stringify(artifacts.modelTopology);
  const inputShape = /"batch_input_shape":\[null,(\d+),(\d+),3\]/.exec(topology);
  const height = Number(inputShape?.[1] ?? 224);
  const width = Number(inputShape?.[2] ?? 224);
  return {
    name: declared.name ?? basename(resolve(dir)),
    // Without a declared version the weights' own hash stands in, so manifests still pin them.
    version: declared.version ?? `sha256-${createHash('sha256').update(topology).update(new Uint8Array(artifacts.weightData as ArrayBuffer)).digest('hex').slice(0, 12)}`,
    format: declared.format ?? artifactsFormat(artifacts),
    preprocessing: declared.preprocessing ?? { width, height, fit: 'fill', channelOrder: 'rgb', scale: 1 / 255, mean: [0, 0, 0], std: [1, 1, 1] },
    labels: declared.labels ?? [],
    ...(declared.targetLayer === undefined ? {} : { targetLayer: declared.targetLayer }),
    ...(declared.logitsNode === undefined ? {} : { logitsNode: declared.logitsNode }),
  };
}

/**
 * Loads a built-in model by name, or a TensorFlow.js model directory (model.json + shards, with
 * an optional gradcam-model.json for preprocessing and labels).
 */
export async function loadModel(source: string, options: LoadOptions = {}): Promise<LoadedModel> {
  const builtin = builtinModels.find((m) => m.descriptor.name === source);
  if (builtin) return loadModelFromArtifacts(builtin.descriptor, builtin.read(), options);
  const isDirectory = await stat(source).then((s) => s.isDirectory(), () => false);
  if (!isDirectory) {
    const known = builtinModels.map((m) => m.descriptor.name).join(', ');
    throw new EngineError('MODEL_NOT_FOUND', `unknown model "${source}": not a built-in model (${known}) nor a model directory`);
  }
  const artifacts = await readModelDirectory(source);
  return loadModelFromArtifacts(await describeDirectory(source, artifacts), artifacts, options);
}
