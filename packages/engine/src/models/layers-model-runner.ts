import * as tf from '@tensorflow/tfjs';
import type { LayersModel, SymbolicTensor, Tensor, Tensor2D, Tensor4D } from '@tensorflow/tfjs';
import { EngineError } from '../errors.ts';
import type { ModelRunner, TrunkOutput } from './model-runner.ts';
import { type OutputActivation, binaryLogits, isBinary, resolveOutputActivation } from './output-activation.ts';

type Layer = tf.layers.Layer;
/** tfjs-layers' Node is not exported; these are the fields of it we rely on. */
interface GraphNode {
  readonly inputTensors: SymbolicTensor[];
  readonly outputTensors: SymbolicTensor[];
}
interface HeadStep {
  readonly layer: Layer;
  readonly inputs: readonly number[];
  readonly outputs: readonly number[];
}

const squashing = new Set<string>(['softmax', 'sigmoid'] satisfies OutputActivation[]);

function nodesOf(layer: Layer): GraphNode[] {
  return (layer as unknown as { inboundNodes: GraphNode[] }).inboundNodes;
}

/** The node that produced a symbolic tensor (fields tfjs-layers sets on every layer output). */
function producerOf(tensor: SymbolicTensor): GraphNode | undefined {
  return nodesOf(tensor.sourceLayer as Layer)[tensor.nodeIndex];
}

/**
 * The nodes of `model`'s own graph: those `output` depends on. A layer's inbound nodes also hold
 * its uses elsewhere; a nested model's first node is its own inner graph, so "node 0" of a
 * transfer-learning base model is not the call the classifier makes.
 */
function graphNodes(output: SymbolicTensor): Set<GraphNode> {
  const nodes = new Set<GraphNode>();
  const pending = [output];
  for (let tensor = pending.pop(); tensor; tensor = pending.pop()) {
    const node = producerOf(tensor);
    if (!node || nodes.has(node)) continue;
    nodes.add(node);
    pending.push(...node.inputTensors);
  }
  return nodes;
}

function isNestedModel(layer: Layer): layer is tf.LayersModel {
  return Array.isArray((layer as Partial<tf.LayersModel>).layers);
}

/** Where, inside nested models, a layer called `name` sits: the path of model names, or undefined. */
function nestedPath(model: tf.LayersModel, name: string): string[] | undefined {
  for (const layer of model.layers) {
    if (!isNestedModel(layer)) continue;
    if (layer.layers.some((inner) => inner.name === name)) return [layer.name];
    const deeper = nestedPath(layer, name);
    if (deeper) return [layer.name, ...deeper];
  }
  return undefined;
}

function isSpatial(shape: unknown): shape is [null | number, number, number, number] {
  return Array.isArray(shape) && shape.length === 4 && typeof shape[1] === 'number' && typeof shape[2] === 'number' && (shape[1] > 1 || shape[2] > 1);
}

/** The last layer (topological order) with a spatial 4-D output: what feeds pooling + classifier. */
export function discoverTargetLayer(model: LayersModel, name = model.name): Layer {
  for (let i = model.layers.length - 1; i >= 0; i--) {
    const layer = model.layers[i] as Layer;
    if (layer.getClassName() !== 'InputLayer' && isSpatial(layer.outputShape)) return layer;
  }
  throw new EngineError(
    'TARGET_LAYER_NOT_FOUND',
    `model ${name} has no layer with a spatial 4-D output [batch, h, w, channels]: Grad-CAM explains a convolutional layer, and this model has none`,
  );
}

function activationName(layer: Layer): string | undefined {
  const config = layer.getConfig() as { activation?: unknown };
  return typeof config.activation === 'string' ? config.activation : undefined;
}

/** The softmax or sigmoid a layer applies (its own activation, or what it is), if any. */
function squashingOf(layer: Layer): OutputActivation | undefined {
  if (layer.getClassName() === 'Softmax') return 'softmax';
  const activation = activationName(layer);
  return activation !== undefined && squashing.has(activation) ? (activation as OutputActivation) : undefined;
}

/**
 * The output layer, made to emit logits: a Dense/Conv with a softmax or sigmoid activation is
 * cloned with a linear one and the same weights (differentiate the score, not the probability);
 * a trailing Activation/Softmax layer is dropped by the caller.
 */
function logitsLayer(layer: Layer): Layer {
  const activation = activationName(layer);
  if (activation === undefined || !squashing.has(activation)) return layer;
  // The layer's own class, rebuilt from its config; `any`-free via the constructor signature.
  const Ctor = layer.constructor as new (config: object) => Layer;
  const clone = new Ctor({ ...layer.getConfig(), activation: 'linear', name: `${layer.name}_logits` });
  clone.build(layer.inputSpec?.[0]?.shape ?? (nodesOf(layer)[0]?.inputTensors[0]?.shape as tf.Shape));
  clone.setWeights(layer.getWeights());
  return clone;
}

function isSquashingLayer(layer: Layer): boolean {
  const name = layer.getClassName();
  return (name === 'Softmax' || name === 'Activation') && squashingOf(layer) !== undefined;
}

