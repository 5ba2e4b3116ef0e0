import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chartObjectResourceName, kubernetesTypeToken } from '../../lib/pulumi';
import { ACL_TOKENS, exampleStackConfig, GOSSIP_KEY, runApps, runPlatform } from '../support/pulumi-stacks';
import { ApiServer, startApiServer } from './support/apiserver';
import { identityOf, liveObjects, registeredObjects } from './support/cluster-objects';
import { PulumiBackend, PulumiStack, repositoryStack, RunResult } from './support/pulumi';

// The real Pulumi CLI and Kubernetes provider deploy both stacks to a real kube-apiserver.
// That API server has no kubelet and no controller manager, so the stacks run with test-only
// annotations (pulumi-run.ts, `clusterWithoutNodes`): workloads and Services skip the
// readiness await (no pod ever runs), Namespaces the deletion await (no namespace controller
// finalizes them), and objects are deleted with background propagation (no garbage collector
// removes a foreground finalizer). The product sets none of them.

const platformConfig = exampleStackConfig('platform');
const appsConfig: Record<string, string> = { ...exampleStackConfig('apps'), consulAclTokens: JSON.stringify(ACL_TOKENS) };

/** What the platform program registers, run under mocks with the stack's config. */
async function platformUnderMocks() {
  return runPlatform({ ...platformConfig, gossipKey: GOSSIP_KEY });
}

/** The Kubernetes objects the apps program registers with `config`, under mocks. */
async function appsObjects(config: Record<string, string> = appsConfig) {
  return registeredObjects((await runApps((await platformUnderMocks()).outputs, config)).registered);
}

/** Resource names of the steps of an operation on Kubernetes objects, by operation. */
function objectSteps(result: RunResult): Record<string, string[]> {
  const byOp: Record<string, string[]> = {};
  for (const step of result.steps.filter((s) => s.type.startsWith('kubernetes:'))) (byOp[step.op] ??= []).push(step.name);
  for (const names of Object.values(byOp)) names.sort();
  return byOp;
}

/** The resource names the objects get (Cdk8sChartResource's and kubernetesSecret's naming). */
function resourceNames(objects: readonly any[]): string[] {
  return objects.map((obj) => chartObjectResourceName(obj)).sort();
}

/** The JSON paths (as the provider's detailed diff spells them) at which two objects differ. */
function changedPaths(before: unknown, after: unknown, path = ''): string[] {
  if (JSON.stringify(before) === JSON.stringify(after)) return [];
  const isContainer = (value: unknown) => typeof value === 'object' && value !== null;
  if (!isContainer(before) || !isContainer(after) || Array.isArray(before) !== Array.isArray(after)) return [path];
  const keys = new Set([...Object.keys(before as object), ...Object.keys(after as object)]);
  return [...keys].flatMap((key) => changedPaths((before as any)[key], (after as any)[key],
    Array.isArray(before) ? `${path}[${key}]` : path ? `${path}.${key}` : key));
}

