import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Yaml } from 'cdk8s';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chartComponents } from '../support/pulumi-charts';
import { MockRun } from '../support/pulumi-mocks';
import { exampleStackConfig, GOSSIP_KEY, runApps, runPlatform } from '../support/pulumi-stacks';
import { synthChart } from '../support/synth';
import { identityOf } from './support/cluster-objects';
import { PulumiBackend, repositoryStack } from './support/pulumi';

// The stacks with the provider's renderYamlToDirectory option, through the real engine and the
// real Kubernetes provider: no cluster at all, so nothing awaits and nothing is annotated.

/** Every object of every YAML file under `dir`. */
function renderedObjects(dir: string): any[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.yaml'))
    .flatMap((entry) => Yaml.load(join(entry.parentPath, entry.name)));
}

/** The cdk8s synthesis of every chart the program deployed. */
function synthesized(run: MockRun<unknown>): any[] {
  return [...chartComponents(run).values()].flatMap((component) => synthChart(component.chart));
}

describe('renderYamlToDirectory through the real engine and Kubernetes provider', { timeout: 900_000 }, () => {
  let backend: PulumiBackend;
  beforeAll(async () => {
    backend = new PulumiBackend();
    await backend.cli(['login', backend.env.PULUMI_BACKEND_URL!]);
  });
  afterAll(() => backend?.remove());

  it('writes the manifests of both stacks, equal to the cdk8s synthesis of the same programs, and your own Secrets in plain text', async () => {
    // As the example Pulumi.dev.yaml says: the render directory and the API server's endpoints
    // instead of the context; the platform with its own gossip key, the apps with nothing secret.
    const platformDir = join(backend.dir, 'rendered-platform');
    const endpoints = { 'apiServerEndpoints[0]': '172.18.0.2:6443' };
    const platform = await backend.initStack(repositoryStack('platform'), { renderYamlToDirectory: platformDir, ...endpoints }, { gossipKey: GOSSIP_KEY });
    await platform.removeConfig('context');
    const platformUp = await platform.run('up');
    expect(platformUp.output).toContain('Secret data is written there in plain text');
    const platformRun = await runPlatform({ ...exampleStackConfig('platform'), apiServerEndpoints: JSON.stringify(['172.18.0.2:6443']), gossipKey: GOSSIP_KEY }, { liveObjects: {} });

    const appsDir = join(backend.dir, 'rendered-apps');
    const apps = await backend.initStack(repositoryStack('apps'), { renderYamlToDirectory: appsDir });
    await apps.removeConfig('context');
    await apps.run('up');
    const appsRun = await runApps(platformRun.outputs, exampleStackConfig('apps'));

    for (const [dir, run, secrets] of [
      [platformDir, platformRun, { 'consul/consul-gossip-key': { key: GOSSIP_KEY } }],
      [appsDir, appsRun, {}],
    ] as const) {
      const rendered = renderedObjects(dir);
      const chartObjects = synthesized(run);
      expect(chartObjects.length).toBeGreaterThan(10);
      expect(rendered.filter((obj) => obj.kind !== 'Secret').sort(byIdentity)).toEqual(chartObjects.map(withoutDroppedZeroValues).sort(byIdentity));
      const renderedSecrets = rendered.filter((obj) => obj.kind === 'Secret');
      expect(Object.fromEntries(renderedSecrets.map((obj) => [`${obj.metadata.namespace}/${obj.metadata.name}`, plainData(obj)]))).toEqual(secrets);
    }
  });
});

/**
 * The object as the provider writes it: it converts each object through the Kubernetes API's
 * Go types, which drop the zero values of non-pointer fields. These are the ones the
 * synthesis writes (same meaning: not-ready addresses unpublished, no ingress allowed).
 */
function withoutDroppedZeroValues(obj: any): any {
  if (!obj.spec) return obj;
  const spec = { ...obj.spec };
  if (obj.kind === 'Service' && spec.publishNotReadyAddresses === false) delete spec.publishNotReadyAddresses;
  if (obj.kind === 'NetworkPolicy') {
    for (const field of ['ingress', 'egress']) if (Array.isArray(spec[field]) && spec[field].length === 0) delete spec[field];
  }
  return { ...obj, spec };
}

/** A Secret's data, decoded: the provider writes `stringData` as base64 `data`. */
function plainData(secret: { data?: Record<string, string>; stringData?: Record<string, string> }): Record<string, string> {
  const decoded = Object.entries(secret.data ?? {}).map(([key, value]) => [key, Buffer.from(value, 'base64').toString()]);
  return { ...Object.fromEntries(decoded), ...secret.stringData };
}

function byIdentity(a: any, b: any): number {
  return identityOf(a).localeCompare(identityOf(b));
}
