/**
 * `npm run bench`: synthesis cost of discovery-kit against a raw-ApiObject baseline and a
 * hand-assembled cdk8s-plus peer, and Pulumi registration cost of the package's component
 * against direct typed resources, under mocks and as a `pulumi preview` through the real engine
 * (bench/pulumi-engine.ts), all in one run (what is measured and how: README, "Benchmark").
 *
 * Options: `--profile[=dir]` also writes CPU profiles of the timed region (discovery-kit and
 * raw at 1,000 services, discovery-kit at 10,000, both Pulumi programs; by default to
 * $TMPDIR/discovery-kit-bench-profiles) and prints where the time goes.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Measurement, MeasurementResult } from './child';
import { IMPLEMENTATION_NAMES, ImplementationName, synthesize } from './implementations';
import { firstManifestDifference } from './manifests';
import { summarizeProfile } from './profile';
import type { PulumiProgramName } from './pulumi';
import { EnginePreview, measureEnginePreviews } from './pulumi-engine';
import { NAMESPACES, workload } from './workload';

/**
 * Service counts and repetitions (each a fresh process per implementation): about 5 minutes
 * in all on 2 cores (6 with --profile). 10,000 services get 3 repetitions, as each takes
 * 3-20 s per implementation.
 */
const SYNTH_PLAN = [{ n: 100, reps: 5 }, { n: 1000, reps: 5 }, { n: 10_000, reps: 3 }] as const;
const PULUMI_PLAN = { n: 1000, reps: 5 } as const;
/**
 * Real-engine previews at 100 services (600 objects): 20-30 s each on a loaded 2-core
 * machine, about 3 minutes more. The CLI and provider are built first if missing (see
 * tools/ensure-pulumi.sh).
 */
const ENGINE_PLAN = { n: 100, reps: 3 } as const;
const PULUMI_PROGRAM_NAMES: PulumiProgramName[] = ['component', 'direct'];

const ROOT = path.resolve(__dirname, '..');

interface Series {
  readonly label: string;
  readonly n: number;
  readonly results: MeasurementResult[];
}

function runChild(m: Measurement): MeasurementResult {
  const child = spawnSync(process.execPath, ['--import', 'tsx', '--expose-gc', path.join(__dirname, 'child.ts'), JSON.stringify(m)], {
    cwd: ROOT, encoding: 'utf8', maxBuffer: 16 * 2 ** 20,
  });
  if (child.status !== 0) throw new Error(`measurement ${JSON.stringify(m)} failed (exit ${child.status}):\n${child.stderr}`);
  return JSON.parse(child.stdout.trim().split('\n').pop()!) as MeasurementResult;
}

/**
 * Runs every implementation `reps` times, rotating the order each repetition so no
 * implementation always runs first (or right after the heaviest one).
 */
function measureAlternating<T extends string>(names: readonly T[], n: number, reps: number, measurement: (name: T) => Measurement): Map<T, Series> {
  const series = new Map(names.map((name) => [name, { label: name, n, results: [] as MeasurementResult[] }]));
  for (let rep = 0; rep < reps; rep++) {
    const order = names.map((_, i) => names[(i + rep) % names.length]);
    for (const name of order) {
      const result = runChild(measurement(name));
      series.get(name)!.results.push(result);
      progress(`${name} n=${n} rep ${rep + 1}/${reps}: ${result.ms.toFixed(0)} ms, peak RSS ${result.peakRssMb.toFixed(0)} MB`);
    }
  }
  checkSameOutput(n, [...series.values()]);
  return series;
}

/** Every run of every implementation must have produced the same output, or the comparison is void. */
function checkSameOutput(n: number, series: readonly Series[]): void {
  const digests = new Set(series.flatMap((s) => s.results.map((r) => r.digest)));
  if (digests.size !== 1) {
    const detail = series.map((s) => `  ${s.label}: ${s.results.map((r) => `${r.digest} (${r.count} objects)`).join(', ')}`).join('\n');
    throw new Error(`OUTPUTS DIFFER at ${n} services: the implementations are not comparable.\n${detail}\n`
      + 'Run `npx vitest run test/bench-equivalence.test.ts` to see the first difference.');
  }
}

