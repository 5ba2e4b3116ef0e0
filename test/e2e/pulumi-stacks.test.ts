import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chartObjectResourceName, kubernetesTypeToken } from '../../lib/pulumi';
import { ACL_TOKENS, exampleStackConfig, runApps, runPlatform } from '../support/pulumi-stacks';
import { ApiServer, startApiServer } from './support/apiserver';
import { serverSideApply } from './support/apply';
import { identityOf, liveObjects, registeredObjects } from './support/cluster-objects';
import { PulumiBackend, PulumiStack, repositoryStack, RunResult } from './support/pulumi';

// The real Pulumi CLI and Kubernetes provider deploy both stacks to a real kube-apiserver.
// That API server has no kubelet and no controller manager, so the stacks run with test-only
// annotations (pulumi-run.ts, `clusterWithoutNodes`): workloads and Services skip the
// readiness await (no pod ever runs), Namespaces the deletion await (no namespace controller
// finalizes them), and objects are deleted with background propagation (no garbage collector
// removes a foreground finalizer). The product sets none of them.

const platformConfig = exampleStackConfig('platform');
const appsConfig: Record<string, string> = exampleStackConfig('apps');
/** The API server's own `kubernetes` EndpointSlice, which the platform program reads. */
let apiServerSlice: object;

/** What the platform program registers, run under mocks with the stack's config and the API server's EndpointSlice. */
async function platformUnderMocks() {
  return runPlatform(platformConfig, { liveObjects: { 'kubernetes:discovery.k8s.io/v1:EndpointSlice default/kubernetes': apiServerSlice } });
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
    // A real API server's endpoint reconciler keeps this EndpointSlice; the test API server runs
    // without it (its loopback address is no valid endpoint), so the test writes what it would.
    await serverSideApply(api, [{
      apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice',
      metadata: { name: 'kubernetes', namespace: 'default', labels: { 'kubernetes.io/service-name': 'kubernetes' } },
      addressType: 'IPv4',
      endpoints: [{ addresses: ['192.0.2.10'], conditions: { ready: true } }],
      ports: [{ name: 'https', port: 6443, protocol: 'TCP' }],
    }]);
    apiServerSlice = JSON.parse((await api.kubectl(['-n', 'default', 'get', 'endpointslice', 'kubernetes', '-o', 'json'])).stdout);
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

  it('deploys the platform with nothing secret set: every object the program registers is in the API server, and a preview right after expects no changes', async () => {
    await platform.removeConfig('gossipKey');
    const up = await platform.run('up', { clusterWithoutNodes: true });
    const expected = registeredObjects((await platformUnderMocks()).registered);
    expect(expected.length).toBeGreaterThan(20);
    expect((await liveObjects(api, expected)).map(identityOf).sort()).toEqual(expected.map(identityOf).sort());
    expect(objectSteps(up)).toEqual({ create: resourceNames(expected) });
    expect(up.outputs!.consulDnsIp.value).toBe(platformConfig.consulDnsClusterIp);
    expect(up.outputs!.namespaces.value).toEqual((await platformUnderMocks()).outputs.namespaces);
    // No Secret comes from Pulumi: the bootstrap Job makes them in the cluster.
    expect(expected.filter((obj) => obj.kind === 'Secret')).toEqual([]);
    expect(expected.filter((obj) => obj.kind === 'Job').map(identityOf)).toEqual([expect.stringMatching(/^Job consul\/consul-bootstrap-[0-9a-f]+$/)]);
    // The Job may reach the API server at the address the real API server publishes.
    const policy = JSON.parse((await api.kubectl(['-n', 'consul', 'get', 'networkpolicy', 'consul-bootstrap', '-o', 'json'])).stdout);
    expect(policy.spec.egress).toContainEqual({ to: [{ ipBlock: { cidr: '192.0.2.10/32' } }], ports: [{ port: 6443, protocol: 'TCP' }] });
    expect(up.outputs!.consulBootstrap.value).toEqual({ clusterName: 'consul', namespace: 'consul', serviceAccountName: 'consul-bootstrap' });

    const preview = await platform.run('preview', { expectNoChanges: true, clusterWithoutNodes: true });
    expect(preview.steps).toEqual([]);
  });

  it("refuses service tokens in the apps config when the platform's bootstrap writes them, before any apps resource is created", async () => {
    apps = await backend.initStack(repositoryStack('apps'), target(), { 'consulAclTokens.payment-service': ACL_TOKENS['payment-service'] });
    const failure = await apps.run('up', { clusterWithoutNodes: true }).then(() => undefined, (error: Error) => error.message);
    expect(failure).toContain("discovery-apps:consulAclTokens = \"<redacted>\" is invalid: must be unset: the platform's Consul bootstrap (consul/consul-bootstrap) writes each service's token");
    expect(failure).not.toContain(ACL_TOKENS['payment-service']);
    expect((await apps.stateResources()).map((r) => r.type).filter((type) => type.startsWith('kubernetes:'))).toEqual([]);
  });

  it("deploys the apps with the platform outputs read through the StackReference, each registering service's token declared for the bootstrap; a preview right after expects no changes", async () => {
    await apps.removeConfig('consulAclTokens');
    const up = await apps.run('up', { clusterWithoutNodes: true });
    const expected = await appsObjects();
    const live = (await liveObjects(api, expected)).map(identityOf);
    for (const identity of expected.map(identityOf)) expect(live).toContain(identity);
    expect(objectSteps(up)).toEqual({ create: resourceNames(expected) });
    expect(up.outputs!.namespace.value).toBe('production');
    const declarations = JSON.parse((await api.kubectl(['-n', 'consul', 'get', 'configmap', '-l', 'discovery-kit.io/consul-service-token=consul', '-o', 'json'])).stdout);
    expect(declarations.items.map((item: any) => item.data).sort((a: any, b: any) => a.service.localeCompare(b.service))).toEqual([
      { service: 'order-service', namespace: 'production', secretName: 'order-service-consul-token', key: 'token' },
      { service: 'payment-service', namespace: 'production', secretName: 'payment-service-consul-token', key: 'token' },
    ]);

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
