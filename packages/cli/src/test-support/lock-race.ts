import { spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Runs `script` (an ES module body) in a child process in which, just before the first removal or
 * rename of `lockFile`, another taker removes the stale lock there and puts its own, `replacement`,
 * in its place: the moment between a taker's "still the stale lock" read and its removal, made
 * certain. Real files, a real unlink and create; the script prints its result on stdout.
 */
export function runWithLockReplacedBeforeRemoval(dir: string, lockFile: string, replacement: string, script: string): Promise<ChildRun> {
  return runWithHook(
    dir,
    lockFile,
    `unlinkSync(lock);
      writeFileSync(lock, ${JSON.stringify(replacement)}, { flag: 'wx' });
      return original(path, ...rest);`,
    script,
  );
}

/**
 * Runs `script` as above, but the first removal of `lockFile` (its holder's release) is followed at
 * once by another start taking the lock: `files` (the lock among them, if the taker's) are created
 * beside it before the removal's promise settles, so before the holder's next step.
 */
export function runWithLockTakenAfterRelease(dir: string, lockFile: string, files: Readonly<Record<string, string>>, script: string): Promise<ChildRun> {
  return runWithHook(
    dir,
    lockFile,
    `return original(path, ...rest).then((result) => {
        for (const [name, text] of Object.entries(${JSON.stringify(files)})) writeFileSync(join(dirname(lock), name), text);
        return result;
      });`,
    script,
  );
}

export interface ChildRun {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** `script` in a child whose fs/promises rm, unlink and rename run `onFirst` for the first call on `lockFile`. */
async function runWithHook(dir: string, lockFile: string, onFirst: string, script: string): Promise<ChildRun> {
  const hook = join(dir, 'lock-race-hook.mjs');
  await writeFile(
    hook,
    `import { unlinkSync, writeFileSync } from 'node:fs';
import fsp from 'node:fs/promises';
import { syncBuiltinESMExports } from 'node:module';
import { dirname, join } from 'node:path';
const lock = ${JSON.stringify(lockFile)};
let hooked = false;
for (const name of ['rm', 'unlink', 'rename']) {
  const original = fsp[name];
  fsp[name] = (path, ...rest) => {
    if (!hooked && String(path) === lock) {
      hooked = true;
      ${onFirst}
    }
    return original(path, ...rest);
  };
}
syncBuiltinESMExports();
`,
  );
  const child = spawnSync(process.execPath, ['--import', 'tsx', '--import', hook, '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
  return { status: child.status, stdout: child.stdout, stderr: child.stderr };
}
