import { App } from 'cdk8s';
import { describe, expect, it } from 'vitest';
import { buildWithDiscoveryKit } from '../bench/discovery-kit';
import { IMPLEMENTATION_NAMES, synthesize } from '../bench/implementations';
import { canonical, firstManifestDifference, manifestDigest } from '../bench/manifests';
import { deployUnderMocks, registrationsDigest } from '../bench/pulumi';
import { workload } from '../bench/workload';
import { envOf, findContainer, findObject, synthChart } from './support/synth';

// The benchmark compares implementations that must synthesize identical manifests; this
// catches drift between DiscoverableService and the hand-written baselines (the benchmark
// itself runs with `npm run bench`, never as a test).

/** Three services in two namespaces: bindings within a namespace and across. */
const w = workload(3, 2);
const outputs = new Map(IMPLEMENTATION_NAMES.map((name) => [name, synthesize(name, w, synthChart)]));
const reference = outputs.get('discovery-kit')!;
const objects = reference.flatMap((c) => c.objects);

describe('benchmark workload', () => {
  it('is what the benchmark claims: 3 complete discoverable services, one chart per namespace', () => {
    // 7 objects per service and the namespace's one registration script ConfigMap.
    expect(reference.map((c) => [c.chart, c.objects.length])).toEqual([['team-0', 15], ['team-1', 8]]);
    expect(objects.filter((o) => o.kind === 'ConfigMap').map((o) => `${o.metadata.namespace}/${o.metadata.name}`))
      .toEqual(['team-0/discovery-kit-consul-registration', 'team-1/discovery-kit-consul-registration']);
    expect(objects.map((o) => `${o.kind}/${o.metadata.namespace}/${o.metadata.name}`).filter((id) => id.includes('svc-2')).sort()).toEqual([
      'Deployment/team-1/svc-2', 'NetworkPolicy/consul/consul-agent-to-svc-2.team-1', 'NetworkPolicy/team-1/svc-2', 'PodDisruptionBudget/team-1/svc-2',
      'Service/team-1/svc-2', 'Service/team-1/svc-2-headless', 'ServiceAccount/team-1/svc-2',
    ]);
    const deployment = findObject(objects, 'Deployment', 'svc-2');
    expect(deployment.spec.template.spec.containers.map((c: any) => c.name)).toEqual(['svc-2', 'consul-registration']);
    expect(findContainer(deployment, 'svc-2').ports.map((p: any) => p.name)).toEqual(['http', 'grpc']);
    expect(findObject(objects, 'Service', 'svc-2-headless').spec.clusterIP).toBe('None');
  });

  it('binds service i to service i-1, across namespaces too', () => {
    const consumer = findContainer(findObject(objects, 'Deployment', 'svc-2'), 'svc-2');
    expect(envOf(consumer, 'SVC_1_URL').value).toBe('http://svc-1.team-0.svc.cluster.local:8080');
    expect(envOf(findContainer(findObject(objects, 'Deployment', 'svc-0'), 'svc-0'), 'SVC_1_URL')).toBeUndefined();
    const ingress = findObject(objects, 'NetworkPolicy', 'svc-1').spec.ingress;
    expect(ingress[1].from[0].namespaceSelector.matchLabels).toEqual({ 'kubernetes.io/metadata.name': 'team-1' });
  });
});

describe.each(IMPLEMENTATION_NAMES.filter((name) => name !== 'discovery-kit'))('the %s implementation', (name) => {
  it("synthesizes discovery-kit's manifests exactly", () => {
    const output = outputs.get(name)!;
    expect({ firstDifference: firstManifestDifference(reference, output) }).toEqual({ firstDifference: undefined });
    expect(canonical(output)).toEqual(canonical(reference));
    expect(manifestDigest(output)).toBe(manifestDigest(reference));
  });
});

describe('the output comparison', () => {
  it('names the first difference, however deep, and changes the digest', () => {
    const changed = structuredClone(reference);
    const policy = changed[1].objects.find((o) => o.kind === 'NetworkPolicy' && o.metadata.name === 'svc-2');
    policy.spec.egress[2].ports[0].port = 9090;
    expect(firstManifestDifference(reference, changed)).toBe('team-1 NetworkPolicy/team-1/svc-2.spec.egress[2].ports[0].port: 8080 != 9090');
    expect(manifestDigest(changed)).not.toBe(manifestDigest(reference));
  });

  it('ignores object order within a chart but not a missing object', () => {
    const reordered = reference.map((c) => ({ ...c, objects: [...c.objects].reverse() }));
    expect(manifestDigest(reordered)).toBe(manifestDigest(reference));
    const missing = reference.map((c, i) => ({ ...c, objects: i === 0 ? c.objects.slice(1) : c.objects }));
    expect(firstManifestDifference(reference, missing)).toMatch(/^objects\[0\]/);
  });
});

describe('the Pulumi programs', () => {
  it('register the same resources, one per synthesized object', async () => {
    const component = await deployUnderMocks('component', buildWithDiscoveryKit(new App(), w));
    const direct = await deployUnderMocks('direct', buildWithDiscoveryKit(new App(), w));
    expect(component).toHaveLength(objects.length);
    expect(registrationsDigest(direct)).toBe(registrationsDigest(component));
    expect(direct.map((r) => `${r.type} ${r.name}`)).toContain('kubernetes:apps/v1:Deployment team-1/Deployment/svc-2');
  });
});
