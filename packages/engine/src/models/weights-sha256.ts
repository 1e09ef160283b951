import { createHash } from 'node:crypto';
import type { io } from '@tensorflow/tfjs';

/**
 * sha256 (hex) of what a model computes with: its topology (model.json's `modelTopology`, as
 * JSON.stringify writes it), its weight specs (the `weights` entries of model.json's
 * `weightsManifest`, in order: names, shapes, dtypes and quantization say how the bytes are read)
 * and its weight bytes (the shards in manifest order). A model retrained and shipped again under
 * the same declared version gets another one. Recorded in every manifest as model.weightsSha256.
 */
export function modelWeightsSha256(artifacts: io.ModelArtifacts): string {
  const hash = createHash('sha256').update(JSON.stringify(artifacts.modelTopology ?? null)).update(JSON.stringify(artifacts.weightSpecs ?? []));
  const data = artifacts.weightData;
  for (const buffer of data === undefined ? [] : Array.isArray(data) ? data : [data]) hash.update(new Uint8Array(buffer));
  return hash.digest('hex');
}
