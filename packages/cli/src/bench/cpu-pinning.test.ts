import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { withLaunchPrefix } from '@gradcam/dev-services';
import { BenchArgsError } from './bench-args.ts';
import { parseCpuPinning, pinnedLaunch } from './cpu-pinning.ts';

const linux = process.platform === 'linux';

test('a CPU list leaves the other CPUs to the load generator', { skip: !linux && 'taskset is Linux only' }, () => {
  const pinning = parseCpuPinning('0');
  assert.deepEqual(pinning.serviceCpus, [0]);
  assert.equal(pinning.generatorCpus.includes(0), false);
});

test('a bad or unavailable CPU list is refused with the reason', { skip: !linux && 'taskset is Linux only' }, () => {
  assert.throws(() => parseCpuPinning('0,x'), (error: unknown) => error instanceof BenchArgsError && /"x" is not a CPU number or range/.test(error.message));
  assert.throws(() => parseCpuPinning('3-1'), /runs backwards/);
  assert.throws(() => parseCpuPinning('4095'), /CPU 4095 not available here/);
});

test('a pinned launch runs the command on the chosen CPU only', { skip: !linux && 'taskset is Linux only' }, () => {
  const launch = withLaunchPrefix(pinnedLaunch(parseCpuPinning('0')), 'grep', ['Cpus_allowed_list', '/proc/self/status']);
  assert.match(execFileSync(launch.command, launch.args, { encoding: 'utf8' }), /^Cpus_allowed_list:\s+0\n$/);
});

test('without a prefix the command runs as given', () => {
  assert.deepEqual(withLaunchPrefix(undefined, 'redis-server', ['--port', '1']), { command: 'redis-server', args: ['--port', '1'] });
});
