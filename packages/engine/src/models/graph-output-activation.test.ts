import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../backends/select-backend.ts';
import { seededValues } from '../test-support/tiny-model.ts';
import { Explainer } from '../explainer.ts';
import { GraphModelRunner, discoverGraphNodes, graphOutputActivation } from './graph-model-runner.ts';
import { loadModelFromArtifacts } from './load-model.ts';

before(() => selectBackend('wasm'));

/** A GraphDef holding a chain of [name, op] nodes, each fed by the one before. */
function chain(...nodes: [string, string][]): tf.io.ModelArtifacts {
  return { modelTopology: { node: nodes.map(([name, op], i) => ({ name, op, input: i === 0 ? [] : [`${nodes[i - 1]?.[0]}:0`] })) } };
}

test('the activation between a graph\'s logits node and its output is found, through Identity nodes', () => {
  const head: [string, string][] = [['features', 'Mean'], ['logits', 'BiasAdd']];
  assert.equal(graphOutputActivation(chain(...head, ['probabilities', 'Softmax']), 'probabilities:0', 'logits'), 'softmax');
  assert.equal(graphOutputActivation(chain(...head, ['sigmoid', 'Sigmoid'], ['Identity', 'Identity']), 'Identity', 'logits'), 'sigmoid');
  assert.equal(graphOutputActivation(chain(...head, ['Identity', 'Identity']), 'Identity', 'logits'), undefined, 'logits as the output');
  assert.equal(graphOutputActivation(chain(...head), 'logits', 'logits'), undefined);
  // A declared logits node after the activation: nothing lies between it and the output.
  assert.equal(graphOutputActivation(chain(...head, ['sigmoid', 'Sigmoid'], ['Identity', 'Identity']), 'Identity', 'sigmoid'), undefined);
});

type Node = { name: string; op: string; input?: string[]; attr?: Record<string, unknown> };

const float = { type: 'DT_FLOAT' };
const int32 = { type: 'DT_INT32' };
const ints = (values: number[]) => ({ list: { i: values.map(String) } });
const text = (value: string) => ({ s: Buffer.from(value).toString('base64') });
function constant(name: string, shape: number[], dtype: 'float32' | 'int32'): Node {
  const type = dtype === 'float32' ? 'DT_FLOAT' : 'DT_INT32';
  return { name, op: 'Const', attr: { dtype: { type }, value: { tensor: { dtype: type, tensorShape: { dim: shape.map((size) => ({ size: String(size) })) } } } } };
}

/**
 * A real graph model with `units` outputs: input [b, 8, 8, 3] → features = AvgPool 4×4 ([b, 2, 2, 3])
 * → logits = Σ features · w over the spatial axes (and the channels, for one unit) → `ending`
 * (a Softmax or Sigmoid node, or none) → a Reshape when `reshapedAfter` → an Identity output.
 */
async function tinyGraph(units: 1 | 3, ending: 'Softmax' | 'Sigmoid' | undefined, reshapedAfter = false): Promise<{ graph: tf.GraphModel; artifacts: tf.io.ModelArtifacts }> {
  const axes = units === 1 ? [1, 2, 3] : [1, 2];
  const nodes: Node[] = [
    { name: 'input', op: 'Placeholder', attr: { dtype: float, shape: { shape: { dim: [-1, 8, 8, 3].map((size) => ({ size: String(size) })) } } } },
    { name: 'features', op: 'AvgPool', input: ['input'], attr: { T: float, ksize: ints([1, 4, 4, 1]), strides: ints([1, 4, 4, 1]), padding: text('VALID'), data_format: text('NHWC') } },
    constant('w', [1, 2, 2, 3], 'float32'),
    { name: 'mul', op: 'Mul', input: ['features', 'w'], attr: { T: float } },
    constant('axes', [axes.length], 'int32'),
    { name: 'sum', op: 'Sum', input: ['mul', 'axes'], attr: { T: float, Tidx: int32, keep_dims: { b: false } } },
    constant('shape', [2], 'int32'),
    { name: 'logits', op: 'Reshape', input: ['sum', 'shape'], attr: { T: float, Tshape: int32 } },
  ];
  if (ending) nodes.push({ name: 'activation', op: ending, input: ['logits'], attr: { T: float } });
  // TF-slim's ending: Softmax → Reshape (MobilenetV1/Predictions/Reshape_1).
  if (reshapedAfter) nodes.push({ name: 'Reshape_1', op: 'Reshape', input: [nodes[nodes.length - 1]?.name ?? '', 'shape'], attr: { T: float, Tshape: int32 } });
  nodes.push({ name: 'Identity', op: 'Identity', input: [nodes[nodes.length - 1]?.name ?? ''], attr: { T: float } });
  const weights = Float32Array.from(seededValues(12, 1), (v) => v - 0.5);
  const data = [new Uint8Array(weights.buffer), new Uint8Array(Int32Array.from(axes).buffer), new Uint8Array(Int32Array.from([-1, units]).buffer)];
  const weightData = new Uint8Array(data.reduce((n, d) => n + d.length, 0));
  data.reduce((offset, d) => (weightData.set(d, offset), offset + d.length), 0);
  const artifacts: tf.io.ModelArtifacts = {
    modelTopology: { node: nodes, versions: { producer: 1 } },
    weightSpecs: [
      { name: 'w', shape: [1, 2, 2, 3], dtype: 'float32' },
      { name: 'axes', shape: [axes.length], dtype: 'int32' },
      { name: 'shape', shape: [2], dtype: 'int32' },
    ],
    weightData: weightData.buffer,
  };
  return { graph: await tf.loadGraphModel(tf.io.fromMemory(artifacts)), artifacts };
}

