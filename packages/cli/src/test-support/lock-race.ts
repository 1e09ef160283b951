import { spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Runs `script` (an ES module body) in a child process in which, just before the first removal or
 * rename of `lockFile`, another taker removes the stale lock there and puts its own, `replacement`,
 * in its place: the moment between a taker's "still the stale lock" read and its removal, made
 * certain. Real files, a real unlink and create; the script prints its result on stdout.
 */
export async function runWithLockReplacedBeforeRemoval(dir: string, lockFile: string, replacement: string, script: string): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const hook = join(dir, 'replace-before-removal.mjs');
  await writeFile(
    hook,
    `import { unlinkSync, writeFileSync } from 'node:fs';
import fsp from 'node:fs/promises';
import { syncBuiltinESMExports } from 'node:module';
const lock = ${JSON.stringify(lockFile)};
let replaced = false;
for (const name of ['rm', 'unlink', 'rename']) {
  const original = fsp[name];
  fsp[name] = (path, ...rest) => {
    if (!replaced && String(path) === lock) {
      replaced = true;
      unlinkSync(lock);
      writeFileSync(lock, ${JSON.stringify(replacement)}, { flag: 'wx' });
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
