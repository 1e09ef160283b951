import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type CpuSnapshot, machineBusy, otherShareBetween } from './cpu-contention.ts';

const linux = process.platform === 'linux';
const contention = fileURLToPath(new URL('./cpu-contention.ts', import.meta.url));

test('/proc/stat is read as busy seconds over every core', () => {
  const stat = ['cpu  100 0 50 800 10 5 5 0 0 0', 'cpu0 60 0 20 400 5 0 5 0 0 0', 'cpu1 40 0 30 400 5 5 0 0 0 0', 'intr 1 2 3', ''].join('\n');
  // user + nice + system + irq + softirq + steal; idle and iowait are not busy.
  assert.deepEqual(machineBusy(stat), { seconds: 1.6, cores: 2 });
  assert.equal(machineBusy('garbage'), undefined);
});

test("others' share is what the machine was busy with beyond our own processes, over all its cores", () => {
  const start: CpuSnapshot = { at: 0, machineBusy: 10, machineCores: 2, own: 1 };
  const end: CpuSnapshot = { at: 1000, machineBusy: 11.5, machineCores: 2, own: 1.5 };
  // 1.5 busy seconds: 0.5 ours, 0.5 our children's, 0.5 someone else's, on 2 cores for 1 s.
  assert.equal(otherShareBetween(start, end, 0.5), 0.25);
  assert.equal(otherShareBetween(start, { ...end, machineBusy: undefined }, 0), undefined);
});

test('a process pinned to one CPU still divides by every core of the machine', { skip: !linux && 'taskset and /proc/stat are Linux only' }, () => {
  // --ingest-cpus pins the benchmark itself; availableParallelism() then counts only its CPUs,
  // and others' share came out inflated by the machine's cores ÷ the pinned ones.
  const cores = machineBusy(readFileSync('/proc/stat', 'utf8'))?.cores;
  const probe = `const { cpuSnapshot } = await import(${JSON.stringify(contention)}); const { availableParallelism } = await import('node:os'); process.stdout.write(JSON.stringify([cpuSnapshot().machineCores, availableParallelism()]));`;
  const [seen, allowed] = JSON.parse(execFileSync('taskset', ['-c', '0', process.execPath, '--import', 'tsx', '--input-type=module', '-e', probe], { encoding: 'utf8' })) as [number, number];
  assert.equal(allowed, 1);
  assert.equal(seen, cores);
});
