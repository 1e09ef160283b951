import * as tf from '@tensorflow/tfjs';
import type { Tensor, Tensor3D, Tensor4D } from '@tensorflow/tfjs';
import { EngineError } from './errors.ts';
import { type MapStatistics, mapStatistics, normaliseMap } from './map-statistics.ts';
import type { PerturbationOptions } from './methods/cam-method.ts';
import { type MethodName, camMethods, parseMethodName } from './methods/method-registry.ts';
import { scoreCamChannelCount } from './methods/score-cam.ts';
import type { LoadedModel } from './models/load-model.ts';
import { probabilitiesOf } from './models/output-activation.ts';
import { type TargetSpec, predictedClass, resolveTargets } from './targets.ts';

export interface ExplainOptions {
  /** Default: Grad-CAM only. Gradient methods share one backward pass per class rank. */
  readonly methods?: readonly MethodName[];
  /** One spec for all images or one per image. Default: the predicted class. */
  readonly targets?: TargetSpec | readonly TargetSpec[];
  readonly scoreCam?: Partial<PerturbationOptions>;
}

export interface CamMap {
  readonly method: MethodName;
  readonly classIndex: number;
  readonly label: string;
  readonly width: number;
  readonly height: number;
  /** The method's output at target-layer resolution, before any normalisation. */
  readonly raw: Float32Array;
  /** `raw` min-max scaled to 0…1. */
  readonly normalized: Float32Array;
  readonly stats: MapStatistics;
  /** Score-CAM: how many of the target layer's channels (the most active on average) weighted the map. */
  readonly channels?: number;
}

export interface ImageExplanation {
  readonly predictedClass: number;
  readonly predictedLabel: string;
  /** The head's scores; a one-unit sigmoid model has two, [−z, z] (negative, positive). */
  readonly logits: readonly number[];
  /** The model's own output: softmax of the logits, or each one's sigmoid (multi-label, or [1 − p, p]). */
  readonly probabilities: readonly number[];
  readonly maps: readonly CamMap[];
}

export interface StageTimings {
  /** Trunk: input → target activations (and, on the tiny head, the logits). */
  readonly forwardMs: number;
  /** Head forward + backward to the target activations, all class ranks. */
  readonly backwardMs: number;
  /** CAM arithmetic and read-back, all methods. */
  readonly mapsMs: number;
  readonly totalMs: number;
}

export interface BatchExplanation {
  readonly images: readonly ImageExplanation[];
  readonly timings: StageTimings;
}

const defaultScoreCam: PerturbationOptions = { maxChannels: 64, batchSize: 16 };

/**
 * `auto`: pad on backends that compile kernels per tensor shape (WebGPU, WebGL), else not.
 * `power-of-two`: always pad. `none`: never.
 */
export type BatchPadding = 'auto' | 'power-of-two' | 'none';

export interface ExplainerOptions {
  readonly batchPadding?: BatchPadding;
}

/** Backends whose kernels (shader pipelines and their buffers) are built per input shape. */
const shapeCompilingBackends = new Set(['webgpu', 'webgl']);

/**
 * The batch size `count` images are run at. A worker's micro-batches come in every size up to
 * the maximum; on WebGPU each new size compiles every shader of the forward and backward pass
 * again (on an H100, 11% of the workers' main-thread time; 3% once padded), so batches are
 * padded with blank images to the next power of two: at most log2(max) + 1 shape sets, and at
 * most twice the GPU work for a batch. Score-CAM runs per image, so it gains nothing from it.
 */
export function paddedBatchSize(count: number, padding: BatchPadding, backend: string, methods: readonly MethodName[]): number {
  const pad = padding === 'power-of-two' || (padding === 'auto' && shapeCompilingBackends.has(backend));
  if (!pad || count <= 1 || methods.some((m) => camMethods[m].kind === 'perturbation')) return count;
  return 2 ** Math.ceil(Math.log2(count));
}

/**
 * The batch sizes a worker whose micro-batches hold up to `maxBatch` images should run once before
 * it takes jobs: every padded size where kernels are compiled per shape (so no job waits on a
 * compile), else a single image.
 */
