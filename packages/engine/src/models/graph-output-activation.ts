import type { Tensor2D, io } from '@tensorflow/tfjs';
import type { ModelRunner } from './model-runner.ts';
import { type OutputActivation, binaryLogits, isBinary, resolveOutputActivation } from './output-activation.ts';

interface GraphDefNode {
  name: string;
  op: string;
  input?: string[];
}

const activationOps: Readonly<Record<string, OutputActivation>> = { Softmax: 'softmax', Sigmoid: 'sigmoid' };

function nodeName(ref: string): string {
  return ref.replace(/^\^/, '').replace(/:\d+$/, '');
}

/**
 * The activation between a graph's logits node and its output (the Softmax or Sigmoid the logits
 * discovery walks past), or undefined where the output is the logits themselves.
 */
export function graphOutputActivation(artifacts: io.ModelArtifacts, outputName: string, logitsNode: string): OutputActivation | undefined {
  const nodes = (artifacts.modelTopology as { node?: GraphDefNode[] }).node ?? [];
  const byName = new Map(nodes.map((n) => [n.name, n]));
  let node = byName.get(nodeName(outputName));
  const seen = new Set<string>();
  while (node && node.name !== logitsNode && !seen.has(node.name)) {
    seen.add(node.name);
    const activation = activationOps[node.op];
    if (activation) return activation;
    if (node.op !== 'Identity' || !node.input?.[0]) return undefined;
    node = byName.get(nodeName(node.input[0]));
  }
  return undefined;
}

/**
 * A graph runner that declares the activation its output had, scoring a one-unit sigmoid output
 * as two classes [−z, z]; a softmax runner is returned as it is (a runner without the field is
 * read as softmax).
 */
export function withGraphOutputActivation(runner: ModelRunner, stripped: OutputActivation | undefined): ModelRunner {
  const outputActivation = resolveOutputActivation(stripped, runner.numClasses);
  if (outputActivation === 'softmax') return runner;
  const binary = isBinary(outputActivation, runner.numClasses);
  // Like every runner's head, called inside a tidy (or tf.grad): the [batch, 1] scores go with it.
  const scores = (logits: Tensor2D) => (binary ? binaryLogits(logits) : logits);
  return {
    targetLayer: runner.targetLayer,
    targetShape: runner.targetShape,
    numClasses: binary ? 2 : runner.numClasses,
    outputActivation,
    trunk: (input) => runner.trunk(input),
    head: (activations, bypass) => scores(runner.head(activations, bypass)),
    logits: (input) => scores(runner.logits(input)),
    dispose: () => runner.dispose(),
  };
}
