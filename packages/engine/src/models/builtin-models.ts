import type { io } from '@tensorflow/tfjs';
import type { ModelDescriptor } from './model-descriptor.ts';
import { type NsfwjsFolder, readNsfwjsModel } from './nsfwjs-bundle.ts';

export interface BuiltinModel {
  readonly descriptor: ModelDescriptor;
  readonly read: () => io.ModelArtifacts;
}

/**
 * The nsfwjs classifiers: 5 classes, pixels / 255, stretched to the input size (nsfwjs itself
 * uses tf.image.resizeBilinear).
 */
function nsfwjsModel(folder: NsfwjsFolder, name: string, format: 'layers' | 'graph', size: number, description: string): BuiltinModel {
  return {
    descriptor: {
      name,
      version: 'nsfwjs-4.4.0',
      format,
      preprocessing: { width: size, height: size, fit: 'fill', channelOrder: 'rgb', scale: 1 / 255, mean: [0, 0, 0], std: [1, 1, 1] },
      labels: ['Drawing', 'Hentai', 'Neutral', 'Porn', 'Sexy'],
      description,
    },
    read: () => readNsfwjsModel(folder),
  };
}

/** Models whose weights ship inside npm packages, so they work offline on a fresh machine. */
export const builtinModels: readonly BuiltinModel[] = [
  nsfwjsModel('mobilenet_v2', 'nsfw-mobilenet-v2', 'layers', 224, 'nsfwjs MobileNetV2 content-moderation classifier (Keras layers model, 224×224, 5 classes)'),
  nsfwjsModel('mobilenet_v2_mid', 'nsfw-mobilenet-v2-graph', 'graph', 224, 'nsfwjs MobileNetV2 "mid" classifier (TF SavedModel converted to a graph model, 224×224)'),
  nsfwjsModel('inception_v3', 'nsfw-inception-v3', 'layers', 299, 'nsfwjs InceptionV3 classifier (Keras layers model, 299×299, heavier and more accurate)'),
];

export const defaultModelName = 'nsfw-mobilenet-v2';
