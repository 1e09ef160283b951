import assert from 'node:assert/strict';
import { test } from 'node:test';
import { e2eProblems } from './pipeline-e2e-problems.ts';
import { type EngineOnlyRow, pipelineRatio } from './pipeline-engine.ts';
import { engineLines, ratioLine } from './pipeline-report.ts';

const clean = { rejected: 0, failures: {}, unaccounted: 0, verifiedStatuses: { done: 40 } };

test('a run that explained every record it submitted has no problems', () => {
  assert.deepEqual(e2eProblems(clean), []);
});

test('rejected records, failed or unaccounted jobs and any status but done are each a problem', () => {
  assert.deepEqual(e2eProblems({ ...clean, rejected: 2 }), ['2 records rejected by ingest']);
  assert.deepEqual(e2eProblems({ ...clean, failures: { BAD_IMAGE: 3, TIMEOUT: 1 } }), ['4 jobs failed (BAD_IMAGE 3, TIMEOUT 1)']);
  assert.deepEqual(e2eProblems({ ...clean, unaccounted: 1 }), ['1 job unaccounted for in BullMQ']);
  assert.deepEqual(e2eProblems({ ...clean, verifiedStatuses: { done: 37, failed: 2, error: 1 } }), ['GET /v1/inferences/{id} answered failed 2, error 1 (not done)']);
});

const engine = (when: EngineOnlyRow['when'], imagesPerSecond: number): EngineOnlyRow => ({
  kind: 'pipeline-engine',
  when,
  model: 'm',
  backend: 'wasm',
  batch: 8,
  seconds: 10,
  run: { processes: 2, imagesPerSecond, perProcessImagesPerSecond: [imagesPerSecond / 2, imagesPerSecond / 2], otherCpuShare: 0, results: [] },
  cpuMsPerImage: 100,
  leak: false,
});

const ratioInputs = {
  endToEnd: 19,
  steady: undefined,
  engine: [engine('before-e2e', 20), engine('after-e2e', 20)],
  pipelineOtherCpuShare: 0,
  pipelineCpuMsByProcess: { worker: 105 },
  pipelineCpuWindow: { basis: 'whole run', seconds: 10, explanations: 190 },
} as const;

test('the ratio of a run with problems is marked not comparable, and does not pass', () => {
  const cleanRatio = pipelineRatio({ ...ratioInputs, pipelineProblems: [] });
  assert.equal(cleanRatio.pass, true);
  assert.match(ratioLine(cleanRatio), /: PASS$/m);
  const failed = pipelineRatio({ ...ratioInputs, pipelineProblems: ['10 jobs failed (BAD_IMAGE 10)'] });
  assert.equal(failed.pass, false);
  assert.deepEqual(failed.notComparableBecause, ['10 jobs failed (BAD_IMAGE 10)']);
  assert.match(ratioLine(failed), /: NOT COMPARABLE \(end to end: 10 jobs failed \(BAD_IMAGE 10\)\)$/m);
  assert.doesNotMatch(ratioLine(failed), /PASS|FAIL/);
});

test('an engine-only run without the end-to-end part says no stack ran', () => {
  assert.match(engineLines(engine('standalone', 20)), /^Engine only \(no stack run\):/);
  assert.match(engineLines(engine('after-e2e', 20)), /^Engine only \(stack stopped\):/);
});