/** Layers that only lay each image's values out anew, in the same order. */
const reshaping = new Set(['Reshape', 'Flatten']);

/** [batch, 1, …, 1, classes]: a softmax over the last axis is one over the classes. */
function classesLast(tensor: SymbolicTensor): boolean {
  return tensor.shape.slice(1, -1).every((dim) => dim === 1);
}

interface OutputScores {
  /** The softmax or sigmoid the model's output went through, if any. */
  readonly activation: OutputActivation | undefined;
  /** The scores before it: the head's output (a Dense/Conv with the activation is cloned linear). */
  readonly scores: SymbolicTensor;
  /** Layers after the scores, left out of the head: the activation layer and reshapes after it. */
  readonly dropped: readonly Layer[];
}

/**
 * The output's softmax/sigmoid and the scores before it. It may sit before trailing reshapes:
 * Keras' MobileNet (v1) ends conv_preds → Activation('softmax') → Reshape((classes,)), and read
 * from the Reshape the probabilities were taken for logits (differentiated, then put through a
 * second softmax). Only layers of the head (`head`) are looked through.
 */
function outputScores(output: SymbolicTensor, head: readonly Layer[]): OutputScores {
  const dropped: Layer[] = [];
  let tensor = output;
  for (;;) {
    const layer = tensor.sourceLayer as Layer;
    const activation = squashingOf(layer);
    if (activation !== undefined && (dropped.length === 0 || activation === 'sigmoid' || classesLast(tensor))) {
      const input = producerOf(tensor)?.inputTensors[0];
      if (!isSquashingLayer(layer)) return { activation, scores: tensor, dropped };
      if (input && head.includes(layer)) return { activation, scores: input, dropped: [...dropped, layer] };
    }
    const node = producerOf(tensor);
    if (!reshaping.has(layer.getClassName()) || !head.includes(layer) || node?.inputTensors.length !== 1) {
      return { activation: dropped.length === 0 ? activation : undefined, scores: output, dropped: [] };
    }
    dropped.push(layer);
    tensor = node.inputTensors[0] as SymbolicTensor;
  }
}

export class LayersModelRunner implements ModelRunner {
  readonly targetLayer: string;
  readonly targetShape: readonly [number, number, number];
  readonly numClasses: number;
  readonly outputActivation: OutputActivation;
  private readonly trunkModel: LayersModel;
  /**
   * execute() finds its outputs by name through every layer's `output`, which throws for a layer
   * called more than once, and a nested model always is (its own graph is its first call); apply()
   * runs the graph node by node instead, keeping every activation until the tidy ends.
   */
  private readonly trunkByApply: boolean;
  private readonly steps: readonly HeadStep[];
  private readonly targetId: number;
  private readonly bypassIds: readonly number[];
  private readonly logitsId: number;
  /** A one-unit sigmoid output, scored as the two classes [−z, z]. */
  private readonly binary: boolean;
  private readonly ownedLayers: Layer[] = [];

  private readonly model: LayersModel;
  private readonly name: string;

