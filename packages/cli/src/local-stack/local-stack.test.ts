import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { readLocalStackConfig } from '@gradcam/config';
import { freePort } from '@gradcam/dev-services';
import { StackStartAbortedError, startLocalStack } from './local-stack.ts';
import { startService } from './service-process.ts';

/** Field 5 of /proc/<pid>/stat: the process group. */
function processGroup(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
}

/** Live processes started by this test process, directly or not, that belong to a stack. */
function stackDescendants(): string[] {
  const parents = new Map<number, number>();
  const commands = new Map<number, string>();
  for (const entry of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (fields[0] === 'Z') continue;
      parents.set(Number(entry), Number(fields[1]));
      commands.set(Number(entry), readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' '));
    } catch {
      // Gone between readdir and read.
    }
  }
  const descends = (pid: number) => {
    for (let at = parents.get(pid), hops = 0; at !== undefined && hops < 64; at = parents.get(at), hops++) if (at === process.pid) return true;
    return false;
  };
  return [...commands].filter(([pid, command]) => descends(pid) && /leash|redis-server|services\//.test(command)).map(([pid, command]) => `${pid} ${command}`);
}

test('a service runs in its own process group, and stop() still reaches its SIGTERM handler', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'gradcam-service-'));
  try {
    const entry = join(dir, 'service.mjs');
    await writeFile(entry, `process.on('SIGTERM', () => { console.log('draining'); setTimeout(() => process.exit(0), 100); });\nconsole.log('up');\nsetInterval(() => {}, 1000);\n`);
    const lines: string[] = [];
    let up!: () => void;
    const started = new Promise<void>((resolve) => (up = resolve));
    const service = startService({ name: 'fixture', entry, env: process.env, onLine: (line) => (lines.push(line), line.endsWith(' up') && up()) });
    await started;
    const pid = service.child.pid as number;
    assert.equal(processGroup(pid), pid, 'the service leads its own group');
    assert.notEqual(processGroup(pid), processGroup(process.pid), 'a Ctrl-C to the terminal group does not reach it');
    assert.equal(await service.stop(), 'code 0');
    assert.ok(lines.includes('[fixture] draining'), lines.join('\n'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a stop requested while the stack starts stops what started (Redis, the loading worker) and rejects', async () => {
  const stateDir = await mkdtemp(join(tmpdir(), 'gradcam-stack-'));
  try {
    const [ingest, exporter, review, workerMetrics] = [await freePort(), await freePort(), await freePort(), await freePort()];
    const config = readLocalStackConfig({
      GRADCAM_STATE_DIR: stateDir,
      GRADCAM_INGEST_PORT: String(ingest),
      GRADCAM_EXPORTER_PORT: String(exporter),
      GRADCAM_REVIEW_PORT: String(review),
      GRADCAM_WORKER_METRICS_PORT: String(workerMetrics),
      GRADCAM_WORKER_PROCESSES: '1',
    });
    const stop = new AbortController();
    let sawWorker = false;
    // As a Ctrl-C would: once the worker has started loading its model (or after 2 s).
    const timer = setTimeout(() => stop.abort(), 2000);
    const starting = startLocalStack({
      config,
      signal: stop.signal,
      onLine: (line) => {
        if (line.startsWith('[worker]') && !sawWorker) {
          sawWorker = true;
          stop.abort();
        }
      },
    });
    await assert.rejects(starting, StackStartAbortedError);
    clearTimeout(timer);
    assert.deepEqual(stackDescendants(), [], 'nothing of the stack is left running');
  } finally {
    await rm(stateDir, { recursive: true, force: true });
  }
});
