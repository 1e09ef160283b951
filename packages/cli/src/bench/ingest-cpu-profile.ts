import { readFile } from 'node:fs/promises';
import { repoRoot } from '../local-stack/service-process.ts';

/** The parts of V8's .cpuprofile format used here. */
interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
}
interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

export interface ProfileShare {
  readonly name: string;
  readonly ms: number;
  /** Of the busy (non-idle) time. */
  readonly share: number;
}

export interface ProfileSummary {
  readonly busyMs: number;
  readonly idleMs: number;
  readonly byArea: readonly ProfileShare[];
  readonly byFunction: readonly ProfileShare[];
}

/**
 * Where a frame's code lives, coarse enough to say what dominates: a dependency (fastify, zod,
 * ioredis, bullmq…), one of our packages or services, Node's own library, or V8's buckets
 * ((garbage collector), (program) = native work outside JS, e.g. JSON parsing and syscalls).
 */
function areaOf(frame: ProfileNode['callFrame']): string {
  const { url, functionName } = frame;
  if (url === '') return functionName.startsWith('(') ? functionName : '(native)';
  if (url.startsWith('node:')) return `node:${url.slice(5).split('/')[0] ?? ''}`;
  const dependency = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (dependency) return dependency[1] as string;
  const ours = /\/(packages|services)\/([^/]+)\//.exec(url);
  return ours ? `${ours[1]}/${ours[2]}` : url;
}

function shares(totals: Map<string, number>, busyMs: number, top: number): ProfileShare[] {
  return [...totals]
    .map(([name, ms]) => ({ name, ms, share: busyMs > 0 ? ms / busyMs : 0 }))
    .sort((a, b) => b.ms - a.ms)
    .slice(0, top);
}

/** Self time per area and per function of a V8 CPU profile, busiest first. */
export async function summarizeCpuProfile(file: string, top = 10): Promise<ProfileSummary> {
  const profile = JSON.parse(await readFile(file, 'utf8')) as CpuProfile;
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const byArea = new Map<string, number>();
  const byFunction = new Map<string, number>();
  let busyMs = 0;
  let idleMs = 0;
  profile.samples.forEach((id, i) => {
    const frame = nodes.get(id)?.callFrame;
    // Each delta is the time since the previous sample, in microseconds.
    const ms = (profile.timeDeltas[i] ?? 0) / 1000;
    if (!frame || frame.functionName === '(idle)') {
      idleMs += ms;
      return;
    }
    busyMs += ms;
    const area = areaOf(frame);
    byArea.set(area, (byArea.get(area) ?? 0) + ms);
    const where = frame.url === '' ? '' : ` ${frame.url.replace(`file://${repoRoot}`, '').replace(/^.*node_modules\//, '')}:${frame.lineNumber + 1}`;
    const name = `${frame.functionName || '(anonymous)'}${where}`;
    byFunction.set(name, (byFunction.get(name) ?? 0) + ms);
  });
  return { busyMs, idleMs, byArea: shares(byArea, busyMs, top), byFunction: shares(byFunction, busyMs, top) };
}