/** The runner loadModel makes: the activation found between the logits node and the output passed in. */
async function graphRunner(units: 1 | 3, ending: 'Softmax' | 'Sigmoid' | undefined): Promise<{ runner: GraphModelRunner; graph: tf.GraphModel }> {
  const { graph, artifacts } = await tinyGraph(units, ending);
  const stripped = graphOutputActivation(artifacts, 'Identity', 'logits');
  assert.equal(stripped, ending?.toLowerCase());
  return { runner: new GraphModelRunner(graph, 'features', 'logits', { width: 8, height: 8 }, stripped), graph };
}

test('a one-unit graph output, sigmoid or linear, is scored as the two classes [−z, z]; softmax runners are left as they are', async () => {
  for (const ending of ['Sigmoid', undefined] as const) {
    const { runner, graph } = await graphRunner(1, ending);
    assert.equal(runner.outputActivation, 'sigmoid');
    assert.equal(runner.numClasses, 2);
    const x = tf.tensor4d(seededValues(2 * 8 * 8 * 3, 4), [2, 8, 8, 3]);
    const before = tf.memory().numTensors;
    const [z, scores] = tf.tidy(() => [(graph.execute(x, 'logits') as tf.Tensor).arraySync() as number[][], runner.logits(x).arraySync() as number[][]]);
    assert.equal(z.length, 2);
    z.forEach(([value], b) => assert.deepEqual(scores[b], [-(value as number), value]));
    // Class 0's gradient is class 1's negated.
    const [negative, positive] = tf.tidy(() => {
      const { activations } = runner.trunk(x);
      return [[1, 0], [0, 1]].map((row) => {
        const mask = tf.tensor2d([row, row]);
        return tf.grad((a: tf.Tensor) => tf.sum(tf.mul(runner.head(a as tf.Tensor4D), mask)))(activations).arraySync() as number[][][][];
      });
    });
    assert.deepEqual(negative?.flat(3).map((v) => -v), positive?.flat(3));
    assert.equal(tf.memory().numTensors, before);
    x.dispose();
    runner.dispose();
  }
  for (const ending of ['Softmax', undefined, 'Sigmoid'] as const) {
    const { runner: three, graph } = await graphRunner(3, ending);
    const what = `three units, ${ending ?? 'linear'}`;
    // A linear output of several units is read as softmax logits.
    assert.equal(three.outputActivation, ending === 'Sigmoid' ? 'sigmoid' : 'softmax', what);
    assert.equal(three.numClasses, 3, what);
    const x = tf.tensor4d(seededValues(2 * 8 * 8 * 3, 4), [2, 8, 8, 3]);
    const [z, scores, head] = tf.tidy(() => [
      (graph.execute(x, 'logits') as tf.Tensor).arraySync() as number[][],
      three.logits(x).arraySync() as number[][],
      three.head(three.trunk(x).activations).arraySync() as number[][],
    ]);
    assert.deepEqual(scores, z, what);
    assert.deepEqual(head, z, what);
    x.dispose();
    three.dispose();
  }
});

test('a Softmax or Sigmoid followed by a Reshape (TF-slim\'s ending) is the output activation: its input is the logits node', async () => {
  for (const [units, ending, labels] of [[3, 'Softmax', ['a', 'b', 'c']], [1, 'Sigmoid', ['no', 'yes']]] as const) {
    const { graph, artifacts } = await tinyGraph(units, ending, true);
    assert.equal(discoverGraphNodes(artifacts, 'Identity').logitsNode, 'logits', ending);
    assert.equal(graphOutputActivation(artifacts, 'Identity', 'logits'), ending.toLowerCase());
    // A logits node that is itself a Reshape, with no activation after it, stays the logits node.
    assert.equal(discoverGraphNodes((await tinyGraph(units, undefined)).artifacts, 'Identity').logitsNode, 'logits');
    const loaded = await loadModelFromArtifacts(
      { name: 'slim', version: '1', format: 'graph', labels: [...labels], preprocessing: { width: 8, height: 8, fit: 'fill', channelOrder: 'rgb', scale: 1, mean: [0, 0, 0], std: [1, 1, 1] } },
      artifacts,
      { targetLayer: 'features' },
    );
    assert.equal(loaded.runner.outputActivation, ending.toLowerCase());
    const input = seededValues(8 * 8 * 3, 4);
    const x = tf.tensor4d(input, [1, 8, 8, 3]);
    const [z, p] = tf.tidy(() => [graph.execute(x, 'logits'), graph.execute(x)].map((t) => ((t as tf.Tensor).arraySync() as number[][])[0]));
    x.dispose();
    const { images: [image] } = await new Explainer(loaded).explain([input]);
    const [logits, probabilities] = units === 1 ? [[-(z?.[0] as number), z?.[0] as number], [1 - (p?.[0] as number), p?.[0] as number]] : [z ?? [], p ?? []];
    image?.logits.forEach((v, c) => assert.ok(Math.abs(v - (logits[c] as number)) < 1e-5, `${ending}: logit ${c}: ${v} vs ${logits[c]}`));
    image?.probabilities.forEach((v, c) => assert.ok(Math.abs(v - (probabilities[c] as number)) < 1e-5, `${ending}: probability ${c}: ${v} vs ${probabilities[c]}`));
    graph.dispose();
    loaded.runner.dispose();
  }
});