export function warmUpBatchSizes(maxBatch: number, backend: string): number[] {
  if (!shapeCompilingBackends.has(backend)) return [1];
  const sizes = new Set<number>();
  for (let count = 1; count <= maxBatch; count++) sizes.add(paddedBatchSize(count, 'auto', backend, ['gradcam']));
  return [...sizes];
}

function checkScoreCamOptions(options: Partial<PerturbationOptions> | undefined): void {
  const { maxChannels, batchSize } = options ?? {};
  if (maxChannels !== undefined && !(Number.isSafeInteger(maxChannels) && maxChannels >= 0)) {
    throw new EngineError('INPUT_INVALID', `scoreCam.maxChannels must be a non-negative integer (0 = all channels), got ${maxChannels}`);
  }
  if (batchSize !== undefined && !(Number.isSafeInteger(batchSize) && batchSize >= 1)) {
    throw new EngineError('INPUT_INVALID', `scoreCam.batchSize must be a positive integer, got ${batchSize}`);
  }
}

/**
 * Explains batches with a loaded model: ONE trunk forward pass per batch yields the activations
 * (the logits come from the tiny head), then per class rank one backward pass through the head
 * only. All gradient methods reuse those gradients, so asking for several costs one pass.
 */
export class Explainer {
  private readonly batchPadding: BatchPadding;
  private blank: Float32Array | undefined;
  /** Free staging arrays: one per engine call in flight, each as long as the largest batch yet. */
  private readonly staging: Float32Array[] = [];

  readonly model: LoadedModel;

  constructor(
    model: LoadedModel,
    options: ExplainerOptions = {},
  ) {
    this.model = model;
    this.batchPadding = options.batchPadding ?? 'auto';
  }

  get inputShape(): readonly [number, number, number] {
    const { height, width } = this.model.descriptor.preprocessing;
    return [height, width, 3];
  }

  label(classIndex: number): string {
    return this.model.descriptor.labels[classIndex] ?? `class_${classIndex}`;
  }

  /**
   * The batch as ONE tensor, its values copied into a staging array that is reused from batch to
   * batch. Stacking one tensor per image uploads each on its own, and on WebGPU every upload is a
   * new mapped GPU buffer (Dawn's createBuffer was 10% of an H200 worker's main thread); a fresh
   * multi-megabyte array per batch is external memory, which V8 answers with full collections.
   * `release` hands the array back once the tensor is disposed: the CPU backend reads it in place.
   */
  private batchTensor(inputs: readonly Float32Array[]): { x: Tensor4D; release: () => void } {
    const [height, width] = this.inputShape;
    const size = height * width * 3;
    inputs.forEach((input, i) => {
      if (input.length !== size) {
        throw new EngineError('INPUT_INVALID', `input ${i} has ${input.length} values; ${this.model.descriptor.name} expects ${height}×${width}×3 = ${size}`);
      }
    });
    const length = inputs.length * size;
    const free = this.staging.findIndex((array) => array.length >= length);
    const staging = free >= 0 ? (this.staging.splice(free, 1)[0] as Float32Array) : new Float32Array(length);
    inputs.forEach((input, i) => staging.set(input, i * size));
    const x = tf.tensor4d(staging.subarray(0, length), [inputs.length, height, width, 3]);
    return { x, release: () => this.staging.push(staging) };
  }

  /** Forward pass only (no gradients): the baseline the Grad-CAM overhead is measured against. */
  async predict(inputs: readonly Float32Array[]): Promise<Float32Array> {
    const { x, release } = this.batchTensor(inputs);
    let logits: Tensor | undefined;
    try {
      logits = tf.tidy(() => this.model.runner.logits(x));
      return (await logits.data()) as Float32Array;
    } finally {
      tf.dispose(logits === undefined ? [x] : [x, logits]);
      release();
    }
  }

