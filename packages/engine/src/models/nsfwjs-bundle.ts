import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { io } from '@tensorflow/tfjs';
import { EngineError } from '../errors.ts';
import { toArtifacts } from './model-artifacts.ts';

const require = createRequire(import.meta.url);

/**
 * The nsfwjs npm package ships its models as UMD scripts: `model.min.js` exports the parsed
 * model.json, each `groupN-shardKofN.min.js` exports one weight shard as base64. Reading them
 * directly takes ~0.1 s, against seconds for nsfwjs's own `load()`, and needs no network.
 */
export type NsfwjsFolder = 'mobilenet_v2' | 'mobilenet_v2_mid' | 'inception_v3';

export function readNsfwjsModel(folder: NsfwjsFolder): io.ModelArtifacts {
  let root: string;
  try {
    // The package's exports map hides package.json; its CommonJS entry is dist/cjs/index.js.
    root = join(dirname(require.resolve('nsfwjs')), '..', 'models', folder);
  } catch (error) {
    throw new EngineError('MODEL_NOT_FOUND', 'the nsfwjs package is not installed (npm ci installs it)', { cause: error });
  }
  const json = require(join(root, 'model.min.js')) as Parameters<typeof toArtifacts>[0];
  const shardFiles = new Map(readdirSync(root).map((file) => [file.replace(/\.min\.js$/, ''), file]));
  const shards = json.weightsManifest
    .flatMap((group) => group.paths)
    .map((path) => {
      const file = shardFiles.get(path.replace(/\.bin$/, ''));
      if (!file) throw new EngineError('MODEL_INVALID', `nsfwjs ${folder}: shard ${path} not found in ${root}`);
      return Buffer.from(require(join(root, file)) as string, 'base64');
    });
  return toArtifacts(json, shards);
}
