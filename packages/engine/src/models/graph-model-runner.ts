import * as tf from '@tensorflow/tfjs';
import type { GraphModel, Tensor, Tensor2D, Tensor4D, io } from '@tensorflow/tfjs';
import { EngineError } from '../errors.ts';
import type { ModelRunner, TrunkOutput } from './model-runner.ts';
import { type OutputActivation, binaryLogits, isBinary, resolveOutputActivation } from './output-activation.ts';

interface GraphDefNode {
  name: string;
  op: string;
  input?: string[];
}

/** Global pooling as converted graphs have it: GlobalAveragePooling2D is a Mean, GlobalMaxPooling2D a Max. */
const poolingOps = new Set(['AvgPool', 'Mean', 'MaxPool', 'Max']);
const passThroughOps = new Set(['Identity', 'Softmax', 'Sigmoid']);
/**
 * Ops that only lay each image's values out anew. TF-slim classifiers end Softmax → Reshape
 * (MobilenetV1/Predictions/Reshape_1): an activation behind them is still the output's.
 */
const reshapingOps = new Set(['Identity', 'Reshape', 'Squeeze']);
const activationOps: Readonly<Record<string, OutputActivation>> = { Softmax: 'softmax', Sigmoid: 'sigmoid' };

function inputName(ref: string): string {
  return ref.replace(/^\^/, '').replace(/:\d+$/, '');
}

/**
 * Finds the logits node (the input of a trailing Softmax/Sigmoid, also of one followed by
 * reshapes) and the target node (the input of the global pooling op closest to the logits) by
 * walking the GraphDef backwards.
 */
export function discoverGraphNodes(
  artifacts: io.ModelArtifacts,
  outputName: string,
): { logitsNode: string; targetNode: string | undefined } {
  const nodes = (artifacts.modelTopology as { node?: GraphDefNode[] }).node ?? [];
  const byName = new Map(nodes.map((n) => [n.name, n]));
  const output = byName.get(inputName(outputName));
  // Reshapes after the output activation are walked past only when an activation is behind them:
  // a graph whose logits node is itself a Reshape (with nothing after it) keeps it.
  let end = output;
  while (end && reshapingOps.has(end.op) && end.input?.[0]) end = byName.get(inputName(end.input[0]));
  let logits = end && activationOps[end.op] !== undefined ? end : output;
  while (logits && passThroughOps.has(logits.op) && logits.input?.[0]) logits = byName.get(inputName(logits.input[0]));
  if (!logits) throw new EngineError('MODEL_INVALID', `graph has no node named ${outputName}`);
  const queue = [logits];
  const seen = new Set<string>();
  while (queue.length > 0) {
    const node = queue.shift() as GraphDefNode;
    if (seen.has(node.name)) continue;
    seen.add(node.name);
    if (poolingOps.has(node.op) && node.input?.[0]) return { logitsNode: logits.name, targetNode: inputName(node.input[0]) };
    for (const ref of node.input ?? []) {
      const next = byName.get(inputName(ref));
      if (next && next.op !== 'Const') queue.push(next);
    }
  }
  return { logitsNode: logits.name, targetNode: undefined };
}

/**
 * The activation between a graph's logits node and its output (the Softmax or Sigmoid the logits
 * discovery walks past), or undefined where the output is the logits themselves.
 */
export function graphOutputActivation(artifacts: io.ModelArtifacts, outputName: string, logitsNode: string): OutputActivation | undefined {
  const nodes = (artifacts.modelTopology as { node?: GraphDefNode[] }).node ?? [];
  const byName = new Map(nodes.map((n) => [n.name, n]));
  let node = byName.get(inputName(outputName));
  const seen = new Set<string>();
  while (node && node.name !== logitsNode && !seen.has(node.name)) {
    seen.add(node.name);
    const activation = activationOps[node.op];
    if (activation) return activation;
    if (!reshapingOps.has(node.op) || !node.input?.[0]) return undefined;
    node = byName.get(inputName(node.input[0]));
  }
  return undefined;
}