  async explain(inputs: readonly Float32Array[], options: ExplainOptions = {}): Promise<BatchExplanation> {
    // Checked before anything runs: an unknown name would otherwise be a TypeError deep inside,
    // and a Score-CAM batch size of 0 a loop without end.
    const methods = (options.methods ?? ['gradcam']).map((m) => parseMethodName(m));
    checkScoreCamOptions(options.scoreCam);
    if (inputs.length === 0) return { images: [], timings: { forwardMs: 0, backwardMs: 0, mapsMs: 0, totalMs: 0 } };
    const specs = options.targets ?? predictedClass;
    const perImage = Array.isArray(specs) ? specs : inputs.map(() => specs as TargetSpec);
    if (perImage.length !== inputs.length) {
      throw new EngineError('INPUT_INVALID', `${perImage.length} target specs for ${inputs.length} images`);
    }
    const size = paddedBatchSize(inputs.length, this.batchPadding, tf.getBackend(), methods);
    if (size === inputs.length) return this.explainExactly(inputs, methods, perImage, options);
    const [height, width] = this.inputShape;
    this.blank ??= new Float32Array(height * width * 3);
    const fill = size - inputs.length;
    const result = await this.explainExactly(
      [...inputs, ...Array<Float32Array>(fill).fill(this.blank)],
      methods,
      [...perImage, ...Array<TargetSpec>(fill).fill(predictedClass)],
      options,
    );
    return { images: result.images.slice(0, inputs.length), timings: result.timings };
  }

