import { ApiObject, Duration } from 'cdk8s';
import { describe, expect, it } from 'vitest';
import { DiscoverableService, MeshProtocol } from '../lib';
import { qualityViolations } from './support/quality';
import { findObject, synthChart, testChart } from './support/synth';

describe('a DiscoverableService with circuit breaking', () => {
  const chart = testChart();
  const payment = new DiscoverableService(chart, 'payment-service', {
    image: 'ghcr.io/acme/payment-service:1.8.2',
    circuitBreaker: {
      protocol: MeshProtocol.HTTP,
      limits: { maxConnections: 100, maxPendingRequests: 50 },
      passiveHealthCheck: { interval: Duration.seconds(10), maxFailures: 5, maxEjectionPercent: 50, baseEjectionTime: Duration.seconds(30) },
    },
  });
  const order = new DiscoverableService(chart, 'order-service', { image: 'ghcr.io/acme/order-service:2.3.0' });
  order.discover(payment);
  const objects = synthChart(chart);

  it('emits ServiceDefaults named after the service, checked against the CRD schema', () => {
    const defaults = findObject(objects, 'ServiceDefaults', 'payment-service', 'production');
    expect(defaults.spec.protocol).toBe('http');
    expect(defaults.spec.upstreamConfig.defaults.passiveHealthCheck).toMatchObject({ maxFailures: 5, maxEjectionPercent: 50, interval: '10s', baseEjectionTime: '30s' });
    expect(defaults.metadata.labels?.['app.kubernetes.io/name']).toBe('payment-service');
  });

  it('puts the pods in the mesh without touching the selector', () => {
    const deployment = findObject(objects, 'Deployment', 'payment-service');
    expect(deployment.spec.template.metadata.annotations).toEqual({ 'consul.hashicorp.com/connect-inject': 'true' });
    expect(findObject(objects, 'Deployment', 'order-service').spec.template.metadata.annotations).toBeUndefined();
  });

  it("lets consumers reach the sidecar's public listener as well as the app port", () => {
    expect(findObject(objects, 'NetworkPolicy', 'payment-service').spec.ingress[0].ports).toEqual([
      { port: 8080, protocol: 'TCP' }, { port: 20000, protocol: 'TCP' },
    ]);
    expect(findObject(objects, 'NetworkPolicy', 'order-service').spec.egress[1].ports).toEqual([
      { port: 8080, protocol: 'TCP' }, { port: 20000, protocol: 'TCP' },
    ]);
  });

  it('passes the manifest-quality suite', () => {
    expect(qualityViolations(objects)).toEqual([]);
  });

  it('rejects L7-only limits on a tcp service before creating anything', () => {
    const other = testChart();
    expect(() => new DiscoverableService(other, 'tcp-service', {
      image: 'ghcr.io/acme/tcp:1.0.0',
      circuitBreaker: { protocol: MeshProtocol.TCP, limits: { maxPendingRequests: 10 } },
    })).toThrow(/DiscoverableService 'test\/tcp-service': circuitBreaker.limits.maxPendingRequests/);
    expect(other.node.findAll().filter((c) => c instanceof ApiObject)).toEqual([]);
  });
});