export class GraphModelRunner implements ModelRunner {
  readonly targetShape: readonly [number, number, number];
  readonly numClasses: number;
  readonly outputActivation: OutputActivation;
  /** A one-unit sigmoid output, scored as two classes [−z, z]. */
  private readonly binary: boolean;

  private readonly model: GraphModel;
  readonly targetLayer: string;
  private readonly logitsNode: string;

  /**
   * `stripped` is the activation between the logits node and the model's output (see
   * graphOutputActivation above), or undefined where the output is the logits themselves.
   */
  constructor(
    model: GraphModel,
    targetLayer: string,
    logitsNode: string,
    inputSize: { width: number; height: number },
    stripped: OutputActivation | undefined,
  ) {
    this.model = model;
    this.targetLayer = targetLayer;
    this.logitsNode = logitsNode;
    // Shapes of intermediate nodes are not in the GraphDef; one probe pass finds them and also
    // warms the backend's kernels.
    const [shape, classes] = tf.tidy(() => {
      const probe = tf.zeros([1, inputSize.height, inputSize.width, 3]);
      let outs: Tensor[];
      try {
        outs = model.execute(probe, [targetLayer, logitsNode]) as Tensor[];
      } catch (error) {
        throw new EngineError('TARGET_LAYER_NOT_FOUND', `graph node ${targetLayer} or ${logitsNode} cannot be computed: ${(error as Error).message}`, { cause: error });
      }
      return [outs[0]?.shape ?? [], outs[1]?.shape ?? []];
    });
    if (shape.length !== 4) {
      throw new EngineError('TARGET_LAYER_INVALID', `graph node ${targetLayer} has shape ${JSON.stringify(shape)}; a spatial 4-D tensor is needed`);
    }
    this.targetShape = [shape[1] as number, shape[2] as number, shape[3] as number];
    const units = classes[classes.length - 1] ?? 0;
    this.outputActivation = resolveOutputActivation(stripped, units);
    this.binary = isBinary(this.outputActivation, units);
    this.numClasses = this.binary ? 2 : units;
    this.checkHeadRunsFromTarget();
  }

  /**
   * The probe above runs from the input, so it passes even when the head also needs a tensor that
   * bypasses the target (a residual block's skip branch); `head()` feeds the target alone, and such
   * a model would fail every job with a plain "Missing the following inputs". Refuse it at load.
   */
  private checkHeadRunsFromTarget(): void {
    tf.tidy(() => {
      const dummy = tf.zeros([1, ...this.targetShape]) as Tensor4D;
      try {
        this.head(dummy);
      } catch (error) {
        throw new EngineError(
          'TARGET_LAYER_INVALID',
          `graph node ${this.targetLayer}: the head needs tensors besides the target (a skip connection); choose a node after the last merge (${(error as Error).message})`,
          { cause: error },
        );
      }
    });
  }

  trunk(input: Tensor4D): TrunkOutput {
    return { activations: this.model.execute(input, this.targetLayer) as Tensor4D, bypass: [] };
  }

  head(activations: Tensor4D): Tensor2D {
    return this.scores(this.model.execute({ [this.targetLayer]: activations }, this.logitsNode) as Tensor);
  }

  logits(input: Tensor4D): Tensor2D {
    return this.scores(this.model.execute(input, this.logitsNode) as Tensor);
  }

  /**
   * Like every runner's head, called inside a tidy (or tf.grad): the [batch, 1] scores go with it.
   * A logits node of [batch, 1, 1, classes] (a 1×1 conv classifier) becomes [batch, classes].
   */
  private scores(logits: Tensor): Tensor2D {
    const scores = (logits.rank === 2 ? logits : tf.reshape(logits, [logits.shape[0] as number, -1])) as Tensor2D;
    return this.binary ? binaryLogits(scores) : scores;
  }

  dispose(): void {
    this.model.dispose();
  }
}
