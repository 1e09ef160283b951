import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { io } from '@tensorflow/tfjs';
import { type PreprocessingSpec, modelNameSchema, modelVersionSchema, preprocessingSchema } from '@gradcam/contracts';
import { EngineError } from '../errors.ts';
import { GraphModelRunner, discoverGraphNodes, graphOutputActivation } from './graph-model-runner.ts';
import { LayersModelRunner } from './layers-model-runner.ts';
import type { ModelDescriptor } from './model-descriptor.ts';
import { artifactsFormat, readModelDirectory } from './model-artifacts.ts';
import { resolveModelSource } from './model-source.ts';
import type { ModelRunner } from './model-runner.ts';
import { modelWeightsSha256 } from './weights-sha256.ts';

export interface LoadedModel {
  readonly descriptor: ModelDescriptor;
  readonly runner: ModelRunner;
  /**
   * sha256 of the topology, weight specs and weight bytes this model was loaded from
   * (modelWeightsSha256): pins the weights where the descriptor's version is only a label (a
   * declared version, a built-in's), so a model retrained under the same version is told apart.
   */
  readonly weightsSha256: string;
  readonly loadMs: number;
}

export interface LoadOptions {
  /** Overrides the descriptor's (or the discovered) target layer / node. */
  readonly targetLayer?: string | undefined;
  /**
   * Refuse a name or version that cannot be a storage key segment (MODEL_NAME_INVALID), before any
   * weight loads. Set by the pipeline's worker: it announces them to ingest, which stores records
   * under them, so a worker serving `1.0.0+build.5` would fail every record for it. `gradcam
   * explain` leaves it off: its folder names never become keys (a folder `My Model` explains).
   */
  readonly keySafeIdentity?: boolean | undefined;
}

/** Optional file next to model.json describing preprocessing and labels of a user model. */
export const descriptorFileName = 'gradcam-model.json';

/** `a.b[1]: message` for each zod issue. */
function describeIssues(issues: readonly { path: readonly PropertyKey[]; message: string }[], prefix: string): string {
  return issues
    .map((issue) => `${[prefix, ...issue.path].map((key, i) => (typeof key === 'number' ? `[${key}]` : `${i > 0 ? '.' : ''}${String(key)}`)).join('')}: ${issue.message}`)
    .join('; ');
}

/** Checked for every model, built-in or not: a zero std or a missing mean would feed Infinity or NaN to the model. */
function checkPreprocessing(descriptor: ModelDescriptor, where: string): void {
  const parsed = preprocessingSchema.safeParse(descriptor.preprocessing);
  if (!parsed.success) throw new EngineError('MODEL_INVALID', `${where}: ${describeIssues(parsed.error.issues, 'preprocessing')}`);
}

/**
 * Why `value` cannot be the model's `field`, or undefined. A model's name and version become
 * storage key segments (ingest records them, the worker announces them), so they follow the
 * contracts' rule: a worker serving a name no record can give, or a version ingest cannot store
 * under, would fail every record for it.
 */
function identityIssue(field: 'name' | 'version', value: string): string | undefined {
  const parsed = (field === 'name' ? modelNameSchema : modelVersionSchema).safeParse(value);
  return parsed.success ? undefined : `${JSON.stringify(value)} is refused: ${parsed.error.issues[0]?.message ?? 'not a valid key segment'}`;
}

/** With LoadOptions.keySafeIdentity, for every model; a folder's descriptor is checked sooner, saying where the bad value came from. */
function checkIdentity(descriptor: ModelDescriptor): void {
  for (const field of ['name', 'version'] as const) {
    const issue = identityIssue(field, descriptor[field]);
    if (issue !== undefined) throw new EngineError('MODEL_NAME_INVALID', `model ${JSON.stringify(descriptor.name)}: ${field}: ${issue}`);
  }
}

/**
 * Refuses a declared input size the model cannot take: a layers model built for 224×224 runs on a
 * 300×300 batch without complaint (convolutions take any size) and yields maps of another size.
 */
