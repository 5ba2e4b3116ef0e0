import { Testing } from 'cdk8s';
import { describe, expect, it } from 'vitest';
import { buildExampleApp } from '../examples/discovery-setup';
import { CONSUL_MESH_LABEL, DEFAULT_NDOTS, DiscoverableService } from '../lib';
import { expectRejection, rejectionOf } from './support/errors';
import { findObject, hostNames, synthApp, synthChart, testChart } from './support/synth';

const objects = synthApp(buildExampleApp(Testing.app()));
const podSpecs = objects.map((o) => ({ name: `${o.kind}/${o.metadata.name}`, template: o.spec?.jobTemplate?.spec?.template ?? o.spec?.template }))
  .filter(({ template }) => template?.spec).map(({ name, template }) => ({ name, labels: template.metadata?.labels ?? {}, spec: template.spec }));

describe('resolver ndots', () => {
  it('every pod of the example resolves with ndots 4, but mesh pods, whose DNS consul-k8s sets', () => {
    const mesh = (p: { labels: Record<string, string> }) => p.labels[CONSUL_MESH_LABEL] !== undefined;
    expect(podSpecs.filter(mesh).map(({ name }) => name).sort()).toEqual(['Deployment/checkout-service', 'Deployment/inventory-service']);
    expect(podSpecs.length).toBeGreaterThan(10);
    for (const { name, spec } of podSpecs.filter((p) => !mesh(p))) expect(spec.dnsConfig, name).toEqual({ options: [{ name: 'ndots', value: String(DEFAULT_NDOTS) }] });
    for (const { name, spec } of podSpecs.filter(mesh)) expect(spec.dnsConfig, name).toBeUndefined();
  });

  it('every in-cluster host name the example injects has at least ndots dots, so it is looked up absolute first', () => {
    const injected = podSpecs.flatMap(({ spec }) => spec.containers.flatMap((c: any) => (c.env ?? []).filter((e: any) => typeof e.value === 'string')))
      .flatMap((e: any) => hostNames(e.value)).filter((h: string) => h.endsWith('.cluster.local'));
    expect(injected.length).toBeGreaterThan(5);
    for (const host of injected) expect(host.split('.').length - 1, host).toBeGreaterThanOrEqual(DEFAULT_NDOTS);
  });

  it('takes another ndots', () => {
    const chart = testChart();
    new DiscoverableService(chart, 'payment-service', { image: 'ghcr.io/acme/payment-service:1.8.2', ndots: 2 });
    expect(findObject(synthChart(chart), 'Deployment', 'payment-service').spec.template.spec.dnsConfig).toEqual({ options: [{ name: 'ndots', value: '2' }] });
  });

  it.each([0, 16, 2.5])('rejects ndots %s', (ndots) => {
    const error = rejectionOf((chart) => new DiscoverableService(chart, 'payment-service', { image: 'ghcr.io/acme/payment-service:1.8.2', ndots }));
    expectRejection(error, "DiscoverableService 'test/payment-service'", 'ndots', /integer from 1 to 15/);
  });
});
