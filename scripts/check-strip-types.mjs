#!/usr/bin/env node
// Checks that Node's own type stripping (Node 22.13+, on by default from 23.6) can run every
// TypeScript source of the packages and services, as the app image runs them (node <file>.ts, no
// tsx): each file is stripped as Node would strip it, which refuses syntax that needs a transform
// (enums, parameter properties, namespaces). Prints how many files it checked; exits 1 naming each
// file that cannot be stripped.
//   node scripts/check-strip-types.mjs        (under Node 22.13 or later)
import { readFileSync, readdirSync } from 'node:fs';
import { stripTypeScriptTypes } from 'node:module';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const sources = [];
const walk = (dir) => {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) walk(path);
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) sources.push(path);
  }
};
for (const top of ['packages', 'services']) {
  for (const name of readdirSync(join(root, top))) {
    try {
      walk(join(root, top, name, 'src'));
    } catch (error) {
      if (error.code !== 'ENOENT') throw error;
    }
  }
}
const refused = [];
for (const path of sources) {
  try {
    stripTypeScriptTypes(readFileSync(path, 'utf8'), { mode: 'strip' });
  } catch (error) {
    refused.push(`${path.slice(root.length)}: ${error.message.split('\n')[0]}`);
  }
}
for (const line of refused) console.error(line);
console.log(`${sources.length - refused.length} of ${sources.length} TypeScript files strip as Node runs them`);
process.exit(refused.length > 0 ? 1 : 0);
