import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { UsageError } from '../cli-error.ts';
import { CommandError } from '../command-error.ts';

/** The file where `gradcam up` leaves its URLs, tokens and Redis for `gradcam demo` and `gradcam jobs`. */
export const stackFileName = 'local-stack.json';

/** What `gradcam up` leaves in the state folder (the optional parts are absent in files of older versions). */
export interface StackFile {
  readonly ingestUrl: string;
  readonly exporterUrl?: string;
  readonly token: string;
  /** The erase token (DELETE /v1/inferences/{id}); absent in files of older versions. */
  readonly eraseToken?: string;
  readonly storageDir?: string | undefined;
  /** With S3. */
  readonly s3?: { readonly bucket: string; readonly url: string; readonly location: string } | undefined;
  readonly reviewUrl?: string;
  readonly reviewToken?: string;
  readonly models?: readonly string[];
  /** The Redis the stack runs on (its private redis-server, or REDIS_URL), and its BullMQ key prefix. */
  readonly redisUrl?: string;
  readonly queuePrefix?: string;
}

/** Written mode 0600: it holds the stack's tokens (and REDIS_URL's password, if it has one). */
export async function writeStackFile(stateDir: string, stack: StackFile): Promise<void> {
  await writeFile(join(stateDir, stackFileName), `${JSON.stringify(stack, null, 2)}\n`, { mode: 0o600 });
}

/** What is wrong with a parsed local-stack.json, or undefined: the fields every reader relies on. */
function stackFileProblem(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'not a JSON object';
  const { ingestUrl, token } = value as Record<string, unknown>;
  if (typeof ingestUrl !== 'string' || !URL.canParse(ingestUrl)) return 'no ingestUrl';
  if (typeof token !== 'string' || token === '') return 'no token';
  return undefined;
}

/**
 * The running stack's file; a usage error saying to start the stack when there is none, and one
 * line (CommandError) when it cannot be read or is not what gradcam up writes (cut short, edited).
 */
export async function readStackFile(stateDir: string): Promise<StackFile> {
  const path = join(stateDir, stackFileName);
  const text = await readFile(path, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT' || error.code === 'ENOTDIR') {
      throw new UsageError(`no local stack found (${path} is missing): start it first with \`npm start\` in another terminal, or set GRADCAM_STATE_DIR to the state folder of the one that runs`);
    }
    throw new CommandError(`cannot read ${path}: ${error.message.replace(/, \w+ '.*'$/s, '')}`);
  });
  let parsed: unknown;
  let problem: string | undefined;
  try {
    parsed = JSON.parse(text);
    problem = stackFileProblem(parsed);
  } catch (error) {
    problem = `not JSON: ${(error as Error).message}`;
  }
  if (problem !== undefined) throw new CommandError(`${path} is not the file gradcam up writes (${problem}): stop \`npm start\` and start it again`);
  return parsed as StackFile;
}
