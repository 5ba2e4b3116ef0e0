import { JsonPatch } from 'cdk8s';
import { describe, expect, it } from 'vitest';
import { CircuitBreakerOptions, DiscoverableService, Gateway, MeshProtocol, PortProtocol } from '../lib';
import { findObject, synthChart, testChart } from './support/synth';
import { validationErrorOf } from './support/errors';

const IMAGE = 'ghcr.io/acme/payment-service:1.8.2';
const EDGE = { name: 'edge', namespace: 'gateway', podSelector: { 'gateway.networking.k8s.io/gateway-name': 'edge' } };
const gatewayPods = {
  namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'gateway' } },
  podSelector: { matchLabels: { 'gateway.networking.k8s.io/gateway-name': 'edge' } },
};

function payment(chart = testChart()): DiscoverableService {
  return new DiscoverableService(chart, 'payment-service', {
    image: IMAGE,
    ports: [{ name: 'http', port: 8080, containerPort: 8081 }, { name: 'grpc', port: 9090, appProtocol: 'grpc' }, { name: 'metrics', port: 9100 }],
  });
}

describe('DiscoverableService.exposeVia', () => {
  it('attaches an HTTPRoute in the service namespace to the Gateway, backed by the ClusterIP Service port', () => {
    const chart = testChart();
    const service = payment(chart);
    service.exposeVia(Gateway.fromAttributes({ ...EDGE, sectionName: 'https' }), {
      hostnames: ['pay.example.com'], matches: [{ pathPrefix: '/api', method: 'POST', headers: { 'x-tenant': 'acme' } }, { exactPath: '/healthz' }],
    });
    const objects = synthChart(chart);
    const route = findObject(objects, 'HTTPRoute', 'payment-service-http', 'production');
    expect(route.apiVersion).toBe('gateway.networking.k8s.io/v1');
    expect(route.spec).toEqual({
      parentRefs: [{ name: 'edge', namespace: 'gateway', sectionName: 'https' }],
      hostnames: ['pay.example.com'],
      rules: [{
        matches: [
          { path: { type: 'PathPrefix', value: '/api' }, method: 'POST', headers: [{ name: 'x-tenant', value: 'acme' }] },
          { path: { type: 'Exact', value: '/healthz' } },
        ],
        backendRefs: [{ name: 'payment-service', port: 8080 }],
      }],
    });
    expect(route.metadata.labels).toEqual(findObject(objects, 'Service', 'payment-service').metadata.labels);
    expect(objects.filter((o) => o.kind === 'ReferenceGrant')).toEqual([]);
  });

  it("admits the Gateway's pods to exactly the exposed port's container port", () => {
    const chart = testChart();
    payment(chart).exposeVia(Gateway.fromAttributes(EDGE));
    const policy = findObject(synthChart(chart), 'NetworkPolicy', 'payment-service');
    expect(policy.spec.ingress).toEqual([{ from: [gatewayPods], ports: [{ port: 8081, protocol: 'TCP' }] }]);
  });

  it('makes a GRPCRoute for a grpc port', () => {
    const chart = testChart();
    payment(chart).exposeVia(Gateway.fromAttributes(EDGE), { port: 'grpc', matches: [{ grpcService: 'payments.v1.Payments', grpcMethod: 'Charge' }] });
    const objects = synthChart(chart);
    expect(findObject(objects, 'GRPCRoute', 'payment-service-grpc').spec.rules).toEqual([{
      matches: [{ method: { service: 'payments.v1.Payments', method: 'Charge' } }],
      backendRefs: [{ name: 'payment-service', port: 9090 }],
    }]);
    expect(findObject(objects, 'NetworkPolicy', 'payment-service').spec.ingress[0].ports).toEqual([{ port: 9090, protocol: 'TCP' }]);
  });

  it("puts the route in the Gateway's route namespace and grants it exactly this Service", () => {
    const chart = testChart();
    payment(chart).exposeVia(Gateway.fromAttributes({ ...EDGE, routeNamespace: 'gateway' }));
    const objects = synthChart(chart);
    const route = findObject(objects, 'HTTPRoute', 'payment-service-http', 'gateway');
    expect(route.spec.rules[0].backendRefs).toEqual([{ name: 'payment-service', namespace: 'production', port: 8080 }]);
    expect(findObject(objects, 'ReferenceGrant', 'gateway-payment-service-http', 'production').spec).toEqual({
      from: [{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', namespace: 'gateway' }],
      to: [{ group: '', kind: 'Service', name: 'payment-service' }],
    });
  });

  it('reports every bad option at once, before creating anything', () => {
    const chart = testChart();
    const service = payment(chart);
    const before = chart.node.findAll().length;
    const error = validationErrorOf(() => service.exposeVia(Gateway.fromAttributes(EDGE), {
      routeName: 'Bad_Name', hostnames: ['10.0.0.1:80'],
      matches: [{ pathPrefix: 'api', grpcService: 'x.Y' }, { method: 'FETCH' as never, headers: { 'bad header': 'x' } }],
    }));
    expect(error.problems.map((p) => p.field)).toEqual([
      'exposeVia.routeName', 'exposeVia.hostnames[0]', 'exposeVia.matches[0]', 'exposeVia.matches[0].pathPrefix',
      'exposeVia.matches[1].method', 'exposeVia.matches[1].headers',
    ]);
    expect(chart.node.findAll().length).toBe(before);
  });

  it('refuses ports a Gateway API standard route cannot carry, repeated routes and mesh services', () => {
    const chart = testChart();
    const service = new DiscoverableService(chart, 'dns', { image: IMAGE, ports: [{ name: 'http', port: 8080 }, { name: 'dns', port: 53, protocol: PortProtocol.UDP, appProtocol: 'dns' }] });
    expect(validationErrorOf(() => service.exposeVia(Gateway.fromAttributes(EDGE), { port: 'dns' })).message)
      .toContain("exposeVia.port = \"dns\" is invalid: must be a TCP port with appProtocol 'http' (HTTPRoute) or 'grpc' (GRPCRoute), not UDP 'dns'");
    service.exposeVia(Gateway.fromAttributes(EDGE));
    expect(validationErrorOf(() => service.exposeVia(Gateway.fromAttributes(EDGE))).field).toBe('exposeVia.routeName');
    const plane = { clusterName: 'consul', namespace: 'consul', podSelector: { app: 'consul' }, grpcPort: 8502, httpPort: 8500 };
    const mesh = new DiscoverableService(chart, 'mesh', { image: IMAGE, meshControlPlane: plane, circuitBreaker: { protocol: MeshProtocol.HTTP } satisfies CircuitBreakerOptions });
    expect(validationErrorOf(() => mesh.exposeVia(Gateway.fromAttributes(EDGE))).allowed).toMatch(/sidecar accepts only mTLS/);
  });
});

describe('Gateway.fromAttributes', () => {
  it('selects the data-plane pods in podNamespace, defaulting to the Gateway namespace', () => {
    expect(Gateway.fromAttributes(EDGE).podPeer).toEqual(gatewayPods);
    expect(Gateway.fromAttributes({ ...EDGE, podNamespace: 'envoy-gateway-system' }).podPeer.namespaceSelector)
      .toEqual({ matchLabels: { 'kubernetes.io/metadata.name': 'envoy-gateway-system' } });
  });

  it('reports every bad attribute at once', () => {
    const error = validationErrorOf(() => Gateway.fromAttributes({ name: 'Edge', namespace: 'gate way', podSelector: {}, routeNamespace: 'X' }));
    expect(error.problems.map((p) => p.field)).toEqual(['name', 'namespace', 'routeNamespace', 'podSelector']);
  });
});

describe('the offline Gateway API check of synthChart (test/support/gateway-crds.ts)', () => {
  it('rejects a field the CRD does not declare', () => {
    const chart = testChart();
    const route = payment(chart).exposeVia(Gateway.fromAttributes(EDGE));
    route.addJsonPatch(JsonPatch.add('/spec/rules/0/backendRef', { name: 'x' }));
    expect(() => synthChart(chart)).toThrow(/HTTPRoute production\/payment-service-http has fields the HTTPRoute CRD does not declare/);
  });
});
