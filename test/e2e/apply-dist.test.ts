import { Testing } from 'cdk8s';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConsulCluster } from '../../lib';
import type { KubeObject } from '../support/schema';
import { findObject, synthChart } from '../support/synth';
import { ApiServer, startApiServer } from './support/apiserver';
import { admitPods, gatewayApiCrds, installCrds, serverSideApply, servable, UNSERVABLE_GROUPS } from './support/apply';
import { cleanService, distCharts, GOSSIP, refOf, representativeCharts, restrictedChart, SynthesizedChart } from './support/charts';

// Every synthesized object goes to a real kube-apiserver (v1.36, Pod Security admission, strict
// field validation) into the charts' own namespaces, which enforce, warn and audit Pod Security
// "restricted": a warning is a failure like a rejection.
const charts: SynthesizedChart[] = [...distCharts(), ...representativeCharts()];
let api: ApiServer;

beforeAll(async () => {
  api = await startApiServer();
  // exposeVia's HTTPRoutes, GRPCRoutes and ReferenceGrants are custom resources.
  await installCrds(api, gatewayApiCrds());
  // The platform's PriorityClass that the representative registries name (the Priority
  // admission plugin refuses pods naming one that does not exist).
  await serverSideApply(api, [{ apiVersion: 'scheduling.k8s.io/v1', kind: 'PriorityClass', metadata: { name: 'registry-critical' }, value: 1_000_000 }]);
});

afterAll(async () => {
  await api?.stop();
});

const RESTRICTED = {
  'pod-security.kubernetes.io/enforce': 'restricted',
  'pod-security.kubernetes.io/warn': 'restricted',
  'pod-security.kubernetes.io/audit': 'restricted',
};

describe('a real kube-apiserver', () => {
  it('gets, with every chart or a chart applied before it, the namespaces it uses, each enforcing, warning and auditing Pod Security "restricted"', () => {
    // A registering service's chart holds the Consul agents' egress to its pods, in the
    // agents' namespace: the registry's chart comes first.
    const created = new Set<string>();
    for (const chart of charts) {
      const namespaces = chart.objects.filter((o) => o.kind === 'Namespace');
      for (const ns of namespaces) expect(ns.metadata.labels, `${chart.name}: ${refOf(ns)}`).toMatchObject(RESTRICTED);
      namespaces.forEach((ns) => created.add(ns.metadata.name));
      const used = [...new Set(chart.objects.map((o) => o.metadata.namespace).filter(Boolean))];
      expect(used.filter((n) => !created.has(n!)), `${chart.name}: namespaces neither it nor an earlier chart creates`).toEqual([]);
    }
  });

  it.each(charts.map((c) => [c.name, c] as const))('accepts every object of %s, server-side and strict, without a warning', async (_name, chart) => {
    const { applied } = servable(chart.objects);
    expect(await serverSideApply(api, applied)).toHaveLength(applied.length);
  });

  it.each(charts.map((c) => [c.name, c] as const))('admits the pod of every workload of %s under Pod Security "restricted"', async (_name, chart) => {
    await admitPods(api, servable(chart.objects).applied);
  });

  it('stores the Gateway API routes, the ReferenceGrants and every trafficDistribution as sent (nothing pruned)', async () => {
    const get = async (kind: string, name: string, namespace: string) => JSON.parse((await api.kubectl(['get', kind, name, '-n', namespace, '-o', 'json'])).stdout);
    const sent = (kind: string, name: string) => charts.flatMap((c) => c.objects).find((o) => o.kind === kind && o.metadata.name === name)!;
    for (const [kind, name, namespace] of [
      ['HTTPRoute', 'payment-service-http', 'production'], ['HTTPRoute', 'api-service-http', 'rep-gateway'],
      ['GRPCRoute', 'api-service-grpc', 'rep-gateway'], ['ReferenceGrant', 'rep-gateway-api-service-grpc', 'rep-exposed'],
    ]) {
      expect((await get(kind.toLowerCase(), name, namespace)).spec, `${kind} ${namespace}/${name}`).toMatchObject(sent(kind, name).spec);
    }
    for (const [name, value] of [['plain-service', 'PreferSameNode'], ['catalog-service', 'PreferSameZone']]) {
      expect((await get('service', name, 'rep-services')).spec.trafficDistribution).toBe(value);
    }
    expect((await get('endpointslice', 'ledger-db-ipv4', 'production')).endpoints.map((e: any) => e.addresses[0])).toEqual(['192.0.2.20', '192.0.2.21']);
    expect((await get('service', 'fraud-api', 'rep-exposed')).spec.externalName).toBe('fraud.example.com');
  });

  it('leaves out only the consul-k8s custom resources, whose CRDs cannot be installed here', () => {
    const leftOut = charts.flatMap((c) => servable(c.objects).leftOut.map((o) => `${c.name}: ${o.apiVersion} ${refOf(o)}`));
    console.log(`not applied (${Object.values(UNSERVABLE_GROUPS).join('; ')}):\n  ${leftOut.join('\n  ')}`);
    expect(new Set(charts.flatMap((c) => servable(c.objects).leftOut.map((o) => o.kind)))).toEqual(new Set(['ServiceDefaults', 'ServiceIntentions', 'ServiceResolver']));
  });
});

