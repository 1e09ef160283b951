import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import { test } from 'node:test';
import { ConfigError, type Env, readExporterConfig, readIngestConfig, readReviewConfig, readWorkerConfig } from '../../packages/config/src/index.ts';

// An operator configures a service from its own README. Each variable its reader reads must be
// named there, with a parenthesis after it (`VAR` (default, range; …)) stating the default the code
// has, where the code's is a literal, and, for an integer, the range the reader accepts.
const services = [
  { name: 'ingest', read: readIngestConfig },
  { name: 'worker', read: readWorkerConfig },
  { name: 'metrics-exporter', read: readExporterConfig },
  { name: 'review', read: readReviewConfig },
] as const;

/** What every reader needs to get past its required variables; the local store on loopback. */
const base: Record<string, string> = {
  REDIS_URL: 'redis://127.0.0.1:6379',
  GRADCAM_HOST: '127.0.0.1',
  GRADCAM_API_TOKENS: 'api-token-0123456789abcdef',
  GRADCAM_REVIEW_TOKENS: 'alice:review-token-0123456789ab',
};

/** The variables `read` looks at, with the local store and with S3 (each reads its own). */
function variablesRead(read: (env: Env) => unknown): Set<string> {
  const names = new Set<string>();
  for (const env of [base, { ...base, S3_BUCKET: 'bucket' }]) {
    read(
      new Proxy(env, {
        get(target, name) {
          if (typeof name === 'string') names.add(name);
          return target[name as string];
        },
      }),
    );
  }
  return names;
}

/** `min–max`, or `at least min`, for an integer variable (what the reader says of one out of range); undefined for others. */
function integerRange(read: (env: Env) => unknown, name: string): string | undefined {
  try {
    read({ ...base, [name]: '-99999999999999999999' });
  } catch (error) {
    if (!(error instanceof ConfigError) || error.variable !== name) return undefined;
    const range = /expected an integer from (\d+) to (\d+)/.exec(error.message);
    if (range === null) return undefined;
    return Number(range[2]) === Number.MAX_SAFE_INTEGER ? `at least ${range[1]}` : `${range[1]}–${range[2]}`;
  }
  return undefined;
}

const configSrc = new URL('../../packages/config/src/', import.meta.url);
const configCode = (
  await Promise.all(
    // local-stack-config.ts is `gradcam up`'s, whose defaults differ (GRADCAM_REVIEW_POLICY: rate=1).
    (await readdir(configSrc)).filter((file) => file.endsWith('.ts') && !file.endsWith('.test.ts') && file !== 'local-stack-config.ts').map((file) => readFile(new URL(file, configSrc), 'utf8')),
  )
).join('\n');

/** The literal fallback packages/config gives a variable (`env.integer('X', 8, …)`, `port(env, 'X', 8080)`), if any. */
function literalFallback(variable: string): string | undefined {
  for (const match of configCode.matchAll(new RegExp(`(?:\\.(?:string|integer|boolean|oneOf|url|host)|\\bport)\\(\\s*(?:env,\\s*)?'${variable}',\\s*([^,)]+)`, 'g'))) {
    const raw = (match[1] as string).trim();
    if (/^-?[\d_]+$/.test(raw)) return raw.replaceAll('_', '');
    if (/^'[^']+'$/.test(raw)) return raw.slice(1, -1);
    if (raw === 'true' || raw === 'false') return raw;
  }
  return undefined;
}

/** The text of each parenthesis that follows `` `name` `` in the README (to its matching close). */
function parentheticals(readme: string, name: string): string[] {
  const found: string[] = [];
  for (const match of readme.matchAll(new RegExp(`\`${name}\`\\s+\\(`, 'g'))) {
    let depth = 1;
    let end = (match.index as number) + match[0].length;
    const start = end;
    for (; end < readme.length && depth > 0; end += 1) {
      if (readme[end] === '(') depth += 1;
      if (readme[end] === ')') depth -= 1;
    }
    found.push(readme.slice(start, end - 1).replace(/\s+/g, ' '));
  }
  return found;
}

for (const { name, read } of services) {
  test(`services/${name}/README.md states every variable its reader reads, with the default and range`, async () => {
    const readme = await readFile(new URL(`../../services/${name}/README.md`, import.meta.url), 'utf8');
    const read_ = [...variablesRead(read)].filter((variable) => /^(?:GRADCAM_|S3_|REDIS_URL$|LOG_LEVEL$)/.test(variable)).sort();
    assert.ok(read_.length >= 15, `found only ${read_.length} variables read by ${name}`);
    const problems: string[] = [];
    for (const variable of read_) {
      const notes = parentheticals(readme, variable);
      if (notes.length === 0) {
        problems.push(`${variable}: not stated as \`${variable}\` (default or required, …)`);
        continue;
      }
      const fallback = literalFallback(variable);
      if (fallback !== undefined && !notes.some((note) => note.replaceAll('`', '').replace(/^default /, '').startsWith(fallback))) problems.push(`${variable}: the default is ${fallback}, the README says (${notes.join(') (')})`);
      const range = integerRange(read, variable);
      if (range !== undefined && !notes.some((note) => note.replaceAll('`', '').includes(range))) problems.push(`${variable}: takes ${range}, the README says (${notes.join(') (')})`);
    }
    assert.deepEqual(problems, []);
  });
}

// The top-level README sends operators to packages/config's README for "every range".
test('packages/config/README.md states the range of every integer variable a service reads', async () => {
  const readme = await readFile(new URL('../../packages/config/README.md', import.meta.url), 'utf8');
  const missing: string[] = [];
  for (const { read } of services) {
    for (const variable of variablesRead(read)) {
      const range = integerRange(read, variable);
      if (range === undefined) continue;
      const notes = parentheticals(readme, variable);
      if (!notes.some((note) => note.replaceAll('`', '').includes(range))) missing.push(`${variable}: takes ${range}, the README says (${notes.join(') (')})`);
    }
  }
  assert.deepEqual([...new Set(missing)].sort(), []);
});
