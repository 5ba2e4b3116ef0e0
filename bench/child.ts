/**
 * One measurement in a fresh process (started by run.ts), so peak memory belongs to it
 * alone. Modules are loaded before the clock starts; only construction and synthesis (or
 * Pulumi registration) are timed. Prints one JSON line: a {@link MeasurementResult}.
 *
 * Usage: node --import tsx --expose-gc bench/child.ts '<Measurement as JSON>'
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { performance } from 'node:perf_hooks';
import { App } from 'cdk8s';
import { buildWithDiscoveryKit } from './discovery-kit';
import { ImplementationName, synthesize } from './implementations';
import { manifestDigest } from './manifests';
import type { PulumiProgramName } from './pulumi';
import { workload } from './workload';

export type Measurement = {
  readonly kind: 'synth';
  readonly impl: ImplementationName;
  readonly n: number;
  /** Write a CPU profile of the timed region here. */
  readonly profile?: string;
} | {
  readonly kind: 'pulumi';
  readonly impl: PulumiProgramName;
  readonly n: number;
  readonly profile?: string;
};

export interface MeasurementResult {
  /** Wall time of the timed region. */
  readonly ms: number;
  /** CPU time (user + system, all threads) of the timed region: less sensitive to other load on the machine. */
  readonly cpuMs: number;
  /** Peak resident set size of the process (`process.resourceUsage().maxRSS`). */
  readonly peakRssMb: number;
  /** Resident set size just before the timed region (modules loaded, heap collected). */
  readonly startRssMb: number;
  /** Kubernetes objects synthesized, or resources registered. */
  readonly count: number;
  /** Digest of the output: equal for identical manifests / registrations. */
  readonly digest: string;
}

async function measure(m: Measurement): Promise<MeasurementResult> {
  const w = workload(m.n);
  if (m.kind === 'synth') {
    return timed(m.profile, () => synthesize(m.impl, w), (outputs) => ({
      count: outputs.reduce((sum, c) => sum + c.objects.length, 0),
      digest: manifestDigest(outputs),
    }));
  }
  const { deployUnderMocks, registrationsDigest } = await import('./pulumi');
  // Both programs deploy the same constructed charts; synthesis happens inside the timed region for both.
  const charts = buildWithDiscoveryKit(new App(), w);
  return timed(m.profile, () => deployUnderMocks(m.impl, charts), (registered) => ({
    count: registered.length,
    digest: registrationsDigest(registered),
  }));
}

/** Times `work` after a full GC; memory is read before the output is summarized. */
async function timed<T>(profile: string | undefined, work: () => T | Promise<T>, summarize: (result: T) => Pick<MeasurementResult, 'count' | 'digest'>): Promise<MeasurementResult> {
  const profiler = profile ? await startProfiler() : undefined;
  global.gc?.();
  const startRssMb = process.memoryUsage().rss / 2 ** 20;
  const [start, startCpu] = [performance.now(), process.cpuUsage()];
  const result = await work();
  const ms = performance.now() - start;
  const cpu = process.cpuUsage(startCpu);
  const peakRssMb = process.resourceUsage().maxRSS / 1024;
  if (profiler && profile) writeFileSync(profile, JSON.stringify((await profiler.post('Profiler.stop')).profile));
  return { ms, cpuMs: (cpu.user + cpu.system) / 1000, peakRssMb, startRssMb, ...summarize(result) };
}

async function startProfiler(): Promise<Session> {
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 200 });
  await session.post('Profiler.start');
  return session;
}

measure(JSON.parse(process.argv[2]) as Measurement).then(
  (result) => process.stdout.write(`${JSON.stringify(result)}\n`),
  (error) => {
    process.stderr.write(`${error?.stack ?? error}\n`);
    process.exit(1);
  },
);
