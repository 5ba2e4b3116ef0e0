import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Yaml } from 'cdk8s';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chartComponents } from '../support/pulumi-charts';
import { MockRun } from '../support/pulumi-mocks';
import { ACL_TOKENS, exampleStackConfig, GOSSIP_KEY, runApps, runPlatform } from '../support/pulumi-stacks';
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

describe('renderYamlToDirectory through the real engine and Kubernetes provider', () => {
  let backend: PulumiBackend;
  beforeAll(async () => {
    backend = new PulumiBackend();
    await backend.cli(['login', backend.env.PULUMI_BACKEND_URL!]);
  });
  afterAll(() => backend?.remove());

  it('writes the manifests of both stacks, equal to the cdk8s synthesis of the same programs, and the Secrets in plain text', async () => {
    const platformDir = join(backend.dir, 'rendered-platform');
    const platform = await backend.initStack(repositoryStack('platform'), { renderYamlToDirectory: platformDir }, { gossipKey: GOSSIP_KEY });
    const platformUp = await platform.run('up');
    expect(platformUp.output).toContain('Secret data is written there in plain text');
    const platformRun = await runPlatform({ ...exampleStackConfig('platform'), gossipKey: GOSSIP_KEY });

    const appsDir = join(backend.dir, 'rendered-apps');
    const apps = await backend.initStack(repositoryStack('apps'), { renderYamlToDirectory: appsDir }, {
      'consulAclTokens.payment-service': ACL_TOKENS['payment-service'], 'consulAclTokens.order-service': ACL_TOKENS['order-service'],
    });
    await apps.run('up');
    const appsRun = await runApps(platformRun.outputs, { ...exampleStackConfig('apps'), consulAclTokens: JSON.stringify(ACL_TOKENS) });

    for (const [dir, run, secrets] of [
      [platformDir, platformRun, { 'consul/consul-gossip-key': { key: GOSSIP_KEY } }],
      [appsDir, appsRun, Object.fromEntries(Object.entries(ACL_TOKENS).map(([service, token]) => [`production/${service}-consul-token`, { token }]))],
    ] as const) {
      const rendered = renderedObjects(dir);
      const chartObjects = synthesized(run);
      expect(chartObjects.length).toBeGreaterThan(10);
      expect(rendered.filter((obj) => obj.kind !== 'Secret').sort(byIdentity)).toEqual(chartObjects.sort(byIdentity));
      const renderedSecrets = rendered.filter((obj) => obj.kind === 'Secret');
      expect(Object.fromEntries(renderedSecrets.map((obj) => [`${obj.metadata.namespace}/${obj.metadata.name}`, obj.stringData]))).toEqual(secrets);
    }
  });
});

function byIdentity(a: any, b: any): number {
  return identityOf(a).localeCompare(identityOf(b));
}
