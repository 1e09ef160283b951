import { realpath } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import { ConfigError } from '@gradcam/config';
import { EngineError } from '@gradcam/engine';
import { ImagingError } from '@gradcam/imaging';
import { UsageError } from './cli-error.ts';
import { cliVersion } from './cli-version.ts';
import { CommandError } from './command-error.ts';
import { demoCommand } from './commands/demo-command.ts';
import { explainCommand } from './commands/explain-command.ts';
import { jobsCommand } from './commands/jobs-command.ts';
import { modelsCommand } from './commands/models-command.ts';
import { sweepCommand } from './commands/sweep-command.ts';
import { upCommand } from './commands/up-command.ts';
import { fatalErrorOf } from './fatal-error.ts';

const usage = `Usage: gradcam <command> [options]

Commands:
  explain <files or folders…>   Grad-CAM maps, overlays and manifests for images
  models                        list the built-in models and their target layers
  up                            run the pipeline locally (ingest, workers, exporter, review; npm start)
  demo [files or folders…]      post images to the local pipeline and show where they landed
  jobs failed | retry           list the explain jobs that failed, and put them back in the queue
  jobs pause | resume           stop every worker taking jobs (a maintenance window), and start again
  sweep-partials <store folder> remove temporary files that killed writers left in a local store

Options:
  -h, --help      print this usage
  -v, --version   print gradcam's version

Run gradcam <command> --help for the options of one command.`;

const commands: Record<string, (argv: readonly string[]) => Promise<number>> = {
  explain: explainCommand,
  models: modelsCommand,
  up: upCommand,
  demo: demoCommand,
  jobs: jobsCommand,
  'sweep-partials': sweepCommand,
};

let stdoutWatched = false;

/** Piped into head (or anything that stops reading): the reader has what it wanted, so exit 0 rather than print an EPIPE stack. */
function quietOnClosedStdout(): void {
  if (stdoutWatched) return;
  stdoutWatched = true;
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(0);
    throw error;
  });
}

/** Runs one CLI invocation; returns the exit status. Every error becomes one readable line, `gradcam <command>: <code>: <message>` when nothing more is known. */
export async function main(argv: readonly string[]): Promise<number> {
  quietOnClosedStdout();
  const [name, ...rest] = argv;
  if (name === undefined) {
    // A usage error: scripts that capture stdout get nothing, and the usage shows on the terminal.
    console.error(usage);
    return 2;
  }
  if (name === '--help' || name === '-h' || name === 'help') {
    console.log(usage);
    return 0;
  }
  if (name === '--version' || name === '-v') {
    console.log(`gradcam ${cliVersion()}`);
    return 0;
  }
  const command = commands[name];
  if (!command) {
    console.error(`gradcam: unknown command "${name}"\n\n${usage}`);
    return 2;
  }
  try {
    return await command(rest);
  } catch (error) {
    // node:util parseArgs: an unknown option, a missing value, an unexpected positional, … all ERR_PARSE_ARGS_*.
    const code = (error as { code?: unknown }).code;
    if (error instanceof UsageError || (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS_'))) {
      console.error(`gradcam ${name}: ${fatalErrorOf(error).message} (see gradcam ${name} --help)`);
      return 2;
    }
    if (error instanceof ConfigError) {
      console.error(`gradcam ${name}: configuration error: ${error.message}`);
      return 2;
    }
    if (error instanceof CommandError) {
      console.error(`gradcam ${name}: ${error.message}`);
      return 1;
    }
    if (error instanceof EngineError || error instanceof ImagingError) {
      console.error(`gradcam ${name}: ${error.code}: ${error.message}`);
      return 1;
    }
    // Anything else (an I/O error nobody expected, a bug) is still one line, not a stack trace.
    const fatal = fatalErrorOf(error);
    console.error(`gradcam ${name}: ${fatal.code}: ${fatal.message}`);
    return 1;
  }
}

// Started directly (`node --import tsx packages/cli/src/main.ts …`) rather than imported by
// bin/gradcam.js or a test: run the command, or it would exit 0 having done nothing.
const entry = process.argv[1];
if (entry !== undefined && import.meta.url === pathToFileURL(await realpath(entry).catch(() => entry)).href) {
  process.exitCode = await main(process.argv.slice(2));
}