// The checks above must be able to fail: the same server refuses what it should. The in-house
// quality suite (test/support/quality.ts) dropped the Pod Security and port-name rules because
// of these checks; each mutation breaks one of them on a clean service.
describe('the real kube-apiserver refuses, on a clean service', () => {
  const pod = (o: KubeObject[]) => findObject(o, 'Deployment', 'svc').spec.template.spec;
  const app = (o: KubeObject[]) => pod(o).containers[0];

  it('nothing when unbroken', async () => {
    const objects = cleanService('mutations');
    await serverSideApply(api, objects);
    await admitPods(api, objects);
  });

  // Pod Security admission warns about a workload's pod template and forbids the pod itself.
  it.each<[string, (o: KubeObject[]) => void, string]>([
    ['privilege escalation', (o) => { app(o).securityContext.allowPrivilegeEscalation = true; }, 'allowPrivilegeEscalation != false (container "svc" must set securityContext.allowPrivilegeEscalation=false)'],
    ['an added capability', (o) => { app(o).securityContext.capabilities.add = ['NET_ADMIN']; }, 'unrestricted capabilities (container "svc" must not include "NET_ADMIN" in securityContext.capabilities.add)'],
    ['capabilities not dropped', (o) => { delete app(o).securityContext.capabilities; }, 'unrestricted capabilities (container "svc" must set securityContext.capabilities.drop=["ALL"])'],
    ['no seccomp profile', (o) => { delete pod(o).securityContext.seccompProfile; delete app(o).securityContext.seccompProfile; }, 'seccompProfile (pod or container "svc" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")'],
    ['root', (o) => { pod(o).securityContext.runAsUser = 0; }, 'runAsUser=0 (pod must not set runAsUser=0)'],
    ['runAsNonRoot unset', (o) => { delete pod(o).securityContext.runAsNonRoot; delete app(o).securityContext.runAsNonRoot; }, 'runAsNonRoot != true (pod or container "svc" must set securityContext.runAsNonRoot=true)'],
    ['a privileged container', (o) => { Object.assign(app(o).securityContext, { privileged: true, allowPrivilegeEscalation: true }); }, 'privileged (container "svc" must not set securityContext.privileged=true)'],
    ['a hostPort', (o) => { app(o).ports[0].hostPort = 8080; }, 'hostPort (container "svc" uses hostPort 8080)'],
    ['a hostPath volume', (o) => { pod(o).volumes.push({ name: 'h', hostPath: { path: '/' } }); }, 'restricted volume types (volume "h" uses restricted volume type "hostPath")'],
    ['hostNetwork', (o) => { pod(o).hostNetwork = true; }, 'host namespaces (hostNetwork=true)'],
    ['a probe host', (o) => { app(o).livenessProbe.httpGet.host = '10.0.0.1'; }, 'probe or lifecycle host (container "svc" uses probe or lifecycle host "10.0.0.1")'],
  ])('%s: Pod Security "restricted"', async (_title, mutate, violation) => {
    const objects = cleanService('mutations');
    mutate(objects);
    for (const submit of [serverSideApply, admitPods]) {
      const error = await submit(api, objects).then(() => 'accepted', (e: Error) => e.message);
      expect(error).toMatch(/violates? PodSecurity "restricted:latest": /);
      expect(error).toContain(violation);
    }
  });

  it.each<[string, (o: KubeObject[]) => void, RegExp]>([
    ['a port name that is not an IANA service name', (o) => { app(o).ports[0].name = 'HTTP_PORT'; }, /ports\[0\]\.name: Invalid value: "HTTP_PORT": must contain only alpha-numeric characters/],
    ['a Deployment selector that misses its template', (o) => { findObject(o, 'Deployment', 'svc').spec.selector.matchLabels.extra = 'x'; }, /`selector` does not match template `labels`/],
    ['an unknown field (server-side apply types every field against the schema)', (o) => { app(o).livenessProbe.httpGets = {}; }, /\.spec\.template\.spec\.containers\[name="svc"\]\.livenessProbe\.httpGets: field not declared in schema/],
  ])('%s', async (_title, mutate, message) => {
    const objects = cleanService('mutations');
    mutate(objects);
    await expect(serverSideApply(api, objects)).rejects.toThrow(message);
  });

  it('trafficDistribution PreferClose, deprecated in 1.36 (TrafficDistribution.PREFER_CLOSE warns at synthesis too)', async () => {
    const objects = cleanService('mutations');
    findObject(objects, 'Service', 'svc').spec.trafficDistribution = 'PreferClose';
    await expect(serverSideApply(api, objects)).rejects.toThrow(/spec.trafficDistribution: "PreferClose" is deprecated; use "PreferSameZone"/);
  });

  it('agents with hostPorts (the agentHostPorts opt-in) in a restricted namespace', async () => {
    const chart = restrictedChart(Testing.app(), 'host-ports');
    new ConsulCluster(chart, 'consul', { gossipEncryption: GOSSIP, agentHostPorts: true });
    const objects = synthChart(chart);
    await expect(serverSideApply(api, objects)).rejects.toThrow(/would violate PodSecurity "restricted:latest": hostPort \(container "consul" uses hostPorts 8500, 8502\)/);
    await expect(admitPods(api, objects)).rejects.toThrow(/violates PodSecurity "restricted:latest": hostPort/);
  });
});
