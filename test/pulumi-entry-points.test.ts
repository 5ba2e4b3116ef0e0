import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { MockRun } from './support/pulumi-mocks';
import { APPS_CONFIG, PLATFORM_CONFIG, PLATFORM_LIVE_OBJECTS, PLATFORM_STACK, runApps, runPlatform } from './support/pulumi-stacks';

const ROOT = join(__dirname, '..');

interface EntryRun {
  readonly outputs: unknown;
  readonly registered: string[];
}

/**
 * Runs `stacks/<stack>/index.ts` in a fresh Node.js process the way `pulumi up` would load
 * it (TypeScript through Pulumi's ts-node setup and the stack's tsconfig.json), under mocks.
 */
async function runEntryPoint(stack: string, project: string, options: { config: Record<string, string>; secretKeys?: string[]; stackOutputs?: object; liveObjects?: object }): Promise<EntryRun> {
  const prefixed = (key: string) => `${project}:${key}`;
  const { stdout } = await promisify(execFile)(process.execPath, [join(__dirname, 'support', 'pulumi-entry-runner.cjs'), join(ROOT, 'stacks', stack), project], {
    env: {
      ...process.env,
      CONFIG: JSON.stringify(Object.fromEntries(Object.entries(options.config).map(([key, value]) => [prefixed(key), value]))),
      SECRET_KEYS: JSON.stringify((options.secretKeys ?? []).map(prefixed)),
      STACK_OUTPUTS: JSON.stringify(options.stackOutputs ?? {}),
      LIVE_OBJECTS: JSON.stringify(options.liveObjects ?? {}),
    },
  });
  return JSON.parse(stdout);
}

function registeredNames(run: MockRun<unknown>): string[] {
  return run.registered.map((r) => `${r.type} ${r.name}`).sort();
}

describe('the stack entry points, loaded the way the Pulumi CLI loads them', () => {
  it('stacks/platform/index.ts compiles with its tsconfig.json and runs the platform program', async () => {
    const [entry, inProcess] = await Promise.all([
      runEntryPoint('platform', 'discovery-platform', { config: PLATFORM_CONFIG, liveObjects: PLATFORM_LIVE_OBJECTS }),
      runPlatform(),
    ]);
    expect(entry.outputs).toEqual(inProcess.outputs);
    expect(entry.registered.sort()).toEqual(registeredNames(inProcess));
  });

  it('stacks/apps/index.ts compiles with its tsconfig.json and runs the apps program', async () => {
    const platform = (await runPlatform()).outputs;
    const [entry, inProcess] = await Promise.all([
      runEntryPoint('apps', 'discovery-apps', { config: APPS_CONFIG, stackOutputs: { [PLATFORM_STACK]: platform } }),
      runApps(platform, APPS_CONFIG),
    ]);
    expect(entry.outputs).toEqual(inProcess.outputs);
    expect(entry.registered.sort()).toEqual(registeredNames(inProcess));
  });

  it('keeps the Pulumi runtime out of the cdk8s entry point: only discovery-kit/pulumi loads it', async () => {
    const pulumiModulesLoadedBy = async (entry: string) => {
      const script = `require(${JSON.stringify(entry)}); process.stdout.write(String(Object.keys(require.cache).filter((m) => m.includes('@pulumi')).length))`;
      const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '-e', script], { cwd: ROOT });
      return Number(stdout);
    };
    expect(await pulumiModulesLoadedBy('./lib')).toBe(0);
    expect(await pulumiModulesLoadedBy('./lib/pulumi')).toBeGreaterThan(0);
  });
});