/** Fails before any timing if the implementations disagree, naming the first difference. */
function checkEquivalence(n: number): void {
  const w = workload(n);
  const reference = synthesize('discovery-kit', w);
  for (const name of IMPLEMENTATION_NAMES.filter((i) => i !== 'discovery-kit')) {
    const difference = firstManifestDifference(reference, synthesize(name, w));
    if (difference) throw new Error(`OUTPUTS DIFFER: ${name} does not synthesize discovery-kit's manifests at ${n} services.\nFirst difference (discovery-kit != ${name}): ${difference}`);
  }
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

const medianOf = (s: Series, field: 'ms' | 'cpuMs' | 'peakRssMb') => median(s.results.map((r) => r[field]));
const medianMs = (s: Series) => medianOf(s, 'ms');

const COLUMNS: [string, number][] = [
  ['implementation', -16], ['N', 6], ['objects', 8], ['wall ms', 8], ['min-max', 12], ['ratio', 6],
  ['CPU ms', 7], ['ratio', 6], ['peak RSS MB', 12], ['Δ RSS MB', 9], ['runs', 5],
];

function formatRow(cells: readonly string[]): string {
  return cells.map((cell, i) => (COLUMNS[i][1] < 0 ? cell.padEnd(-COLUMNS[i][1]) : cell.padStart(COLUMNS[i][1]))).join(' ');
}

/** One implementation's medians; ratios are against `baseline`'s medians. */
function row(s: Series, baseline: Series): string {
  const ms = s.results.map((r) => r.ms);
  const ratio = (field: 'ms' | 'cpuMs') => (medianOf(s, field) / medianOf(baseline, field)).toFixed(2);
  return formatRow([
    s.label, String(s.n), String(s.results[0].count),
    medianMs(s).toFixed(0), `${Math.min(...ms).toFixed(0)}-${Math.max(...ms).toFixed(0)}`, ratio('ms'),
    medianOf(s, 'cpuMs').toFixed(0), ratio('cpuMs'),
    medianOf(s, 'peakRssMb').toFixed(0), median(s.results.map((r) => r.peakRssMb - r.startRssMb)).toFixed(0),
    String(s.results.length),
  ]);
}

const HEADER = formatRow(COLUMNS.map(([title]) => title));

function machine(): string {
  const cpus = os.cpus();
  return `${cpus[0]?.model ?? 'unknown CPU'}, ${cpus.length} cores, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB, Node ${process.version}, ${os.platform()} ${os.release()}; load average at start ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`;
}

function progress(line: string): void {
  process.stderr.write(`${line}\n`);
}

function printProfile(title: string, file: string): void {
  const summary = summarizeProfile(file);
  const pct = (ms: number) => `${((ms / summary.totalMs) * 100).toFixed(1).padStart(5)}%`;
  console.log(`\n${title} (${summary.totalMs.toFixed(0)} ms sampled, ${file})`);
  console.log('  self time by area:');
  summary.categories.forEach((c) => console.log(`    ${pct(c.ms)}  ${c.name}`));
  console.log('  hottest functions (self):');
  summary.selfTop.forEach((f) => console.log(`    ${pct(f.ms)}  ${f.name}`));
  if (summary.packageInclusive.length) {
    console.log('  package functions (inclusive):');
    summary.packageInclusive.forEach((f) => console.log(`    ${pct(f.ms)}  ${f.name}`));
  }
}

function profileRuns(dir: string): void {
  mkdirSync(dir, { recursive: true });
  const runs: [string, Measurement][] = [
    ['discovery-kit synthesis, 1,000 services', { kind: 'synth', impl: 'discovery-kit', n: 1000 }],
    ['raw ApiObject synthesis, 1,000 services', { kind: 'synth', impl: 'raw-apiobject', n: 1000 }],
    ['discovery-kit synthesis, 10,000 services', { kind: 'synth', impl: 'discovery-kit', n: 10_000 }],
    ...PULUMI_PROGRAM_NAMES.map((impl): [string, Measurement] => [`Pulumi ${impl}, ${PULUMI_PLAN.n} services`, { kind: 'pulumi', impl, n: PULUMI_PLAN.n }]),
  ];
  for (const [title, m] of runs) {
    const file = path.join(dir, `${m.kind}-${m.impl}-${m.n}.cpuprofile`);
    runChild({ ...m, profile: file });
    printProfile(title, file);
  }
}

/** The real-engine previews' medians; ratios against direct's medians. */
function printEnginePreviews(previews: Map<PulumiProgramName, EnginePreview[]>): void {
  const direct = previews.get('direct')!;
  const medianField = (runs: readonly EnginePreview[], field: 'seconds' | 'peakRssMb') => median(runs.map((r) => r[field]));
  console.log(`\nPulumi preview with the real engine (CLI, engine and Kubernetes provider rendering, a fresh stack each, so every resource is a create): `
    + `${ENGINE_PLAN.n} discovery-kit services, program start to CLI exit; peak RSS is the program, CLI and provider processes together; ratios against direct's medians`);
  console.log(['program', 'N', 'creates', 'wall s', 'min-max', 'ratio', 'peak RSS MB', 'ratio', 'runs'].join('  '));
  for (const [name, runs] of previews) {
    const seconds = runs.map((r) => r.seconds);
    console.log([
      name.padEnd(9), String(ENGINE_PLAN.n), String(runs[0].creates),
      medianField(runs, 'seconds').toFixed(1), `${Math.min(...seconds).toFixed(1)}-${Math.max(...seconds).toFixed(1)}`,
      (medianField(runs, 'seconds') / medianField(direct, 'seconds')).toFixed(2),
      medianField(runs, 'peakRssMb').toFixed(0), (medianField(runs, 'peakRssMb') / medianField(direct, 'peakRssMb')).toFixed(2),
      String(runs.length),
    ].join('  '));
  }
}

async function main(): Promise<void> {
  const started = Date.now();
  const profileArg = process.argv.slice(2).find((a) => a.startsWith('--profile'));
  console.log(`machine: ${machine()}`);
  checkEquivalence(SYNTH_PLAN[0].n);

  const synth = SYNTH_PLAN.map(({ n, reps }) =>
    measureAlternating<ImplementationName>(IMPLEMENTATION_NAMES, n, reps, (impl) => ({ kind: 'synth', impl, n })));
  const pulumi = measureAlternating(PULUMI_PROGRAM_NAMES, PULUMI_PLAN.n, PULUMI_PLAN.reps, (impl) => ({ kind: 'pulumi', impl, n: PULUMI_PLAN.n }));
  const engine = await measureEnginePreviews(PULUMI_PROGRAM_NAMES, ENGINE_PLAN.n, ENGINE_PLAN.reps, progress);

  console.log(`\nSynthesis: construct + chart.toJson() of all ${NAMESPACES} charts, fresh process per run; medians, ratios against raw-apiobject's medians`);
  console.log(HEADER);
  for (const series of synth) {
    for (const s of series.values()) console.log(row(s, series.get('raw-apiobject')!));
  }
  console.log(`\nPulumi under mocks: ${PULUMI_PLAN.n} discovery-kit services (charts built beforehand), synthesis + registration until every resource is registered; ratios against direct's medians`);
  console.log(HEADER);
  for (const s of pulumi.values()) console.log(row(s, pulumi.get('direct')!));
  printEnginePreviews(engine);

  if (profileArg) profileRuns(profileArg.includes('=') ? profileArg.split('=')[1] : path.join(os.tmpdir(), 'discovery-kit-bench-profiles'));

  const at = (n: number, impl: ImplementationName) => medianMs(synth.find((s) => s.get(impl)!.n === n)!.get(impl)!);
  console.log(`\ncdk8s-plus-ratio-vs-raw: ${(at(1000, 'cdk8s-plus') / at(1000, 'raw-apiobject')).toFixed(2)} at 1000 services (hand-assembled cdk8s-plus-27 L2 peer)`);
  console.log(`total benchmark time: ${((Date.now() - started) / 1000).toFixed(0)} s`);
  console.log(`synth-ratio-vs-raw: ${(at(1000, 'discovery-kit') / at(1000, 'raw-apiobject')).toFixed(2)} at 1000 services`);
  console.log(`synth-scaling: ${(at(10_000, 'discovery-kit') / at(1000, 'discovery-kit')).toFixed(2)} for 10x services`);
  console.log(`pulumi-ratio-vs-direct: ${(medianMs(pulumi.get('component')!) / medianMs(pulumi.get('direct')!)).toFixed(2)}`);
  const engineMedian = (name: PulumiProgramName) => median(engine.get(name)!.map((r) => r.seconds));
  console.log(`pulumi-engine-preview-ratio-vs-direct: ${(engineMedian('component') / engineMedian('direct')).toFixed(2)} at ${ENGINE_PLAN.n} services`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
