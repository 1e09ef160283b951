/**
 * `npm run bench:sampling [-- options]`: replays synthetic prediction events with a 10× traffic
 * step through the budget review policy; prints review rates against K per phase and decisions
 * per second, each with its target. A benchmark, not a test: exits 0 unless it could not measure.
 */
import { benchArgsOrExit } from './bench-args.ts';
import { environmentLine, environmentRow, jsonLine } from './bench-report.ts';
import { parseSamplingBenchArgs, samplingBenchUsage } from './sampling-bench-args.ts';
import { hourlyLine, phaseFootnote, phaseRows, phaseTable, throughputLines, throughputRow } from './sampling-bench-report.ts';
import { adaptationWindowMs, replay, type ReplayResult } from './sampling-replay.ts';
import { schedulePhases } from './sampling-traffic.ts';

function main(): number {
  const args = benchArgsOrExit(parseSamplingBenchArgs, samplingBenchUsage);
  if (typeof args === 'number') return args;
  const out = (line: string): void => void process.stdout.write(`${line}\n`);
  const env = environmentRow();
  out(args.json ? jsonLine(env) : environmentLine(env));

  const phases = schedulePhases(args.events, Date.UTC(2026, 0, 1));
  if (args.warmupEvents > 0) {
    process.stderr.write(`warm-up: ${args.warmupEvents} events, untimed…\n`);
    replay(schedulePhases(args.warmupEvents, Date.UTC(2025, 0, 1)), args.seed + 1, args.reviewsPerHour);
  }
  const results: ReplayResult[] = [];
  for (let run = 1; run <= args.runs; run++) {
    process.stderr.write(`replay ${run}/${args.runs}: ${args.events} events…\n`);
    results.push(replay(phases, args.seed, args.reviewsPerHour));
  }
  const first = results[0] as ReplayResult;
  const rows = phaseRows(first, args.reviewsPerHour, adaptationWindowMs / 3_600_000);
  const throughput = throughputRow(results);
  if (args.json) {
    for (const row of rows) out(jsonLine(row));
    out(jsonLine(throughput));
  } else {
    out(`budget=${args.reviewsPerHour}/h, adaptation window ${adaptationWindowMs / 60_000} min, seed ${args.seed}`);
    out('');
    out(phaseTable(rows, adaptationWindowMs / 60_000));
    out(phaseFootnote);
    out(hourlyLine(first));
    out('');
    out(throughputLines(throughput));
  }
  return throughput.deterministic ? 0 : 1;
}

process.exitCode = main();
