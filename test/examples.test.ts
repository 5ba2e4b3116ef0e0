import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App, Testing, Yaml } from 'cdk8s';
import { describe, expect, it } from 'vitest';
import { buildExampleApp } from '../examples/discovery-setup';
import { qualityViolations } from './support/quality';
import { envOf, findContainer, findObject, synthApp } from './support/synth';

const app = buildExampleApp(Testing.app());
const objects = synthApp(app);
const SERVICES = ['payment-service', 'order-service', 'user-service'];

describe('the example discovery setup', () => {
  it('matches the committed dist/ byte for byte (reviewers diff dist/, so it must not drift)', () => {
    for (const chart of app.charts) {
      const committed = readFileSync(join(__dirname, '..', 'dist', `${chart.node.id}.k8s.yaml`), 'utf8');
      expect(Yaml.stringify(...chart.toJson()), `dist/${chart.node.id}.k8s.yaml is stale: run npm run synth`).toBe(committed);
    }
  });

  it.each(SERVICES)('%s has every discovery object in production', (name) => {
    const deployment = findObject(objects, 'Deployment', name, 'production');
    const app = findContainer(deployment, name);
    expect(findObject(objects, 'Service', name, 'production').spec.type).toBe('ClusterIP');
    const headless = findObject(objects, 'Service', `${name}-headless`, 'production');
    expect(headless.spec.clusterIP).toBe('None');
    expect(headless.spec.ports.every((p: any) => typeof p.name === 'string' && p.targetPort === p.name)).toBe(true);
    expect(app.livenessProbe.httpGet.path).not.toBe(app.readinessProbe.httpGet.path);
    expect(app.startupProbe).toBeDefined();
    expect(app.lifecycle.preStop.exec.command[0]).toBe('sleep');
    expect(findObject(objects, 'PodDisruptionBudget', name, 'production').spec.maxUnavailable).toBe(1);
  });

  it("gives order-service payment-service's discovery settings", () => {
    const order = findContainer(findObject(objects, 'Deployment', 'order-service'), 'order-service');
    expect(envOf(order, 'PAYMENT_SERVICE_URL').value).toBe('http://payment-service.production.svc.cluster.local:8080');
    expect(envOf(order, 'PAYMENT_SERVICE_SRV').value).toBe('_http._tcp.payment-service-headless.production.svc.cluster.local');
    expect(envOf(order, 'POD_NAMESPACE').valueFrom.fieldRef.fieldPath).toBe('metadata.namespace');
  });

  it('runs in a namespace that enforces Pod Security restricted', () => {
    expect(findObject(objects, 'Namespace', 'production').metadata.labels?.['pod-security.kubernetes.io/enforce']).toBe('restricted');
  });

  it('passes the manifest-quality suite', () => {
    expect(qualityViolations(objects)).toEqual([]);
  });

  it('synthesizes the same YAML twice (stable names, no hashes)', () => {
    const again = buildExampleApp(new App({ outdir: '/nonexistent' }));
    expect(again.charts.map((c) => Yaml.stringify(...c.toJson()))).toEqual(app.charts.map((c) => Yaml.stringify(...c.toJson())));
  });
});
