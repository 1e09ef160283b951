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
  if (error instanceof UsageError || (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS_'))) return { code: 'USAGE_ERROR', message };
  const stable = typeof code === 'string' ? code : 'INTERNAL';
  // Node's file system errors open with their code ("EIO: i/o error, stat '…'"): said once.
  return { code: stable, message: message.startsWith(`${stable}: `) ? message.slice(stable.length + 2) : message };
}
