import { describe, expect, it } from 'vitest';
import { DiscoverableService } from '../lib';
import { qualityViolations } from './support/quality';
import { KubeObject, validateSchema } from './support/schema';
import { findObject, synthChart, testChart } from './support/synth';

/** A clean service's objects, deep-copied so each test can break one thing. */
function cleanObjects(): KubeObject[] {
  const chart = testChart();
  new DiscoverableService(chart, 'svc', { image: 'ghcr.io/acme/svc:1.0.0' });
  return JSON.parse(JSON.stringify(synthChart(chart)));
}

function violationsAfter(mutate: (objects: KubeObject[]) => void): string[] {
  const objects = cleanObjects();
  mutate(objects);
  return qualityViolations(objects);
}

const pod = (o: KubeObject[]) => findObject(o, 'Deployment', 'svc').spec.template.spec;
const app = (o: KubeObject[]) => pod(o).containers[0];

// The suite must be able to fail: each mutation below breaks one rule it claims to check.
describe('the manifest-quality suite catches', () => {
  it.each<[string, (o: KubeObject[]) => void, RegExp]>([
    ['privilege escalation', (o) => { app(o).securityContext.allowPrivilegeEscalation = true; }, /pss-restricted: container svc does not set allowPrivilegeEscalation/],
    ['kept capabilities', (o) => { app(o).securityContext.capabilities = { add: ['NET_ADMIN'] }; }, /adds capability NET_ADMIN/],
    ['missing seccomp', (o) => { delete pod(o).securityContext.seccompProfile; delete app(o).securityContext.seccompProfile; }, /seccomp unset/],
    ['root', (o) => { pod(o).securityContext.runAsUser = 0; }, /runs as uid 0/],
    ['a hostPort', (o) => { app(o).ports[0].hostPort = 8080; }, /pss-baseline: container svc uses hostPort 8080/],
    ['a hostPath volume', (o) => { pod(o).volumes.push({ name: 'h', hostPath: { path: '/' } }); }, /volume h is a hostPath/],
    ['hostNetwork', (o) => { pod(o).hostNetwork = true; }, /hostNetwork is set/],
    ['a probe host', (o) => { app(o).livenessProbe.httpGet.host = '10.0.0.1'; }, /probe or hook sets host/],
    ['a latest image', (o) => { app(o).image = 'ghcr.io/acme/svc:latest'; }, /image-pinned/],
    ['an untagged image behind a registry port', (o) => { app(o).image = 'reg:5000/svc'; }, /image-pinned/],
    ['missing limits', (o) => { delete app(o).resources.limits; }, /no cpu limits/],
    ['no readiness probe', (o) => { delete app(o).readinessProbe; }, /readiness-probe/],
    ['identical probes', (o) => { app(o).livenessProbe.httpGet.path = '/health/ready'; }, /liveness-differs/],
    ['a probe on an undeclared port', (o) => { app(o).readinessProbe.httpGet.port = 'admin'; }, /probe-port: container svc probes port admin/],
    ['a bad port name', (o) => { app(o).ports[0].name = 'HTTP_PORT'; }, /port-name/],
    ['a Service selecting nothing', (o) => { findObject(o, 'Service', 'svc').spec.selector = { app: 'other' }; }, /Service\/svc: service-selector: selector matches no pod template/],
    ['a targetPort naming no container port', (o) => { findObject(o, 'Service', 'svc').spec.ports[0].targetPort = 'web'; }, /targetPort web names no container port/],
    ['a single replica behind a Service', (o) => { findObject(o, 'Deployment', 'svc').spec.replicas = 1; }, /deployment-ha: has 1 replica/],
    ['no anti-affinity', (o) => { delete pod(o).affinity; }, /no pod anti-affinity/],
    ['a budget of 0', (o) => { findObject(o, 'PodDisruptionBudget', 'svc').spec.maxUnavailable = 0; }, /blocks every voluntary disruption/],
    ['a budget of 100%', (o) => { findObject(o, 'PodDisruptionBudget', 'svc').spec.maxUnavailable = '100%'; }, /protects nothing/],
    ['an implicit eviction policy', (o) => { delete findObject(o, 'PodDisruptionBudget', 'svc').spec.unhealthyPodEvictionPolicy; }, /unhealthyPodEvictionPolicy is not explicit/],
    ['no PodDisruptionBudget', (o) => { o.splice(o.indexOf(findObject(o, 'PodDisruptionBudget', 'svc')), 1); }, /pdb: no PodDisruptionBudget selects it/],
    ['a writable root filesystem', (o) => { app(o).securityContext.readOnlyRootFilesystem = false; }, /read-only-root/],
    ['a low uid', (o) => { pod(o).securityContext.runAsUser = 1000; }, /non-root-ids: container svc runs as uid 1000/],
    ['a literal secret', (o) => { app(o).env = [{ name: 'DB_PASSWORD', value: 'x' }]; }, /secret-env: container svc sets DB_PASSWORD/],
    ['missing recommended labels', (o) => { findObject(o, 'ServiceAccount', 'svc').metadata.labels = {}; }, /ServiceAccount\/svc: recommended-labels/],
  ])('%s', (_title, mutate, expected) => {
    expect(violationsAfter(mutate).join('\n')).toMatch(expected);
  });

  it('a clean service has no violations at all', () => {
    expect(qualityViolations(cleanObjects())).toEqual([]);
  });

  it('pods that no NetworkPolicy isolates', () => {
    const objects = cleanObjects();
    objects.splice(objects.indexOf(findObject(objects, 'NetworkPolicy', 'svc')), 1);
    expect(qualityViolations(objects)).toEqual([
      'Deployment/svc: network-policy: no NetworkPolicy isolates its pods for Ingress',
      'Deployment/svc: network-policy: no NetworkPolicy isolates its pods for Egress',
    ]);
  });

  it('a StatefulSet whose serviceName is not a headless Service', () => {
    const objects = cleanObjects();
    const deployment = findObject(objects, 'Deployment', 'svc');
    objects.push({ ...deployment, kind: 'StatefulSet', metadata: { ...deployment.metadata, name: 'db' }, spec: { ...deployment.spec, serviceName: 'svc' } });
    expect(qualityViolations(objects).join('\n')).toMatch(/StatefulSet\/db: statefulset-service: Service svc is not headless/);
  });

  it('and honours an exemption only for the named object and rule', () => {
    const objects = cleanObjects();
    pod(objects).securityContext.runAsUser = 100;
    const exempt = { rule: 'non-root-ids' as const, object: 'Deployment/svc', why: 'image user' };
    expect(qualityViolations(objects, { exemptions: [exempt] }).join('\n')).not.toMatch(/non-root-ids/);
    expect(qualityViolations(objects, { exemptions: [{ ...exempt, object: 'Deployment/other' }] }).join('\n')).toMatch(/non-root-ids/);
  });
});

describe('the schema check catches', () => {
  it('a wrong type', () => {
    const objects = cleanObjects();
    app(objects).ports[0].containerPort = '8080';
    expect(() => validateSchema(findObject(objects, 'Deployment', 'svc'))).toThrow(/Deployment production\/svc does not match the Kubernetes schema: .*containerPort must be integer/);
  });

  it('a missing required field', () => {
    const objects = cleanObjects();
    delete app(objects).name;
    expect(() => validateSchema(findObject(objects, 'Deployment', 'svc'))).toThrow(/containers\/0 must have required property name/);
  });

  it('a kind it has no schema for', () => {
    expect(() => validateSchema({ apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w' } })).toThrow(/no schema known for example.com\/v1 Widget/);
  });
});
