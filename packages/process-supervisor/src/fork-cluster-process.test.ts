import assert from 'node:assert/strict';
import cluster from 'node:cluster';
import { test } from 'node:test';
import { forkClusterProcess } from './fork-cluster-process.ts';
import { ProcessSupervisor } from './process-supervisor.ts';
import { until } from './test-support/until.ts';
import { linesLog } from './test-support/lines-log.ts';

// This test process is the cluster's primary; its workers run this small script.
const workerSource = `process.on('SIGTERM', () => process.exit(0)); setInterval(() => {}, 1000); process.send('up');`;

test('a cluster worker whose spawn fails does not end the supervising process: the supervisor restarts it', { timeout: 30_000 }, async () => {
  const logs: string[] = [];
  let spawns = 0;
  let up = 0;
  const supervisor = new ProcessSupervisor({
    processes: 1,
    label: 'cluster process',
    log: linesLog((m) => logs.push(m)),
    restartDelayMs: 20,
    spawn: () => {
      // The first in a folder that does not exist: ENOENT, emitted as 'error', as a pid limit's EAGAIN would be.
      cluster.setupPrimary({ exec: '-e', args: [workerSource], execArgv: [], cwd: ++spawns === 1 ? '/nonexistent' : process.cwd() });
      const child = forkClusterProcess();
      child.on('message', (message) => (up += message === 'up' ? 1 : 0));
      return child;
    },
  });
  try {
    supervisor.start();
    await until('the replacement to run', () => up === 1);
    assert.equal(spawns, 2);
    assert.match(logs[0] ?? '', /^cluster process 0 did not start \(spawn .* ENOENT\); restarting in 40 ms$/);
  } finally {
    assert.deepEqual(await supervisor.stop(), { clean: true });
  }
});