  private async explainExactly(
    inputs: readonly Float32Array[],
    methods: readonly MethodName[],
    perImage: readonly TargetSpec[],
    options: ExplainOptions,
  ): Promise<BatchExplanation> {
    const { runner } = this.model;
    const activation = runner.outputActivation;
    const batch = inputs.length;
    const t0 = performance.now();
    const { x, release } = this.batchTensor(inputs);
    // Every tensor this call makes is in here until the finally, so a failure anywhere (a kernel
    // error, a lost device, a rejected read-back) leaves the tensor count as it was.
    const owned: Tensor[] = [x];
    try {
      const { activations, bypass } = runner.trunk(x);
      owned.push(activations, ...bypass);
      const logitsTensor = tf.tidy(() => runner.head(activations, bypass));
      owned.push(logitsTensor);
      const logits = (await logitsTensor.data()) as Float32Array;
      logitsTensor.dispose();
      const numClasses = logits.length / batch;
      const rows = Array.from({ length: batch }, (_, b) => logits.subarray(b * numClasses, (b + 1) * numClasses));
      const classes = rows.map((row, b) => resolveTargets(perImage[b] as TargetSpec, row));
      const t1 = performance.now();

      // Gradients of the selected logit per image, one backward pass per class rank.
      const gradientMethods = methods.filter((m) => camMethods[m].kind === 'gradient');
      const ranks = Math.max(...classes.map((c) => c.length));
      const pending: { method: MethodName; rank: number; maps: Tensor3D }[] = [];
      let backwardMs = 0;
      let mapsMs = 0;
      if (gradientMethods.length > 0) {
        const scoreOf = (mask: Tensor) => (a: Tensor) => tf.sum(tf.mul(runner.head(a as Tensor4D, bypass), mask));
        for (let rank = 0; rank < ranks; rank++) {
          const started = performance.now();
          const maskData = new Float32Array(batch * numClasses);
          classes.forEach((list, b) => {
            const c = list[rank];
            if (c !== undefined) maskData[b * numClasses + c] = 1;
          });
          const mask = tf.tensor2d(maskData, [batch, numClasses]);
          let gradients: Tensor4D;
          try {
            gradients = tf.grad(scoreOf(mask))(activations) as Tensor4D;
          } finally {
            mask.dispose();
          }
          const mid = performance.now();
          try {
            for (const method of gradientMethods) {
              const m = camMethods[method];
              if (m.kind !== 'gradient') continue;
              const maps = m.compute(activations, gradients);
              owned.push(maps);
              pending.push({ method, rank, maps });
            }
          } finally {
            gradients.dispose();
          }
          backwardMs += mid - started;
          mapsMs += performance.now() - mid;
        }
      }
      const t2 = performance.now();
      const activationMaps = new Map<MethodName, Tensor3D>();
      for (const method of methods) {
        const m = camMethods[method];
        if (m.kind !== 'activation') continue;
        const maps = await m.compute(activations);
        owned.push(maps);
        activationMaps.set(method, maps);
      }
      const perturbation = new Map<MethodName, Tensor3D[]>();
      const scoreOptions = { ...defaultScoreCam, ...options.scoreCam };
      for (const method of methods) {
        const m = camMethods[method];
        if (m.kind !== 'perturbation') continue;
        const perImageMaps: Tensor3D[] = [];
        perturbation.set(method, perImageMaps);
        // One image at a time, awaited: the method yields to the event loop between its forward
        // passes, so a Score-CAM batch never holds the loop for more than one of them.
        for (const [b, list] of classes.entries()) {
          const input = tf.slice(x, [b, 0, 0, 0], [1, -1, -1, -1]);
          const imageActivations = tf.slice(activations, [b, 0, 0, 0], [1, -1, -1, -1]);
          try {
            const maps = await m.compute({ runner, input, activations: imageActivations, classes: list, options: scoreOptions });
            owned.push(maps);
            perImageMaps.push(maps);
          } finally {
            tf.dispose([input, imageActivations]);
          }
        }
      }

      // The activations' own size, not the runner's declared one: the maps are sliced per image
      // by it, so a wrong size would cut one image's map from another's.
      const [, h, w] = activations.shape;
      const cells = h * w;
      // Every map tensor read back once, before the per-image slicing: reads started while one of
      // the same tensor is in flight are not merged, and on a GPU backend each is a staging buffer,
      // a queue submit and a copy of the whole batch (measured: 11 reads instead of 3 for 8 images).
      const readBack = async <K>(entries: Iterable<[K, Tensor]>) =>
        new Map(await Promise.all([...entries].map(async ([key, tensor]) => [key, (await tensor.data()) as Float32Array] as const)));
      const gradientData = await readBack(pending.map((p) => [`${p.method}/${p.rank}`, p.maps]));
      const activationData = await readBack(activationMaps);
      const perturbationData = await readBack([...perturbation].flatMap(([method, perImage]) => perImage.map((t, b) => [`${method}/${b}`, t] as [string, Tensor])));
      const images = rows.map((row, b): ImageExplanation => {
        const maps: CamMap[] = [];
        const list = classes[b] as number[];
        const add = (method: MethodName, classIndex: number, raw: Float32Array, channels?: number) => {
          const stats = mapStatistics(raw, w, h);
          const map = { method, classIndex, label: this.label(classIndex), width: w, height: h, raw, normalized: normaliseMap(raw, stats), stats };
          maps.push(channels === undefined ? map : { ...map, channels });
        };
        for (const method of methods) {
          const kind = camMethods[method].kind;
          for (const [rank, classIndex] of list.entries()) {
            if (kind === 'gradient') {
              add(method, classIndex, (gradientData.get(`${method}/${rank}`) as Float32Array).slice(b * cells, (b + 1) * cells));
            } else if (kind === 'activation') {
              add(method, classIndex, (activationData.get(method) as Float32Array).slice(b * cells, (b + 1) * cells));
            } else {
              const channels = scoreCamChannelCount(scoreOptions.maxChannels, activations.shape[3]);
              add(method, classIndex, (perturbationData.get(`${method}/${b}`) as Float32Array).slice(rank * cells, (rank + 1) * cells), channels);
            }
          }
        }
        const best = resolveTargets(predictedClass, row)[0] as number;
        return {
          predictedClass: best,
          predictedLabel: this.label(best),
          logits: Array.from(row),
          probabilities: probabilitiesOf(row, activation),
          maps,
        };
      });
      const t3 = performance.now();
      return {
        images,
        timings: { forwardMs: t1 - t0, backwardMs, mapsMs: mapsMs + (t3 - t2), totalMs: t3 - t0 },
      };
    } finally {
      tf.dispose(owned);
      release();
    }
  }
}
