import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EngineError } from '@gradcam/engine';
import { failsEveryStart } from './start-failure.ts';

const fileError = (code: string) => Object.assign(new Error(`${code}: …`), { code });

test('a start that fails on the settings fails every time; one that fails on the backend, the GPU or a passing file error may not', () => {
  assert.equal(failsEveryStart(new EngineError('MODEL_NOT_FOUND', 'unknown model "bogus"')), true);
  assert.equal(failsEveryStart(new EngineError('MODEL_NOT_FOUND', 'cannot read model.json', { cause: fileError('ENOENT') })), true);
  assert.equal(failsEveryStart(new EngineError('MODEL_NOT_FOUND', 'cannot read model.json', { cause: new SyntaxError('Unexpected token') })), true);
  assert.equal(failsEveryStart(new EngineError('MODEL_INVALID', 'model.json is not valid JSON', { cause: new SyntaxError('Unexpected token') })), true);
  assert.equal(failsEveryStart(new EngineError('TARGET_LAYER_NOT_FOUND', 'no layer "x"')), true);
  assert.equal(failsEveryStart(new EngineError('TARGET_LAYER_INVALID', 'inside a residual block')), true);
  assert.equal(failsEveryStart(new EngineError('METHOD_UNKNOWN', 'no method "x"')), true);
  assert.equal(failsEveryStart(new EngineError('MODEL_NAME_INVALID', 'version: "1.0.0+build.5" is refused')), true);

  assert.equal(failsEveryStart(new EngineError('MODEL_NOT_FOUND', 'cannot read model.json', { cause: fileError('EMFILE') })), false);
  assert.equal(failsEveryStart(new EngineError('MODEL_NOT_FOUND', 'cannot read model.json', { cause: fileError('EIO') })), false);
  assert.equal(failsEveryStart(new EngineError('MODEL_INVALID', 'cannot load model: CUDA_ERROR_OUT_OF_MEMORY')), false);
  assert.equal(failsEveryStart(new EngineError('BACKEND_UNAVAILABLE', 'backend tensorflow-gpu is not available')), false);
  assert.equal(failsEveryStart(new Error('Redis is gone')), false);
});