// Each operation starts the CLI, the provider and a Node.js program: up to minutes on a loaded machine.
describe('pulumi up, preview and destroy of the stacks with the real engine against a real API server', { timeout: 900_000 }, () => {
  let api: ApiServer;
  let backend: PulumiBackend;
  let platform: PulumiStack;
  let apps: PulumiStack;
  const target = () => ({ kubeconfig: api.kubeconfig, context: 'e2e' });

  beforeAll(async () => {
    api = await startApiServer();
    backend = new PulumiBackend();
    await backend.cli(['login', backend.env.PULUMI_BACKEND_URL!]);
  });
  afterAll(async () => {
    await api?.stop();
    backend?.remove();
  });

  it('refuses a bad gossip key before any resource is created', async () => {
    platform = await backend.initStack(repositoryStack('platform'), target(), { gossipKey: 'not-a-consul-key' });
    const failure = await platform.run('up', { clusterWithoutNodes: true }).then(() => undefined, (error: Error) => error.message);
    expect(failure).toContain('discovery-platform:gossipKey');
    expect(failure).toContain('<redacted>');
    expect(failure).not.toContain('not-a-consul-key');
    expect((await platform.stateResources()).filter((r) => r.type !== 'pulumi:pulumi:Stack')).toEqual([]);
    expect(await liveObjects(api, [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: '' } }])).toEqual([]);
  });

  it('deploys the platform: every object the program registers is in the API server, and a preview right after expects no changes', async () => {
    await platform.setConfig('gossipKey', GOSSIP_KEY, true);
    const up = await platform.run('up', { clusterWithoutNodes: true });
    const expected = registeredObjects((await platformUnderMocks()).registered);
    expect(expected.length).toBeGreaterThan(20);
    expect((await liveObjects(api, expected)).map(identityOf).sort()).toEqual(expected.map(identityOf).sort());
    expect(objectSteps(up)).toEqual({ create: resourceNames(expected) });
    expect(up.outputs!.consulDnsIp.value).toBe(platformConfig.consulDnsClusterIp);
    expect(up.outputs!.namespaces.value).toEqual((await platformUnderMocks()).outputs.namespaces);
    const secret = JSON.parse((await api.kubectl(['-n', 'consul', 'get', 'secret', 'consul-gossip-key', '-o', 'json'])).stdout);
    expect(Buffer.from(secret.data.key, 'base64').toString()).toBe(GOSSIP_KEY);
    // The state holds the key encrypted only.
    expect(JSON.stringify(await platform.cli(['stack', 'export']))).not.toContain(GOSSIP_KEY);

    const preview = await platform.run('preview', { expectNoChanges: true, clusterWithoutNodes: true });
    expect(preview.steps).toEqual([]);
  });

  it('refuses an apps config without the ACL token the platform\'s Consul needs, before any apps resource is created', async () => {
    apps = await backend.initStack(repositoryStack('apps'), target(), { 'consulAclTokens.payment-service': ACL_TOKENS['payment-service'] });
    const failure = await apps.run('up', { clusterWithoutNodes: true }).then(() => undefined, (error: Error) => error.message);
    expect(failure).toContain('discovery-apps:consulAclTokens.order-service');
    expect((await apps.stateResources()).map((r) => r.type).filter((type) => type.startsWith('kubernetes:'))).toEqual([]);
  });

  it('deploys the apps with the platform outputs read through the StackReference; a preview right after expects no changes', async () => {
    await apps.setConfig('consulAclTokens.order-service', ACL_TOKENS['order-service'], true);
    const up = await apps.run('up', { clusterWithoutNodes: true });
    const expected = await appsObjects();
    const live = (await liveObjects(api, expected)).map(identityOf);
    for (const identity of expected.map(identityOf)) expect(live).toContain(identity);
    expect(objectSteps(up)).toEqual({ create: resourceNames(expected) });
    expect(up.outputs!.namespace.value).toBe('production');

    const preview = await apps.run('preview', { expectNoChanges: true, clusterWithoutNodes: true });
    expect(preview.steps).toEqual([]);
  });

  it('previews a config change as exactly the objects and fields it changes, and applies it', async () => {
    const before = await appsObjects();
    const services = JSON.parse(appsConfig.services);
    services['payment-service'].replicas = 5;
    const after = await appsObjects({ ...appsConfig, services: JSON.stringify(services) });
    const expectedSteps = after.flatMap((obj, i) => {
      const paths = changedPaths(before[i], obj);
      return paths.length ? [{ op: 'update', type: kubernetesTypeToken(obj.apiVersion, obj.kind), name: chartObjectResourceName(obj as any), detailedDiff: paths.sort() }] : [];
    });
    expect(expectedSteps.map((s) => s.name)).toEqual(['production/Deployment/payment-service']);

    await apps.setConfig('services.payment-service.replicas', '5');
    const preview = await apps.run('preview', { clusterWithoutNodes: true });
    expect(preview.steps).toEqual(expectedSteps);

    const up = await apps.run('up', { clusterWithoutNodes: true });
    expect(objectSteps(up)).toEqual({ update: ['production/Deployment/payment-service'] });
    const deployment = JSON.parse((await api.kubectl(['-n', 'production', 'get', 'deployment', 'payment-service', '-o', 'json'])).stdout);
    expect(deployment.spec.replicas).toBe(5);
    await apps.run('preview', { expectNoChanges: true, clusterWithoutNodes: true });
  });

  it('destroys both stacks: nothing is left in the API server but the namespaces, Terminating', async () => {
    const expected = [...registeredObjects((await platformUnderMocks()).registered), ...await appsObjects()];
    await apps.run('destroy', { clusterWithoutNodes: true });
    await platform.run('destroy', { clusterWithoutNodes: true });
    for (const stack of [apps, platform]) expect(await stack.stateResources()).toEqual([]);
    const left = await liveObjects(api, expected);
    // Only the namespace controller (kube-controller-manager) finalizes a deleted namespace.
    expect(left.map((obj) => [identityOf(obj), Boolean(obj.metadata.deletionTimestamp)]))
      .toEqual(expected.filter((obj) => obj.kind === 'Namespace').map((obj) => [identityOf(obj), true]).sort());
  });
});
