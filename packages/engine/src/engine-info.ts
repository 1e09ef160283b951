import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs';

const require = createRequire(import.meta.url);

/** Recorded in every manifest: a map is only reproducible with the same engine and tfjs. */
export const engineInfo = {
  version: (require('../package.json') as { version: string }).version,
  tfjsVersion: tf.version.tfjs,
} as const;
