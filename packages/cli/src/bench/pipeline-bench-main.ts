/**
 * `npm run bench:pipeline [-- options]`: explanations/s and latency end to end through the local
 * stack, engine-only throughput with the same settings (and the ratio), and the ingest batch
 * endpoint's capacity. A benchmark, not a test: it prints figures with the targets next
 * to them, and exits 0 whether or not they are met, but 1 when it could not measure (a part without
 * a single measured record) or the end-to-end run did not explain every record it submitted
 * (rejected, failed, unaccounted or not `done` through the API): such a run's figures are not
 * comparable with a clean one's.
 */
import { benchArgsOrExit } from './bench-args.ts';
import { environmentLine, environmentRow, jsonLine } from './bench-report.ts';
import { type IngestCapacityRow, runIngestCapacity } from './ingest-capacity.ts';
import { type PipelineBenchArgs, parsePipelineBenchArgs, pipelineBenchUsage } from './pipeline-bench-args.ts';
import { CleanupStack, cleanUpOnSignals } from './pipeline-cleanup.ts';
import { BenchConsole } from './pipeline-console.ts';
import { type E2eRow, runE2e } from './pipeline-e2e.ts';
import { type EngineOnlyRow, pipelineRatio, runEngineOnly } from './pipeline-engine.ts';
import { e2eLines, engineLines, engineMoment, ingestHeader, ingestLine, pipelineFootnote, ratioLine } from './pipeline-report.ts';

async function run(args: PipelineBenchArgs, io: BenchConsole, cleanup: CleanupStack): Promise<number> {
  const emit = (row: { kind: string }, text: () => string) => io.out(args.json ? jsonLine(row) : `${text()}\n`);
  const env = environmentRow();
  emit(env, () => environmentLine(env));
  const hooks = { onServiceLine: (line: string) => io.serviceLine(line), progress: (t: string) => io.progress(t), counter: (t: string) => io.counter(t) };
  let unmeasured = 0;
  /** Why the run's figures cannot stand, one line each, printed last. */
  const unusable: string[] = [];

  // Engine only on both sides of the end-to-end part: this class of machine changes speed by 10–20 %
  // within minutes, and a ratio of two figures measured minutes apart carries that drift.
  const engineRuns: EngineOnlyRow[] = [];
  const runEngine = async (when: EngineOnlyRow['when']) => {
    io.progress(`engine only (${engineMoment(when)}): ${args.engine.processes} processes, warm-up then ${args.engine.seconds} s…`);
    const engine = await runEngineOnly(args.engine, when);
    engineRuns.push(engine);
    emit(engine, () => engineLines(engine));
    if (engine.leak) io.note('tensor leak: an engine-only child ended with more tensors than it started with');
  };
  const both = args.parts.has('e2e') && args.parts.has('engine');
  if (both) await runEngine('before-e2e');

  let e2e: E2eRow | undefined;
  if (args.parts.has('e2e')) {
    e2e = await runE2e(args.e2e, cleanup, hooks);
    if (e2e.completed === 0) unmeasured++;
    if (e2e.problems.length > 0) unusable.push(`the end-to-end run did not explain every record it submitted (${e2e.problems.join('; ')}): its figures and the ratio are not comparable with a clean run's`);
    emit(e2e, () => e2eLines(e2e as E2eRow));
  }
  if (args.parts.has('engine')) await runEngine(e2e ? 'after-e2e' : 'standalone');

  if (e2e && both && e2e.completed > 0) {
    const ratio = pipelineRatio({
      endToEnd: e2e.rates.explanationsPerSecond,
      steady: e2e.rates.steady?.explanationsPerSecond,
      engine: engineRuns,
      pipelineOtherCpuShare: e2e.otherCpuShare,
      pipelineCpuMsByProcess: e2e.cpuMsPerExplanation,
      pipelineCpuWindow: e2e.cpuWindow,
      pipelineProblems: e2e.problems,
    });
    emit(ratio, () => ratioLine(ratio));
  }

  if (args.parts.has('ingest')) {
    const plan = args.ingest;
    if (!args.json) io.out(ingestHeader(plan));
    const onRow = (row: IngestCapacityRow) => {
      if (row.accepted === 0) unmeasured++;
      io.out(args.json ? jsonLine(row) : ingestLine(row));
    };
    await runIngestCapacity(plan, cleanup, hooks, onRow);
    if (!args.json) io.out('');
  }
  if (!args.json) io.out(pipelineFootnote);
  if (unmeasured > 0) unusable.push('a part finished without a single measured record (see above)');
  for (const reason of unusable) io.note(`bench:pipeline: ${reason}`);
  return unusable.length > 0 ? 1 : 0;
}

async function main(): Promise<number> {
  const args = benchArgsOrExit(parsePipelineBenchArgs, pipelineBenchUsage);
  if (typeof args === 'number') return args;
  const io = new BenchConsole({ verbose: args.verbose, tty: process.stderr.isTTY });
  const cleanup = new CleanupStack();
  cleanUpOnSignals(cleanup, (line) => io.note(line));
  const started = performance.now();
  try {
    return await run(args, io, cleanup);
  } catch (error) {
    io.printServiceTail();
    throw error;
  } finally {
    await cleanup.runAll((line) => io.note(line));
    io.note(`bench:pipeline took ${((performance.now() - started) / 1000).toFixed(0)} s`);
  }
}

try {
  process.exitCode = await main();
} catch (error) {
  process.stderr.write(`bench:pipeline failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
}
