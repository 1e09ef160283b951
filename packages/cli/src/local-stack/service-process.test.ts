import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { freePort } from '@gradcam/dev-services';
import { LocalStackError } from './local-stack-error.ts';
import { ServiceExitedError } from './service-exited-error.ts';
import { pinoErrorLine, startService, waitUntilReady } from './service-process.ts';

async function withEntry(source: string, body: (entry: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'gradcam-service-'));
  try {
    await writeFile(join(dir, 'service.mjs'), source);
    await body(join(dir, 'service.mjs'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('pino error and fatal lines give their message and the error\'s code and message; lower levels none', () => {
  const fatal = JSON.stringify({ level: 60, msg: 'worker failed to start', err: { type: 'EngineError', message: 'unknown model "x"\nmore', code: 'MODEL_NOT_FOUND', stack: '…' } });
  assert.deepEqual(pinoErrorLine(fatal), { level: 60, text: 'worker failed to start: MODEL_NOT_FOUND: unknown model "x"' });
  assert.deepEqual(pinoErrorLine(JSON.stringify({ level: 50, msg: 'connect ECONNREFUSED', err: { message: 'connect ECONNREFUSED' } })), { level: 50, text: 'connect ECONNREFUSED' });
  assert.equal(pinoErrorLine(JSON.stringify({ level: 40, msg: 'a warning' })), undefined);
  assert.equal(pinoErrorLine('{"level": broken'), undefined);
});

test('a service that logs its fatal error on stdout and exits: that is the reason given', async () => {
  const lines = [
    { level: 30, msg: 'starting' },
    { level: 50, msg: 'connect ECONNREFUSED 127.0.0.1:1' },
    { level: 60, msg: 'worker failed to start', err: { message: 'unknown model "bogus-model"', code: 'MODEL_NOT_FOUND' } },
    { level: 30, msg: 'bye' },
  ];
  await withEntry(`for (const l of ${JSON.stringify(lines)}) console.log(JSON.stringify(l));\nprocess.exitCode = 1;\n`, async (entry) => {
    const service = startService({ name: 'fixture', entry, env: process.env });
    await assert.rejects(waitUntilReady(service, `http://127.0.0.1:${await freePort()}/readyz`, 10_000), (error: unknown) => {
      assert.ok(error instanceof ServiceExitedError, String(error));
      assert.equal(error.message, 'fixture exited (code 1) before it was ready: worker failed to start: MODEL_NOT_FOUND: unknown model "bogus-model"');
      return true;
    });
  });
});

test('a service never ready is a LocalStackError SERVICE_NOT_READY, which gradcam up prints as one line', async () => {
  await withEntry(`setInterval(() => {}, 1000);\n`, async (entry) => {
    const service = startService({ name: 'fixture', entry, env: process.env });
    try {
      await assert.rejects(waitUntilReady(service, `http://127.0.0.1:${await freePort()}/readyz`, 1_000), (error: unknown) => {
        assert.ok(error instanceof LocalStackError, String(error));
        assert.equal(error.code, 'SERVICE_NOT_READY');
        assert.match(error.message, /^fixture was not ready at http:\/\/127\.0\.0\.1:\d+\/readyz within 1 s \(.*\)$/);
        return true;
      });
    } finally {
      await service.stop('SIGKILL');
    }
  });
});
