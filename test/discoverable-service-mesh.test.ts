import { Duration } from 'cdk8s';
import { describe, expect, it } from 'vitest';
import { ConsulAgentRegistration, ConsulMeshControlPlane, DiscoverableService, MeshProtocol } from '../lib';
import { expectRejection, rejectionOf } from './support/errors';
import { qualityViolations } from './support/quality';
import { findObject, synthChart, testChart } from './support/synth';

const CONTROL_PLANE: ConsulMeshControlPlane = {
  clusterName: 'consul', namespace: 'consul', grpcPort: 8502, httpPort: 8500,
  podSelector: { 'app.kubernetes.io/name': 'consul', 'app.kubernetes.io/instance': 'consul', 'app.kubernetes.io/component': 'server' },
};
const servers = {
  namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'consul' } },
  podSelector: { matchLabels: CONTROL_PLANE.podSelector },
};

describe('DiscoverableServices in the Consul mesh with circuit breaking', () => {
  const chart = testChart();
  const payment = new DiscoverableService(chart, 'payment-service', {
    image: 'ghcr.io/acme/payment-service:1.8.2',
    meshControlPlane: CONTROL_PLANE,
    circuitBreaker: { protocol: MeshProtocol.HTTP },
  });
  const order = new DiscoverableService(chart, 'order-service', {
    image: 'ghcr.io/acme/order-service:2.3.0',
    meshControlPlane: CONTROL_PLANE,
    circuitBreaker: {
      protocol: MeshProtocol.HTTP,
      overrides: {
        'payment-service': {
          limits: { maxConnections: 100, maxPendingRequests: 50 },
          passiveHealthCheck: { interval: Duration.seconds(10), maxFailures: 5, maxEjectionPercent: 50, baseEjectionTime: Duration.seconds(30) },
        },
      },
    },
  });
  order.discover(payment);
  const objects = synthChart(chart);

  it('emits ServiceDefaults named after each service, checked against the CRD schema', () => {
    expect(findObject(objects, 'ServiceDefaults', 'payment-service', 'production').spec.protocol).toBe('http');
    const override = findObject(objects, 'ServiceDefaults', 'order-service', 'production').spec.upstreamConfig.overrides
      .find((o: any) => o.name === 'payment-service');
    expect(override.passiveHealthCheck).toMatchObject({ maxFailures: 5, maxEjectionPercent: 50, interval: '10s', baseEjectionTime: '30s' });
  });

  it("puts the pods in the mesh and lets consul-k8s's init container and sidecar reach the servers over gRPC and the HTTP API", () => {
    for (const name of ['payment-service', 'order-service']) {
      const deployment = findObject(objects, 'Deployment', name);
      expect(deployment.spec.template.metadata.annotations).toEqual({ 'consul.hashicorp.com/connect-inject': 'true' });
      expect(deployment.spec.template.metadata.labels['discovery-kit.io/consul-mesh']).toBe('consul');
      expect(deployment.spec.template.metadata.labels['discovery-kit.io/consul-client']).toBeUndefined();
      expect(deployment.spec.selector.matchLabels['discovery-kit.io/consul-mesh']).toBeUndefined();
      expect(findObject(objects, 'NetworkPolicy', name).spec.egress).toContainEqual({
        to: [servers], ports: [{ port: 8502, protocol: 'TCP' }, { port: 8500, protocol: 'TCP' }],
      });
    }
  });

  it('mounts the service account token on mesh pods only (consul-k8s logs them in with it) and leaves their DNS to consul-k8s', () => {
    for (const name of ['payment-service', 'order-service']) {
      const pod = findObject(objects, 'Deployment', name).spec.template.spec;
      expect(pod.automountServiceAccountToken).toBe(true);
      expect(pod.serviceAccountName).toBe(name);
      expect(pod.dnsConfig).toBeUndefined();
    }
    const chart = testChart();
    new DiscoverableService(chart, 'plain', { image: 'ghcr.io/acme/plain:1.0.0' });
    const plain = findObject(synthChart(chart), 'Deployment', 'plain').spec.template.spec;
    expect(plain.automountServiceAccountToken).toBe(false);
    expect(plain.dnsConfig).toEqual({ options: [{ name: 'ndots', value: '4' }] });
  });

  it('allows exactly the bound consumers with one ServiceIntentions per destination', () => {
    expect(findObject(objects, 'ServiceIntentions', 'payment-service', 'production').spec).toEqual({
      destination: { name: 'payment-service' },
      sources: [{ name: 'order-service', action: 'allow' }],
    });
    expect(objects.filter((o) => o.kind === 'ServiceIntentions').map((o) => o.metadata.name)).toEqual(['payment-service']);
  });

  it('gathers every consumer of a destination into its one ServiceIntentions, sorted', () => {
    const chart = testChart();
    const mesh = (name: string) => new DiscoverableService(chart, name, {
      image: `ghcr.io/acme/${name}:1.0.0`, meshControlPlane: CONTROL_PLANE, circuitBreaker: { protocol: MeshProtocol.HTTP },
    });
    const target = mesh('inventory');
    mesh('web').discover(target);
    mesh('checkout').discover(target);
    expect(findObject(synthChart(chart), 'ServiceIntentions', 'inventory').spec.sources).toEqual([
      { name: 'checkout', action: 'allow' }, { name: 'web', action: 'allow' },
    ]);
  });

  it("opens only the sidecar's public listener between consumer and target, never the app port", () => {
    expect(findObject(objects, 'NetworkPolicy', 'payment-service').spec.ingress).toEqual([
      { from: [order.podPeer], ports: [{ port: 20000, protocol: 'TCP' }] },
    ]);
    expect(findObject(objects, 'NetworkPolicy', 'order-service').spec.egress).toContainEqual({ to: [payment.podPeer], ports: [{ port: 20000, protocol: 'TCP' }] });
  });

  it('passes the manifest-quality suite', () => {
    expect(qualityViolations(objects)).toEqual([]);
  });
});