  /** `name`: the model as its user knows it (the descriptor's name), for messages; Keras' own name (`model_1`) by default. */
  constructor(
    model: LayersModel,
    targetLayerName?: string,
    name = model.name,
  ) {
    this.model = model;
    this.name = name;
    if (model.outputs.length !== 1) {
      throw new EngineError('MODEL_INVALID', `model ${name} has ${model.outputs.length} outputs; one classifier output is supported`);
    }
    const target = targetLayerName === undefined ? discoverTargetLayer(model, name) : this.findLayer(targetLayerName);
    if (!isSpatial(target.outputShape)) {
      throw new EngineError(
        'TARGET_LAYER_INVALID',
        `layer ${target.name} outputs ${JSON.stringify(target.outputShape)}; Grad-CAM needs a spatial 4-D output [batch, h, w, channels]`,
      );
    }
    const modelOutput = model.outputs[0] as SymbolicTensor;
    const ownNodes = graphNodes(modelOutput);
    // The target's call in this model's graph, not necessarily its first node (see graphNodes).
    const targetTensor = nodesOf(target).find((node) => ownNodes.has(node))?.outputTensors[0];
    if (!targetTensor) throw new EngineError('TARGET_LAYER_INVALID', `the output of ${name} does not depend on layer ${target.name}`);
    this.targetLayer = target.name;
    this.targetId = targetTensor.id;
    const [, h, w, c] = target.outputShape as [null, number, number, number];
    this.targetShape = [h, w, c];

    // Everything downstream of the target, in topological order (model.layers is sorted), so heads
    // with residual tails or merges re-apply correctly. Inputs the head needs that the target does
    // not produce are "bypass" tensors: computed by the trunk, constants for the gradient.
    const produced = new Set<number>([this.targetId]);
    const steps: HeadStep[] = [];
    const startIndex = model.layers.indexOf(target) + 1;
    // The output's softmax/sigmoid: a trailing Softmax/Activation layer, dropped here with any
    // reshapes after it, or the Dense/Conv's own activation, which logitsLayer clones away.
    const { activation: stripped, scores: output, dropped } = outputScores(modelOutput, model.layers.slice(startIndex));
    const lastLayers = model.layers.slice(startIndex).filter((layer) => !dropped.includes(layer));
    const headNodes = (layer: Layer) => nodesOf(layer).filter((node) => ownNodes.has(node) && node.inputTensors.some((t) => produced.has(t.id)));
    for (const layer of lastLayers) {
      for (const node of headNodes(layer)) {
        const isOutput = node.outputTensors.some((t) => t.id === output.id);
        const applied = isOutput ? logitsLayer(layer) : layer;
        if (applied !== layer) this.ownedLayers.push(applied);
        steps.push({ layer: applied, inputs: node.inputTensors.map((t) => t.id), outputs: node.outputTensors.map((t) => t.id) });
        for (const t of node.outputTensors) produced.add(t.id);
      }
    }
    if (!produced.has(output.id)) {
      throw new EngineError('TARGET_LAYER_INVALID', `the output of ${this.name} does not depend on layer ${target.name}`);
    }
    this.steps = steps;
    this.logitsId = output.id;
    const bypass = new Map<number, SymbolicTensor>();
    for (const layer of lastLayers) {
      for (const node of headNodes(layer)) {
        for (const t of node.inputTensors) if (!produced.has(t.id)) bypass.set(t.id, t);
      }
    }
    this.bypassIds = [...bypass.keys()];
    this.trunkModel = tf.model({ inputs: model.inputs, outputs: [targetTensor, ...bypass.values()] });
    this.trunkByApply = this.trunkModel.layers.some((layer) => nodesOf(layer).length > 1);
    const units = (output.shape[output.shape.length - 1] as number | null) ?? 0;
    this.outputActivation = resolveOutputActivation(stripped, units);
    this.binary = isBinary(this.outputActivation, units);
    this.numClasses = this.binary ? 2 : units;
  }

  private findLayer(name: string): Layer {
    const layer = this.model.layers.find((l) => l.name === name);
    if (layer) return layer;
    const nested = nestedPath(this.model, name);
    if (nested) {
      // The trunk would have to end inside the nested model's own graph, which is applied as one
      // layer here; its output is the usual target (a base model's last feature map) anyway.
      throw new EngineError(
        'TARGET_LAYER_INVALID',
        `layer "${name}" is inside the nested model ${nested.join(' → ')}; a target inside a nested model is not supported: target "${nested[0]}" (its output) instead`,
      );
    }
    const spatial = this.model.layers.filter((l) => l.getClassName() !== 'InputLayer' && isSpatial(l.outputShape)).slice(-5).map((l) => l.name);
    throw new EngineError('TARGET_LAYER_NOT_FOUND', `model ${this.name} has no layer "${name}" (last spatial layers: ${spatial.join(', ')})`);
  }

  trunk(input: Tensor4D): TrunkOutput {
    // execute(), not predict(): predict() slices the input into sub-batches and concatenates the
    // outputs even when there is one sub-batch, copying the whole batch in and every output out
    // (on wasm the slice also copies the batch into a fresh JS buffer each call).
    // tidy: unlike predict(), execute() leaves the intermediate activations to the caller.
    const out = tf.tidy(() =>
      this.trunkByApply
        ? (this.trunkModel.apply(input, { training: false }) as Tensor | Tensor[]) // a concrete input gives concrete outputs
        : this.trunkModel.execute(input, this.trunkModel.outputs.map((t) => t.name)),
    );
    const [activations, ...bypass] = Array.isArray(out) ? out : [out];
    return { activations: activations as Tensor4D, bypass };
  }

  head(activations: Tensor4D, bypass: readonly Tensor[]): Tensor2D {
    const values = new Map<number, Tensor>([[this.targetId, activations]]);
    this.bypassIds.forEach((id, i) => values.set(id, bypass[i] as Tensor));
    for (const step of this.steps) {
      const inputs = step.inputs.map((id) => values.get(id) as Tensor);
      const out = step.layer.apply(inputs.length === 1 ? (inputs[0] as Tensor) : inputs, { training: false });
      const outs = Array.isArray(out) ? out : [out];
      step.outputs.forEach((id, i) => values.set(id, outs[i] as Tensor));
    }
    const logits = values.get(this.logitsId) as Tensor;
    const scores = (logits.rank === 2 ? logits : logits.reshape([logits.shape[0] as number, -1])) as Tensor2D;
    return this.binary ? binaryLogits(scores) : scores;
  }

  logits(input: Tensor4D): Tensor2D {
    return tf.tidy(() => {
      const { activations, bypass } = this.trunk(input);
      return this.head(activations, bypass);
    });
  }

  dispose(): void {
    // Layer.dispose() refuses layers that were never applied; the weights are what must go.
    for (const layer of this.ownedLayers) for (const weight of layer.weights) weight.dispose();
    this.model.dispose();
  }
}
