import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { UsageError } from '../cli-error.ts';

/** The file where `gradcam up` leaves its URLs, tokens and Redis for `gradcam demo` and `gradcam jobs`. */
export const stackFileName = 'local-stack.json';

/** What `gradcam up` leaves in the state folder (the optional parts are absent in files of older versions). */
export interface StackFile {
  readonly ingestUrl: string;
  readonly exporterUrl?: string;
  readonly token: string;
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

/** The running stack's file; a usage error saying to start the stack when there is none. */
export async function readStackFile(stateDir: string): Promise<StackFile> {
  const path = join(stateDir, stackFileName);
  return readFile(path, 'utf8').then(
    (text) => JSON.parse(text) as StackFile,
    () => {
      throw new UsageError(`no local stack found (${path} is missing): start it first with \`npm start\` in another terminal`);
    },
  );
}
