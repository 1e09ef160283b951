import type { io } from '@tensorflow/tfjs';
import type { OutputActivation } from './output-activation.ts';

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