describe('mesh rules rejected at synth time', () => {
  const MESH = { image: 'ghcr.io/acme/payment-service:1.8.2', meshControlPlane: CONTROL_PLANE, circuitBreaker: { protocol: MeshProtocol.HTTP } };

  it('L7-only limits on a tcp service', () => {
    const error = rejectionOf((chart) => new DiscoverableService(chart, 'tcp-service', {
      ...MESH, circuitBreaker: { protocol: MeshProtocol.TCP, limits: { maxPendingRequests: 10 } },
    }));
    expectRejection(error, "DiscoverableService 'test/tcp-service'", 'circuitBreaker.limits.maxPendingRequests', /tcp/);
  });

  it('a mesh service without the control plane its sidecar needs', () => {
    const error = rejectionOf((chart) => new DiscoverableService(chart, 'payment-service', { ...MESH, meshControlPlane: undefined }));
    expectRejection(error, "DiscoverableService 'test/payment-service'", 'meshControlPlane', /is required: the Consul servers the mesh sidecar connects to/);
  });

  it('a mesh service that also registers with Consul (connect-inject registers it)', () => {
    const agent = { url: 'http://consul-agent.consul.svc.cluster.local:8500', port: 8500, clusterName: 'consul', namespace: 'consul', podSelector: { app: 'consul-agent' } };
    const error = rejectionOf((chart) => new DiscoverableService(chart, 'payment-service', { ...MESH, registration: new ConsulAgentRegistration({ agent }) }));
    expectRejection(error, "DiscoverableService 'test/payment-service'", 'registration', /connect-inject registers it/);
  });

  it('a consumer outside the mesh discovering a mesh service', () => {
    const chart = testChart();
    const payment = new DiscoverableService(chart, 'payment-service', MESH);
    const order = new DiscoverableService(chart, 'order-service', { image: 'ghcr.io/acme/order-service:2.3.0' });
    expect(() => order.discover(payment)).toThrow(/DiscoverableService 'test\/order-service': discover = "payment-service" is invalid: must be a mesh service/);
  });
});
