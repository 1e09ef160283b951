import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import { test } from 'node:test';
import { pipelineMetrics } from '../../packages/telemetry/src/metric-catalog.ts';

// The top-level README's Configuration and Metrics tables are what operators deploy from; they
// were edited by many commits, so each is checked here against the code it describes.
const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8');
const configSrc = new URL('../../packages/config/src/', import.meta.url);
const configSources = await Promise.all(
  (await readdir(configSrc)).filter((name) => name.endsWith('.ts') && !name.endsWith('.test.ts')).map((name) => readFile(new URL(name, configSrc), 'utf8')),
);
const configCode = configSources.join('\n');

/** The rows of the first table under `## heading`, as cells (a `\|` inside a cell is not a separator). */
function tableRows(heading: string): string[][] {
  const start = readme.indexOf(`\n## ${heading}\n`);
  assert.ok(start >= 0, `README has no "## ${heading}" section`);
  const end = readme.indexOf('\n## ', start + 1);
  const lines = readme.slice(start, end < 0 ? undefined : end).split('\n');
  const first = lines.findIndex((line) => line.startsWith('|'));
  const table = lines.slice(first, lines.findIndex((line, index) => index > first && !line.startsWith('|')));
  return table.slice(2).map((line) => line.replace(/^\||\|$/g, '').split(/(?<!\\)\|/).map((cell) => cell.trim()));
}

const variablePattern = /\b(?:GRADCAM_[A-Z0-9_]+|S3_[A-Z0-9_]+|REDIS_URL|LOG_LEVEL)\b/g;
const backticked = (cell: string) => [...cell.matchAll(/`([^`]*)`/g)].map((match) => match[1] as string);

/** Splits a cell at commas outside parentheses: one part per variable of a row. */
function topLevelParts(cell: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let current = '';
  for (const char of cell) {
    if (char === '(') depth += 1;
    if (char === ')') depth -= 1;
    if (char === ',' && depth === 0) {
      parts.push(current.trim());
      current = '';
    } else current += char;
  }
  return [...parts, current.trim()];
}

/** The literal fallbacks packages/config gives a variable (`env.integer('X', 8, …)`, `port(env, 'X', 8080)`), as written; non-literal ones left out. */
function literalFallbacks(variable: string): Set<string> {
  const found = new Set<string>();
  for (const match of configCode.matchAll(new RegExp(`\\(\\s*(?:env,\\s*)?'${variable}',\\s*([^,)]+)`, 'g'))) {
    const raw = (match[1] as string).trim();
    if (/^-?[\d_]+$/.test(raw)) found.add(raw.replaceAll('_', ''));
    else if (/^'[^']*'$/.test(raw)) found.add(raw.slice(1, -1));
    else if (raw === 'true' || raw === 'false') found.add(raw);
  }
  return found;
}

const configRows = tableRows('Configuration').map(([variables = '', defaults = '']) => ({ variables: backticked(variables), defaults }));

test('the Configuration table names every variable packages/config reads, and no other', () => {
  const documented = new Set(configRows.flatMap((row) => row.variables));
  const read = new Set([...configCode.matchAll(/'((?:GRADCAM|S3)_[A-Z0-9_]+|REDIS_URL|LOG_LEVEL)'/g)].map((match) => match[1] as string));
  assert.ok(read.size > 30, `found only ${read.size} variables in packages/config/src`);
  assert.deepEqual([...read].filter((name) => !documented.has(name)).sort(), [], 'read by packages/config but not in the table');
  assert.deepEqual([...documented].filter((name) => !read.has(name)).sort(), [], 'in the table but not read by packages/config');
  for (const row of configRows) assert.ok(row.variables.every((name) => new RegExp(`^${variablePattern.source}$`).test(name)), `not a variable: ${row.variables.join(', ')}`);
});

test("the Configuration table's defaults are the code's, where the code's is a literal", () => {
  let compared = 0;
  const wrong: string[] = [];
  for (const { variables, defaults } of configRows) {
    const parts = topLevelParts(defaults);
    if (parts.length !== variables.length) continue;
    variables.forEach((variable, index) => {
      // A default stated as one literal, perhaps followed by a note in parentheses: `8`, `budget=60` (`npm start`: …).
      const stated = /^`([^`]*)`(?:\s*\(.*\))?$/.exec(parts[index] as string)?.[1];
      const inCode = literalFallbacks(variable);
      if (stated === undefined || inCode.size === 0) return;
      compared += 1;
      if (!inCode.has(stated)) wrong.push(`${variable}: README says ${stated}, packages/config ${[...inCode].join(' or ')}`);
    });
  }
  assert.deepEqual(wrong, []);
  assert.ok(compared >= 20, `compared only ${compared} defaults: has the table's layout changed?`);
});

test('the Metrics table lists every exporter metric with its labels, and no other', () => {
  const byName = new Map(Object.values(pipelineMetrics).map((definition) => [definition.name, definition]));
  const listed = new Set<string>();
  for (const [names = '', labels = ''] of tableRows('Metrics')) {
    const rowNames = backticked(names);
    const rowLabels = new Set(backticked(labels));
    const inCode = new Set<string>();
    for (const name of rowNames) {
      listed.add(name);
      const definition = byName.get(name);
      assert.ok(definition !== undefined, `${name} is in the README's Metrics table but not in pipelineMetrics`);
      for (const label of definition.labelNames) {
        inCode.add(label);
        assert.ok(rowLabels.has(label), `${name} has the label ${label}, which its row does not list`);
      }
    }
    for (const label of rowLabels) assert.ok(inCode.has(label), `the row of ${rowNames.join(', ')} lists the label ${label}, which none of them has`);
  }
  assert.deepEqual([...byName.keys()].filter((name) => !listed.has(name)), [], 'exported by the exporter but not in the Metrics table');
});
