/**
 * `pulumi preview` through the real engine (the CLI and Kubernetes provider that
 * tools/ensure-pulumi.sh builds) of the workload, deployed by the package's component and by
 * direct typed resources (bench/pulumi.ts), each a fresh stack, so every object previews as a
 * create. The provider renders (renderYamlToDirectory, which a preview never writes), so the
 * figures are the engine's, the SDK's and the provider's work, without cluster round trips.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureE2eBinaries } from '../test/e2e/support/global-setup';
import { PulumiBackend, PulumiStack } from '../test/e2e/support/pulumi';
import { sampleTreeRss } from './process-tree';
import type { PulumiProgramName } from './pulumi';

export interface EnginePreview {
  /** Wall time of the operation, as the Automation API saw it (CLI start to exit). */
  readonly seconds: number;
  /** Peak resident memory of the program's process, the CLI and the provider together. */
  readonly peakRssMb: number;
  /** Resources the preview would create. */
  readonly creates: number;
  /** The Kubernetes resources it would create, by name: equal for both programs. */
  readonly objects: string[];
}

/** Runs `reps` previews of each program at `n` services, alternating the order; calls `progress` after each. */
export async function measureEnginePreviews(names: readonly PulumiProgramName[], n: number, reps: number, progress: (line: string) => void): Promise<Map<PulumiProgramName, EnginePreview[]>> {
  ensureE2eBinaries(['ensure-pulumi.sh']);
  const backend = new PulumiBackend();
  try {
    await backend.cli(['login', backend.env.PULUMI_BACKEND_URL!]);
    const projectDir = join(backend.dir, 'bench');
    mkdirSync(projectDir);
    writeFileSync(join(projectDir, 'Pulumi.yaml'), 'name: bench\nruntime: nodejs\n');
    const project = { dir: projectDir, program: join(__dirname, 'pulumi-engine-program.ts') };
    const stacks = new Map<PulumiProgramName, PulumiStack>();
    for (const name of names) {
      stacks.set(name, await backend.initStack(project, {
        program: name, services: String(n), 'kubernetes:renderYamlToDirectory': join(backend.dir, `rendered-${name}`),
      }, {}, name));
    }
    const results = new Map(names.map((name) => [name, [] as EnginePreview[]]));
    for (let rep = 0; rep < reps; rep++) {
      for (const name of names.map((_, i) => names[(i + rep) % names.length])) {
        let stop = () => 0;
        const result = await stacks.get(name)!.run('preview', {}, (pid) => { stop = sampleTreeRss(pid); });
        const peakRssMb = stop() / 2 ** 20;
        const objects = result.steps.filter((s) => s.type.startsWith('kubernetes:')).map((s) => s.name).sort();
        results.get(name)!.push({ seconds: result.seconds, peakRssMb, creates: result.summary.create ?? 0, objects });
        progress(`pulumi preview (real engine) ${name} n=${n} rep ${rep + 1}/${reps}: ${result.seconds.toFixed(1)} s, peak RSS ${peakRssMb.toFixed(0)} MB (program + CLI + provider)`);
      }
    }
    const objectLists = new Set([...results.values()].flatMap((runs) => runs.map((r) => JSON.stringify(r.objects))));
    if (objectLists.size !== 1) throw new Error(`the real-engine previews of ${names.join(' and ')} differ in the Kubernetes resources they create: not comparable`);
    return results;
  } finally {
    backend.remove();
  }
}
