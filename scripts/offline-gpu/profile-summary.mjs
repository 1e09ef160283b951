// Self time of V8 .cpuprofile files, merged: by area (package, or workspace package) and by
// function, idle excluded.   [PROF_LAST_S=N] node scripts/offline-gpu/profile-summary.mjs <files…>
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error('usage: node scripts/offline-gpu/profile-summary.mjs <.cpuprofile files…>');
  process.exit(1);
}

function areaOf(url, name) {
  if (!url) return name.startsWith('(') ? name : '(native/builtin)';
  const dependency = url.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/);
  if (dependency) return dependency[1];
  const workspace = url.match(/(packages|services)\/([^/]+)/);
  if (workspace) return `${workspace[1]}/${workspace[2]}`;
  return url.startsWith('node:') ? `node:${url.slice(5).split('/')[0]}` : basename(url);
}

const byFunction = new Map();
const byArea = new Map();
const add = (map, key, us) => map.set(key, (map.get(key) ?? 0) + us);
let total = 0;
for (const file of files) {
  const profile = JSON.parse(readFileSync(file, 'utf8'));
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfTime = new Map();
  // PROF_LAST_S: only the samples of the profile's last seconds (leaves start-up out).
  const from = process.env.PROF_LAST_S === undefined ? -Infinity : profile.endTime - Number(process.env.PROF_LAST_S) * 1e6;
  let at = profile.startTime;
  profile.samples.forEach((id, i) => {
    at += profile.timeDeltas[i] ?? 0;
    if (at >= from) add(selfTime, id, profile.timeDeltas[i] ?? 0);
  });
  for (const [id, us] of selfTime) {
    const { functionName, url, lineNumber } = nodes.get(id).callFrame;
    if (functionName === '(idle)') continue;
    total += us;
    add(byFunction, `${functionName || '(anonymous)'} ${basename(url || '')}:${lineNumber + 1}`, us);
    add(byArea, areaOf(url, functionName), us);
  }
}
const top = (map, count) =>
  [...map]
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([name, us]) => `${(us / 1000).toFixed(0).padStart(8)} ms ${((100 * us) / total).toFixed(1).padStart(5)}%  ${name}`)
    .join('\n');
console.log(`${files.length} profiles, ${(total / 1000).toFixed(0)} ms busy (idle excluded)\n-- by area --\n${top(byArea, 25)}\n-- by function --\n${top(byFunction, 45)}`);