function checkInputSize(descriptor: ModelDescriptor, shape: readonly (number | null)[] | undefined): void {
  if (!shape || shape.length !== 4) return;
  const { width, height } = descriptor.preprocessing;
  const fixed = (dim: number | null | undefined) => (typeof dim === 'number' && dim > 0 ? dim : undefined);
  const [modelHeight, modelWidth] = [fixed(shape[1]), fixed(shape[2])];
  if ((modelHeight !== undefined && modelHeight !== height) || (modelWidth !== undefined && modelWidth !== width)) {
    throw new EngineError(
      'MODEL_INVALID',
      `model ${descriptor.name} takes ${modelHeight ?? 'any'}×${modelWidth ?? 'any'} inputs but its preprocessing declares ${height}×${width} (height×width)`,
    );
  }
}

async function runnerFor(descriptor: ModelDescriptor, artifacts: io.ModelArtifacts, targetLayer: string | undefined): Promise<ModelRunner> {
  const handler = tf.io.fromMemory(artifacts);
  let model: tf.LayersModel | tf.GraphModel | undefined;
  try {
    if (descriptor.format === 'layers') {
      const layers = await tf.loadLayersModel(handler);
      model = layers;
      checkInputSize(descriptor, layers.inputs[0]?.shape);
      return new LayersModelRunner(layers, targetLayer, descriptor.name);
    }
    const graph = await tf.loadGraphModel(handler);
    model = graph;
    checkInputSize(descriptor, graph.inputs[0]?.shape);
    const output = graph.outputs[0]?.name ?? '';
    const found = discoverGraphNodes(artifacts, output);
    const target = targetLayer ?? found.targetNode;
    if (!target) throw new EngineError('TARGET_LAYER_NOT_FOUND', `no global pooling node found in graph model ${descriptor.name}; pass the target node name`);
    const logitsNode = descriptor.logitsNode ?? found.logitsNode;
    return new GraphModelRunner(graph, target, logitsNode, descriptor.preprocessing, graphOutputActivation(artifacts, output, logitsNode));
  } catch (error) {
    model?.dispose();
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
  if (options.keySafeIdentity === true) checkIdentity(descriptor);
  checkPreprocessing(descriptor, `model ${descriptor.name}`);
  // Once, from the artifacts already in memory: a sha256 pass over the weight bytes.
  const weightsSha256 = modelWeightsSha256(artifacts);
  const runner = await runnerFor(descriptor, artifacts, options.targetLayer ?? descriptor.targetLayer);
  const expected = descriptor.labels.length;
  if (expected > 0 && runner.numClasses !== expected) {
    runner.dispose();
    // The likely slip with a binary classifier: one label for its one output unit.
    const hint = runner.outputActivation === 'sigmoid' && runner.numClasses === 2 && expected === 1 ? '; a one-unit sigmoid output is two classes, 0 = negative and 1 = positive: give both labels' : '';
    throw new EngineError('MODEL_INVALID', `model ${descriptor.name} has ${runner.numClasses} classes but ${expected} labels${hint}`);
  }
  return { descriptor, runner, weightsSha256, loadMs: performance.now() - started };
}

const optionalStrings = ['name', 'version', 'targetLayer', 'logitsNode', 'description'] as const;

/** gradcam-model.json, checked field by field: a wrong one is MODEL_INVALID naming it, never a TypeError later. */
function parseDeclaration(value: unknown, file: string): Partial<ModelDescriptor> {
  const invalid = (field: string, message: string) => new EngineError('MODEL_INVALID', `${file}: ${field}: ${message}`);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new EngineError('MODEL_INVALID', `${file} must hold a JSON object`);
  const declared = value as Record<string, unknown>;
  for (const field of optionalStrings) {
    const v = declared[field];
    if (v !== undefined && (typeof v !== 'string' || v === '')) throw invalid(field, 'must be a non-empty string');
  }
  if (declared.format !== undefined && declared.format !== 'layers' && declared.format !== 'graph') throw invalid('format', 'must be "layers" or "graph"');
  if (declared.labels !== undefined && !(Array.isArray(declared.labels) && declared.labels.every((l) => typeof l === 'string'))) {
    throw invalid('labels', 'must be an array of strings');
  }
  let preprocessing: PreprocessingSpec | undefined;
  if (declared.preprocessing !== undefined) {
    const parsed = preprocessingSchema.safeParse(declared.preprocessing);
    if (!parsed.success) throw new EngineError('MODEL_INVALID', `${file}: ${describeIssues(parsed.error.issues, 'preprocessing')}`);
    preprocessing = parsed.data;
  }
  return { ...(declared as Partial<ModelDescriptor>), ...(preprocessing === undefined ? {} : { preprocessing }) };
}

async function describeDirectory(dir: string, artifacts: io.ModelArtifacts, keySafeIdentity: boolean): Promise<ModelDescriptor> {
  const file = join(dir, descriptorFileName);
  let declared: Partial<ModelDescriptor> = {};
  let text: string | undefined;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw new EngineError('MODEL_INVALID', `cannot read ${file}: ${(error as Error).message}`);
  }
  if (text !== undefined) {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (error) {
      throw new EngineError('MODEL_INVALID', `${file} is not valid JSON: ${(error as Error).message}`);
    }
    declared = parseDeclaration(json, file);
  }
  const name = declared.name ?? basename(resolve(dir));
  if (keySafeIdentity) {
    const nameIssue = identityIssue('name', name);
    if (nameIssue !== undefined) {
      throw new EngineError(
        'MODEL_NAME_INVALID',
        declared.name === undefined ? `${dir}: name: the folder's name ${nameIssue}; give the model a "name" in ${descriptorFileName}` : `${file}: name: ${nameIssue}`,
      );
    }
    const versionIssue = declared.version === undefined ? undefined : identityIssue('version', declared.version);
    if (versionIssue !== undefined) throw new EngineError('MODEL_NAME_INVALID', `${file}: version: ${versionIssue}`);
  }
  const topology = JSON.stringify(artifacts.modelTopology);
  const inputShape = /"batch_input_shape":\[null,(\d+),(\d+),3\]/.exec(topology);
  const height = Number(inputShape?.[1] ?? 224);
  const width = Number(inputShape?.[2] ?? 224);
  return {
    name,
    // Without a declared version the weights' own hash stands in, so manifests still pin them.
    version: declared.version ?? `sha256-${createHash('sha256').update(topology).update(new Uint8Array(artifacts.weightData as ArrayBuffer)).digest('hex').slice(0, 12)}`,
    format: declared.format ?? artifactsFormat(artifacts),
    preprocessing: declared.preprocessing ?? { width, height, fit: 'fill', channelOrder: 'rgb', scale: 1 / 255, mean: [0, 0, 0], std: [1, 1, 1] },
    labels: declared.labels ?? [],
    ...(declared.targetLayer === undefined ? {} : { targetLayer: declared.targetLayer }),
    ...(declared.logitsNode === undefined ? {} : { logitsNode: declared.logitsNode }),
    ...(declared.description === undefined ? {} : { description: declared.description }),
  };
}

/**
 * Loads a built-in model by name, or a TensorFlow.js model directory (model.json + shards, with
 * an optional gradcam-model.json for preprocessing and labels).
 */
export async function loadModel(source: string, options: LoadOptions = {}): Promise<LoadedModel> {
  const resolved = await resolveModelSource(source);
  if (resolved.kind === 'builtin') return loadModelFromArtifacts(resolved.model.descriptor, resolved.model.read(), options);
  // The source as given, so messages name the folder as the user wrote it.
  const artifacts = await readModelDirectory(source);
  return loadModelFromArtifacts(await describeDirectory(source, artifacts, options.keySafeIdentity === true), artifacts, options);
}
