import { readFileSync } from 'node:fs';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly children?: readonly number[];
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

/** Where a sampled function lives, coarse enough to compare implementations. */
const CATEGORIES: readonly [string, RegExp][] = [
  ['cdk8s-plus-27 L1 JSON mapping (toJson_*)', /cdk8s-plus-27\/lib\/imports\//],
  ['cdk8s-plus-27 L2', /cdk8s-plus-27\//],
  ['cdk8s resolve + sanitize', /cdk8s\/lib\/(resolve|_util)\.js/],
  ['cdk8s app walk (deps, validate, graph)', /cdk8s\/lib\/(app|dependency|chart)\.js/],
  ['cdk8s other', /cdk8s\//],
  ['constructs', /constructs\//],
  ['@pulumi', /@pulumi\//],
  ['discovery-kit (lib/)', /\/lib\/[^/]+(\/[^/]+)?\.ts$/],
  ['bench', /\/bench\//],
  ['garbage collector', /^\(garbage collector\)$/],
];

/** Time spent in a category or function. */
export interface ProfileEntry {
  readonly name: string;
  readonly ms: number;
}

export interface ProfileSummary {
  readonly totalMs: number;
  /** Self time by category, largest first. */
  readonly categories: readonly ProfileEntry[];
  /** Functions by self time, largest first. */
  readonly selfTop: readonly ProfileEntry[];
  /** The package's functions by inclusive time (callees included), largest first. */
  readonly packageInclusive: readonly ProfileEntry[];
}

/** Self and inclusive times of a `.cpuprofile`, grouped for the hot-spot report. */
export function summarizeProfile(file: string, top = 12): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parentOf = new Map<number, number>();
  for (const n of profile.nodes) for (const child of n.children ?? []) parentOf.set(child, n.id);
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + profile.timeDeltas[i]));

  const label = (n: ProfileNode) => `${n.callFrame.functionName || '(anonymous)'} ${shortUrl(n.callFrame.url) || n.callFrame.functionName}`;
  const category = (n: ProfileNode) => CATEGORIES.find(([, re]) => re.test(n.callFrame.url || n.callFrame.functionName))?.[0] ?? 'other (node, tsx)';
  const categories = new Map<string, number>();
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const node = byId.get(id)!;
    add(categories, category(node), us);
    add(self, label(node), us);
    // Each package function on the stack gets the sample once, however deep its recursion.
    const onStack = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parentOf.get(at)) {
      const frame = byId.get(at)!;
      if (category(frame) === 'discovery-kit (lib/)') onStack.add(label(frame));
    }
    onStack.forEach((fn) => add(inclusive, fn, us));
  }
  const ranked = (m: Map<string, number>): ProfileEntry[] => [...m].sort((a, b) => b[1] - a[1]).map(([name, us]) => ({ name, ms: us / 1000 }));
  return {
    totalMs: [...selfUs.values()].reduce((a, b) => a + b, 0) / 1000,
    categories: ranked(categories),
    selfTop: ranked(self).slice(0, top),
    packageInclusive: ranked(inclusive).slice(0, top),
  };
}

function add(m: Map<string, number>, key: string, us: number): void {
  m.set(key, (m.get(key) ?? 0) + us);
}

function shortUrl(url: string): string {
  return url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*?\/(lib|bench|test)\//, '$1/');
}
