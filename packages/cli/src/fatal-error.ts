import { UsageError } from './cli-error.ts';

/** What `--json` prints of an error that stopped a command: a stable code, and the message without it. */
export interface FatalError {
  readonly code: string;
  readonly message: string;
}

/**
 * The stable code of an error that stopped a command: `USAGE_ERROR` for a mistake in the call
 * (node:util parseArgs's included), the error's own `code` where it has one (ConfigError's
 * CONFIG_INVALID, EngineError's MODEL_NOT_FOUND, CommandError's, an errno such as EIO), else INTERNAL.
 */
export function fatalErrorOf(error: unknown): FatalError {
  const code = (error as { code?: unknown } | null)?.code;
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof UsageError || (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS_'))) return { code: 'USAGE_ERROR', message: usageMessage(code, message) };
  const stable = typeof code === 'string' ? code : 'INTERNAL';
  // Node's file system errors open with their code ("EIO: i/o error, stat '…'"): said once.
  return { code: stable, message: message.startsWith(`${stable}: `) ? message.slice(stable.length + 2) : message };
}

/**
 * A usage error's message. parseArgs follows an unknown option, in a command that takes files or
 * names, with advice on passing a positional that starts with "-", garbled (its quotes do not
 * pair: `as in '-- "--bogus"`) and beside the point for a mistyped option: only its first sentence
 * is kept, as parseArgs says it where a command takes no positionals. An option followed by
 * something that starts with "-" (`--top-k -1`, `--since -2h`) parseArgs called "ambiguous", on
 * three lines, advising `--top-k=-XYZ`, which the option then refuses in turn: no option takes a
 * negative number, so it is said as a missing value, on one line (with the `=` form, for a value
 * that does start with "-": an id may).
 */
function usageMessage(code: unknown, message: string): string {
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') return message.replace(/\. To specify a positional argument[\s\S]*$/, '');
  const ambiguous = /^Option '(-[^']*)' argument is ambiguous\./.exec(message);
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && ambiguous) {
    return `${ambiguous[1]} has no value: what follows it starts with "-" (another option, or a negative number, which no option of gradcam takes); a value that starts with "-", such as an id, is written ${ambiguous[1]}=-…`;
  }
  return message;
}

/** `--json` among the options (before any `--`), known even when the rest of them cannot be parsed. */
export function jsonRequested(argv: readonly string[]): boolean {
  const end = argv.indexOf('--');
  return (end === -1 ? argv : argv.slice(0, end)).includes('--json');
}

/**
 * Runs a command that has `--json`: when an error stops it, stdout still gets one JSON line,
 * `errorLine` of the error (`{ error: { code, message } }` unless the command says more), for a
 * script that parses stdout; the error then goes on to main for its stderr line and exit status.
 */
export async function withJsonErrorLine(argv: readonly string[], run: () => Promise<number>, errorLine: (error: FatalError) => object = (error) => ({ error })): Promise<number> {
  try {
    return await run();
  } catch (error) {
    if (jsonRequested(argv)) console.log(JSON.stringify(errorLine(fatalErrorOf(error))));
    throw error;
  }
}
