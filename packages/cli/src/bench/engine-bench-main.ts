/**
 * `npm run bench:engine [-- options]`: forward-only vs forward + Grad-CAM cost per model × backend ×
 * batch, then multi-process throughput. A benchmark, not a test: it prints figures and the issue's
 * targets next to them, and exits 0 unless it could not measure (or found a tensor leak).
 */
import { benchArgsOrExit, benchUsage, parseBenchArgs } from './bench-args.ts';
import {
  environmentLine,
  environmentRow,
  jsonLine,
  tableFootnote,
  tableHeader,
  tableLine,
  throughputLines,
} from './bench-report.ts';
import { benchThroughput } from './multi-process-throughput.ts';
import { runEngineBench } from './run-engine-bench.ts';

async function main(): Promise<number> {
  const args = benchArgsOrExit(parseBenchArgs, benchUsage);
  if (typeof args === 'number') return args;
  const out = (line: string): void => void process.stdout.write(`${line}\n`);
  const env = environmentRow();
  if (args.json) {
    out(jsonLine(env));
  } else {
    out(environmentLine(env));
    out('');
    out(tableHeader());
  }
  const rows = await runEngineBench(args.engine, (row) => out(args.json ? jsonLine(row) : tableLine(row)));
  if (!args.json) out(tableFootnote);

  let leak = rows.some((r) => r.leak);
  if (args.throughput) {
    process.stderr.write(`throughput: 1 then ${args.throughput.processes} processes × ${args.throughput.seconds} s…\n`);
    const row = await benchThroughput(args.throughput);
    leak ||= row.leak;
    if (args.json) {
      out(jsonLine(row));
    } else {
      out('');
      out(throughputLines(row));
    }
  }
  if (leak) process.stderr.write('tensor leak: the tensor count changed across timed iterations (see the tensors column)\n');
  return leak ? 1 : 0;
}

try {
  process.exitCode = await main();
} catch (error) {
  process.stderr.write(`bench:engine failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
}
