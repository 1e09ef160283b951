import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { io } from '@tensorflow/tfjs';
import { EngineError } from '../errors.ts';

interface ModelJson {
  format?: string;
  generatedBy?: string;
  convertedBy?: string | null;
  modelTopology: unknown;
  weightsManifest: { paths: string[]; weights: io.WeightsManifestEntry[] }[];
  userDefinedMetadata?: Record<string, object>;
}

function concat(buffers: readonly Uint8Array[]): ArrayBuffer {
  const total = buffers.reduce((n, b) => n + b.byteLength, 0);
  const out = new Uint8Array(total);
  let offset = 0;
  for (const b of buffers) {
    out.set(b, offset);
    offset += b.byteLength;
  }
  return out.buffer;
}

/** Builds tfjs ModelArtifacts from a parsed model.json and its shards, in manifest order. */
export function toArtifacts(json: ModelJson, shards: readonly Uint8Array[]): io.ModelArtifacts {
  if (!json.modelTopology || !Array.isArray(json.weightsManifest)) {
    throw new EngineError('MODEL_INVALID', 'model.json has no modelTopology or weightsManifest');
  }
  const artifacts: io.ModelArtifacts = {
    modelTopology: json.modelTopology as object,
    weightSpecs: json.weightsManifest.flatMap((group) => group.weights),
    weightData: concat(shards),
  };
  if (json.format !== undefined) artifacts.format = json.format;
  if (json.userDefinedMetadata !== undefined) artifacts.userDefinedMetadata = json.userDefinedMetadata;
  return artifacts;
}

/**
 * Reads a TensorFlow.js model directory (model.json + weight shards). Plain @tensorflow/tfjs has
 * no file:// loader (only tfjs-node does), so the files are read here and handed over in memory;
 * the same code then serves every backend.
 */
export async function readModelDirectory(dir: string): Promise<io.ModelArtifacts> {
  const file = join(dir, 'model.json');
  const text = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') throw new EngineError('MODEL_NOT_FOUND', `${dir} is not a TensorFlow.js model folder: it has no model.json`, { cause: error });
    // Node's message names the file again ("EACCES: permission denied, open '…/model.json'").
    throw new EngineError('MODEL_NOT_FOUND', `cannot read ${file}: ${error.message.replace(/, \w+ '.*'$/s, '')}`, { cause: error });
  });
  let json: ModelJson;
  try {
    json = JSON.parse(text) as ModelJson;
  } catch (error) {
    throw new EngineError('MODEL_INVALID', `${file} is not valid JSON: ${(error as Error).message}`, { cause: error });
  }
  const paths = (json.weightsManifest ?? []).flatMap((group) => group.paths);
  const shards = await Promise.all(
    paths.map(async (path) => {
      try {
        return await readFile(join(dir, path));
      } catch (error) {
        throw new EngineError('MODEL_INVALID', `weight shard ${path} of ${dir} is missing`, { cause: error });
      }
    }),
  );
  return toArtifacts(json, shards);
}

/** Which kind of tfjs model the artifacts hold. */
export function artifactsFormat(artifacts: io.ModelArtifacts): 'layers' | 'graph' {
  if (artifacts.format === 'graph-model') return 'graph';
  const topology = artifacts.modelTopology as { node?: unknown } | undefined;
  return topology && Array.isArray(topology.node) ? 'graph' : 'layers';
}
