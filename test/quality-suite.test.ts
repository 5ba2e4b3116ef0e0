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

// The suite must be able to fail: each mutation below breaks one rule it claims to check. The
// rules kube-score and the real API server check have their mutations in test/e2e.
describe('the manifest-quality suite catches', () => {
  it.each<[string, (o: KubeObject[]) => void, RegExp]>([
    ['a latest image', (o) => { app(o).image = 'ghcr.io/acme/svc:latest'; }, /image-pinned/],
    ['an untagged image behind a registry port', (o) => { app(o).image = 'reg:5000/svc'; }, /image-pinned/],
    ['a probe on an undeclared port', (o) => { app(o).readinessProbe.httpGet.port = 'admin'; }, /probe-port: container svc probes port admin/],
    ['a targetPort naming no container port', (o) => { findObject(o, 'Service', 'svc').spec.ports[0].targetPort = 'web'; }, /Service\/svc: service-target-port: targetPort web names no container port/],
    ['a budget of 0', (o) => { findObject(o, 'PodDisruptionBudget', 'svc').spec.maxUnavailable = 0; }, /blocks every voluntary disruption/],
    ['a budget of 100%', (o) => { findObject(o, 'PodDisruptionBudget', 'svc').spec.maxUnavailable = '100%'; }, /protects nothing/],
    ['an implicit eviction policy', (o) => { delete findObject(o, 'PodDisruptionBudget', 'svc').spec.unhealthyPodEvictionPolicy; }, /unhealthyPodEvictionPolicy is not explicit/],
    ['a literal secret', (o) => { app(o).env = [{ name: 'DB_PASSWORD', value: 'x' }]; }, /secret-env: container svc sets DB_PASSWORD/],
    ['a token "file" that is no file of a mounted Secret', (o) => { app(o).env = [{ name: 'API_TOKEN_FILE', value: '/tmp/token' }]; }, /secret-env: container svc sets API_TOKEN_FILE/],
    ['missing recommended labels', (o) => { findObject(o, 'ServiceAccount', 'svc').metadata.labels = {}; }, /ServiceAccount\/svc: recommended-labels/],
  ])('%s', (_title, mutate, expected) => {
    expect(violationsAfter(mutate).join('\n')).toMatch(expected);
  });

  it('not a path into a mounted Secret volume, as a `_FILE` variable', () => {
    expect(violationsAfter((o) => {
      pod(o).volumes.push({ name: 'token', secret: { secretName: 'api-token', optional: true } });
      app(o).volumeMounts.push({ name: 'token', mountPath: '/token', readOnly: true });
      app(o).env = [{ name: 'API_TOKEN_FILE', value: '/token/token' }];
    })).toEqual([]);
  });

  it('a clean service has no violations at all', () => {
    expect(qualityViolations(cleanObjects())).toEqual([]);
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
