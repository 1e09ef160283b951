import * as tf from '@tensorflow/tfjs';
import { globalAwareAvgPoolGrad } from './avg-pool-grad.ts';

let registered = false;

/** The engine's gradient overrides, one file per kernel, registered here once per process. */
export function registerEngineGradients(): void {
  if (registered) return;
  const stock = tf.getGradient('AvgPool');
  if (stock) tf.registerGradient(globalAwareAvgPoolGrad(stock));
  registered = true;
}
