import { describe, expect, it } from 'vitest';
import { ConsulCatalogSync, ConsulCatalogSyncProps, DiscoverableService, DiscoveryKitValidationError } from '../lib';
import { qualityViolations } from './support/quality';
import { findObject, synthChart, testChart } from './support/synth';

function synced(props: ConsulCatalogSyncProps) {
  const chart = testChart();
  new DiscoverableService(chart, 'payment-service', {
    image: 'ghcr.io/acme/payment-service:1.8.2',
    ports: [{ name: 'http', port: 8080 }, { name: 'grpc', port: 9090 }],
    registration: new ConsulCatalogSync(props),
  });
  return synthChart(chart);
}

describe('ConsulCatalogSync', () => {
  const objects = synced({ port: 'grpc', tags: ['v1', 'canary'], meta: { team: 'payments', tier: 'gold' } });

  it('annotates the ClusterIP Service the way consul-k8s catalog sync reads it', () => {
    expect(findObject(objects, 'Service', 'payment-service').metadata.annotations).toEqual({
      'consul.hashicorp.com/service-sync': 'true',
      'consul.hashicorp.com/service-name': 'payment-service',
      'consul.hashicorp.com/service-port': 'grpc',
      'consul.hashicorp.com/service-tags': 'v1,canary',
      'consul.hashicorp.com/service-meta-team': 'payments',
      'consul.hashicorp.com/service-meta-tier': 'gold',
    });
  });

  it('leaves the headless Service unsynced (it would register every pod twice)', () => {
    expect(findObject(objects, 'Service', 'payment-service-headless').metadata.annotations).toBeUndefined();
  });

  it('adds no sidecar: health follows pod readiness through the Endpoints', () => {
    expect(findObject(objects, 'Deployment', 'payment-service').spec.template.spec.containers.map((c: any) => c.name)).toEqual(['payment-service']);
  });

  it('defaults to the health port and the Kubernetes name, without the -<namespace> suffix', () => {
    const annotations = findObject(synced({}), 'Service', 'payment-service').metadata.annotations ?? {};
    expect(annotations['consul.hashicorp.com/service-name']).toBe('payment-service');
    expect(annotations['consul.hashicorp.com/service-port']).toBe('http');
  });

  it('passes the manifest-quality suite', () => {
    expect(qualityViolations(objects)).toEqual([]);
  });

  it.each<[string, ConsulCatalogSyncProps, RegExp]>([
    ['a tag that is not a DNS label', { tags: ['a,b'] }, /registration.tags\[0\] = "a,b"/],
    ['a meta key too long for an annotation name', { meta: { ['k'.repeat(51)]: 'v' } }, /registration.meta key = "k{51}".*at most 50 characters/],
    ['a meta key Consul rejects', { meta: { 'a.b': 'v' } }, /registration.meta key = "a.b"/],
    ['a port the service does not have', { port: 'admin' }, /registration.port = "admin"/],
    ['a service name that is not DNS-1035', { serviceName: 'Payments' }, /registration.serviceName = "Payments"/],
  ])('rejects %s', (_title, props, message) => {
    expect(() => synced(props)).toThrow(message);
  });

  it('reports every bad field at once', () => {
    let error: unknown;
    try {
      synced({ serviceName: 'Payments', port: 'admin', tags: ['a,b'], meta: { ['k'.repeat(51)]: 'v' } });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(DiscoveryKitValidationError);
    expect((error as DiscoveryKitValidationError).problems.map((p) => p.field)).toEqual([
      'registration.serviceName', 'registration.port', 'registration.tags[0]', 'registration.meta key',
    ]);
  });
});
