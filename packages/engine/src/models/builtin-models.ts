import type { PreprocessingSpec } from '@gradcam/contracts';
import type { io } from '@tensorflow/tfjs';
import type { ModelDescriptor } from './model-descriptor.ts';
import { readNsfwjsModel } from './nsfwjs-bundle.ts';

export interface BuiltinModel {
  readonly descriptor: ModelDescriptor;
  readonly read: () => io.ModelArtifacts;
}

const nsfwLabels = ['Drawing', 'Hentai', 'Neutral', 'Porn', 'Sexy'] as const;
/** nsfwjs feeds pixels / 255, stretched to the input size (tf.image.resizeBilinear). */
const pixelsOver255 = (): Omit<PreprocessingSpec, 'width' | 'height' | 'fit'> => ({
  channelOrder: 'rgb',
  scale: 1 / 255,
  mean: [0, 0, 0],
  std: [1, 1, 1],
});

/** Models whose weights ship inside npm packages, so they work offline on a fresh machine. */
export const builtinModels: readonly BuiltinModel[] = [
  {
    descriptor: {
      name: 'nsfw-mobilenet-v2',
      version: 'nsfwjs-4.4.0',
      format: 'layers',
      preprocessing: { width: 224, height: 224, fit: 'fill', ...pixelsOver255() },
      labels: nsfwLabels,
      description: 'nsfwjs MobileNetV2 content-moderation classifier (Keras layers model, 224×224, 5 classes)',
    },
    read: () => readNsfwjsModel('mobilenet_v2'),
  },
  {
    descriptor: {
      name: 'nsfw-mobilenet-v2-graph',
      version: 'nsfwjs-4.4.0',
      format: 'graph',
      preprocessing: { width: 224, height: 224, fit: 'fill', ...pixelsOver255() },
      labels: nsfwLabels,
      description: 'nsfwjs MobileNetV2 "mid" classifier (TF SavedModel converted to a graph model, 224×224)',
    },
    read: () => readNsfwjsModel('mobilenet_v2_mid'),
  },
  {
    descriptor: {
      name: 'nsfw-inception-v3',
      version: 'nsfwjs-4.4.0',
      format: 'layers',
      preprocessing: { width: 299, height: 299, fit: 'fill', ...pixelsOver255() },
      labels: nsfwLabels,
      description: 'nsfwjs InceptionV3 classifier (Keras layers model, 299×299, heavier and more accurate)',
    },
    read: () => readNsfwjsModel('inception_v3'),
  },
];

export const defaultModelName = 'nsfw-mobilenet-v2';
