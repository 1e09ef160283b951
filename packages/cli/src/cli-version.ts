import { readFileSync } from 'node:fs';

/** The CLI's version, as its package.json gives it (read when asked: `gradcam --version` only). */
export function cliVersion(): string {
  const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: unknown };
  return typeof manifest.version === 'string' ? manifest.version : 'unknown';
}
