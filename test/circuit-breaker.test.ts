import { Duration } from 'cdk8s';
import { Construct } from 'constructs';
import { describe, expect, it } from 'vitest';
import { CONSUL_CONNECT_INJECT_ANNOTATION, CONSUL_MESH_POD_SECURITY_NOTE, CircuitBreakerOptions, ConsulServiceDefaults, ConsulServiceResolver, DiscoveryKitValidationError, MeshProtocol } from '../lib';
import { recommendedLabels } from '../lib/core/labels';
import { parseGoDuration } from './support/go-duration';
import { addCircuitBreaker } from '../lib/mesh/service-defaults';
import { registerConsulCrdValidators } from './support/consul-crds';
import { qualityViolations } from './support/quality';
import { KubeObject, validateSchema } from './support/schema';
import { findObject, synthChart, testChart } from './support/synth';

registerConsulCrdValidators();

const SERVICE = 'payment-service';
const LABELS = { ...recommendedLabels({ name: SERVICE, instance: SERVICE, version: '1.8.2' }), team: 'payments' };

const FULL: CircuitBreakerOptions = {
  protocol: MeshProtocol.HTTP,
  connectTimeout: Duration.seconds(2),
  limits: { maxConnections: 100, maxPendingRequests: 50, maxConcurrentRequests: 200 },
  passiveHealthCheck: {
    interval: Duration.seconds(10), maxFailures: 5, enforcingConsecutive5xx: 80, maxEjectionPercent: 50, baseEjectionTime: Duration.seconds(30),
  },
  overrides: {
    'inventory-service': { connectTimeout: Duration.millis(1500), passiveHealthCheck: { maxFailures: 3, baseEjectionTime: Duration.minutes(1) } },
    'ledger-db': { protocol: MeshProtocol.TCP, limits: { maxConnections: 20 } },
  },
  resolver: { connectTimeout: Duration.seconds(3), requestTimeout: Duration.seconds(20), failover: { datacenters: ['dc2', 'dc3'] } },
};

/** Synthesizes the config entries of `options` for payment-service in namespace production. */
function synth(options: CircuitBreakerOptions) {
  const chart = testChart();
  const resources = addCircuitBreaker(new Construct(chart, SERVICE), { serviceName: SERVICE, namespace: 'production', labels: LABELS, options });
  return { resources, objects: synthChart(chart) };
}

const overrideNamed = (spec: any, name: string) => spec.upstreamConfig.overrides.find((o: any) => o.name === name);

describe('circuit breaking for an HTTP mesh service', () => {
  const { resources, objects } = synth(FULL);
  const defaults = findObject(objects, 'ServiceDefaults', SERVICE, 'production');
  const resolver = findObject(objects, 'ServiceResolver', SERVICE, 'production');

  it('matches the reviewed manifests', () => {
    expect(objects).toMatchSnapshot();
  });

  it('creates one ServiceDefaults and one ServiceResolver named after the Consul service', () => {
    expect(objects.map((o) => `${o.apiVersion} ${o.kind}/${o.metadata.namespace}/${o.metadata.name}`).sort()).toEqual([
      'consul.hashicorp.com/v1alpha1 ServiceDefaults/production/payment-service',
      'consul.hashicorp.com/v1alpha1 ServiceResolver/production/payment-service',
    ]);
    for (const o of objects) expect(o.metadata.labels).toEqual(LABELS);
    expect(qualityViolations(objects)).toEqual([]);
  });

  it('sets the protocol and the service-wide upstream settings', () => {
    expect(defaults.spec.protocol).toBe('http');
    expect(defaults.spec.upstreamConfig.defaults).toEqual({
      connectTimeoutMs: 2000,
      limits: { maxConnections: 100, maxPendingRequests: 50, maxConcurrentRequests: 200 },
      passiveHealthCheck: { interval: '10s', maxFailures: 5, enforcingConsecutive5xx: 80, maxEjectionPercent: 50, baseEjectionTime: '30s' },
    });
  });

  it('writes durations as Go duration strings Consul parses back to the same time', () => {
    const check = overrideNamed(defaults.spec, 'inventory-service').passiveHealthCheck;
    expect(check.baseEjectionTime).toBe('1m');
    expect(parseGoDuration(check.baseEjectionTime)).toBe(60_000);
    expect(parseGoDuration(resolver.spec.connectTimeout)).toBe(3000);
    expect(parseGoDuration(resolver.spec.requestTimeout)).toBe(20_000);
  });

  it('overrides upstreams by name, with only the settings given', () => {
    expect(defaults.spec.upstreamConfig.overrides.map((o: any) => o.name).sort()).toEqual(['inventory-service', 'ledger-db']);
    expect(overrideNamed(defaults.spec, 'inventory-service')).toEqual({
      name: 'inventory-service', connectTimeoutMs: 1500, passiveHealthCheck: { maxFailures: 3, baseEjectionTime: '1m' },
    });
    expect(overrideNamed(defaults.spec, 'ledger-db')).toEqual({ name: 'ledger-db', protocol: 'tcp', limits: { maxConnections: 20 } });
  });

  it('sets how consumers connect to the service and where they fail over', () => {
    expect(resolver.spec).toEqual({ connectTimeout: '3s', requestTimeout: '20s', failover: { '*': { datacenters: ['dc2', 'dc3'] } } });
  });

  it('returns the constructs and the pod annotation that joins the mesh', () => {
    expect(resources.serviceDefaults.node.path).toBe('test/payment-service/consul-service-defaults');
    expect(resources.serviceResolver?.node.path).toBe('test/payment-service/consul-service-resolver');
    expect(resources.podAnnotations).toEqual({ [CONSUL_CONNECT_INJECT_ANNOTATION]: 'true' });
    expect(CONSUL_CONNECT_INJECT_ANNOTATION).toBe('consul.hashicorp.com/connect-inject');
    expect(CONSUL_MESH_POD_SECURITY_NOTE).toMatch(/connectInject\.cni\.enabled=true.*NET_ADMIN/);
  });
});

describe('minimal and standalone config entries', () => {
  it('writes only the protocol, and no ServiceResolver, when nothing else is set', () => {
    const { resources, objects } = synth({ protocol: MeshProtocol.GRPC });
    expect(objects.map((o) => o.kind)).toEqual(['ServiceDefaults']);
    expect(objects[0].spec).toEqual({ protocol: 'grpc' });
    expect(resources.serviceResolver).toBeUndefined();
  });

  it('accepts connection limits and failover targets for a TCP service', () => {
    const { objects } = synth({
      protocol: MeshProtocol.TCP,
      limits: { maxConnections: 10 },
      resolver: { failover: { targets: [{ service: 'payment-service-dr', datacenter: 'dc2' }, { peer: 'cluster-b' }] } },
    });
    expect(findObject(objects, 'ServiceDefaults', SERVICE).spec).toEqual({ protocol: 'tcp', upstreamConfig: { defaults: { limits: { maxConnections: 10 } } } });
    expect(findObject(objects, 'ServiceResolver', SERVICE).spec.failover['*'].targets).toEqual([
      { service: 'payment-service-dr', datacenter: 'dc2' }, { peer: 'cluster-b' },
    ]);
  });

  it('names standalone entries after the construct id, in the chart namespace, with recommended labels', () => {
    const chart = testChart('shop');
    new ConsulServiceDefaults(chart, 'cart', { protocol: MeshProtocol.HTTP2, labels: { team: 'shop' } });
    new ConsulServiceResolver(chart, 'cart-resolver', { serviceName: 'cart', protocol: MeshProtocol.HTTP2, connectTimeout: Duration.seconds(1) });
    const objects = synthChart(chart);
    const defaults = findObject(objects, 'ServiceDefaults', 'cart', 'shop');
    expect(defaults.metadata.labels).toEqual({ team: 'shop', ...recommendedLabels({ name: 'cart', instance: 'cart' }) });
    expect(findObject(objects, 'ServiceResolver', 'cart', 'shop').spec).toEqual({ connectTimeout: '1s' });
  });

  it('names the standalone construct and the unprefixed field in errors', () => {
    const chart = testChart();
    expect(() => new ConsulServiceDefaults(chart, 'cart', { protocol: MeshProtocol.TCP, limits: { maxPendingRequests: 5 } }))
      .toThrow("ConsulServiceDefaults 'test/cart': limits.maxPendingRequests = 5 is invalid: is only respected for L7 protocols");
  });
});

describe('the consul-k8s CRD schemas', () => {
  const { objects } = synth(FULL);
  const mutated = (kind: string, change: (spec: any) => void): KubeObject => {
    const copy = structuredClone(findObject(objects, kind, SERVICE));
    change(copy.spec);
    return copy;
  };

  it('accept the synthesized objects', () => {
    for (const o of objects) expect(() => validateSchema(o)).not.toThrow();
  });

  it('reject a wrong type', () => {
    expect(() => validateSchema(mutated('ServiceDefaults', (s) => { s.upstreamConfig.defaults.limits.maxConnections = '100'; })))
      .toThrow(/ServiceDefaults production\/payment-service does not match.*\/spec\/upstreamConfig\/defaults\/limits\/maxConnections must be integer/);
    expect(() => validateSchema(mutated('ServiceResolver', (s) => { s.failover['*'].datacenters = 'dc2'; })))
      .toThrow(/\/spec\/failover\/\*\/datacenters must be array/);
  });

  it('reject a field the CRD would prune, such as the snake_case name of an old consul-k8s release', () => {
    expect(() => validateSchema(mutated('ServiceDefaults', (s) => { s.upstreamConfig.defaults.passiveHealthCheck.enforcing_consecutive_5xx = 60; })))
      .toThrow(/passiveHealthCheck must NOT have additional properties \('enforcing_consecutive_5xx'\)/);
    expect(() => validateSchema(mutated('ServiceResolver', (s) => { s.connectTimeoutMs = 3000; })))
      .toThrow(/\/spec must NOT have additional properties \('connectTimeoutMs'\)/);
  });

  it('reject an int32 field out of range', () => {
    expect(() => validateSchema(mutated('ServiceDefaults', (s) => { s.upstreamConfig.defaults.passiveHealthCheck.maxFailures = 2 ** 31; })))
      .toThrow(/maxFailures must match format "int32"/);
  });

  it('keep fields the CRD declares open, and stay registered when registered again', () => {
    registerConsulCrdValidators();
    const withExtension = mutated('ServiceDefaults', (s) => { s.envoyExtensions = [{ name: 'builtin/lua', arguments: { anything: { goes: 1 } } }]; });
    expect(() => validateSchema(withExtension)).not.toThrow();
    expect(() => validateSchema(mutated('ServiceDefaults', (s) => { s.protocl = 'http'; }))).toThrow(/'protocl'/);
  });
});

/** Runs addCircuitBreaker with `options` and returns the synth-time error. */
function errorOf(options: Partial<CircuitBreakerOptions>, serviceName = SERVICE): DiscoveryKitValidationError {
  const scope = new Construct(testChart(), SERVICE);
  try {
    addCircuitBreaker(scope, { serviceName, namespace: 'production', labels: LABELS, options: { protocol: MeshProtocol.HTTP, ...options } });
  } catch (error) {
    expect(error).toBeInstanceOf(DiscoveryKitValidationError);
    // Validated before anything is created: no config entry half-added.
    expect(scope.node.children).toEqual([]);
    return error as DiscoveryKitValidationError;
  }
  throw new Error(`expected ${JSON.stringify(options)} to be rejected`);
}

describe('circuit breaker options are rejected at synth time', () => {
  const tcp = MeshProtocol.TCP;
  const cases: [string, Partial<CircuitBreakerOptions>, string, RegExp][] = [
    ['maxPendingRequests for tcp', { protocol: tcp, limits: { maxPendingRequests: 10 } }, 'circuitBreaker.limits.maxPendingRequests', /10 is invalid: is only respected for L7 protocols.*tcp/],
    ['maxConcurrentRequests for tcp', { protocol: tcp, limits: { maxConcurrentRequests: 10 } }, 'circuitBreaker.limits.maxConcurrentRequests', /L7 protocols/],
    ['L7 limit for a tcp upstream', { overrides: { 'ledger-db': { protocol: tcp, limits: { maxConcurrentRequests: 10 } } } }, 'circuitBreaker.overrides.ledger-db.limits.maxConcurrentRequests', /L7 protocols/],
    ['requestTimeout for tcp', { protocol: tcp, resolver: { requestTimeout: Duration.seconds(5) } }, 'circuitBreaker.resolver.requestTimeout', /5s.*L7 protocols/],
    ['unknown protocol', { protocol: 'udp' as MeshProtocol }, 'circuitBreaker.protocol', /"udp".*one of tcp, http, http2, grpc/],
    ['unknown upstream protocol', { overrides: { 'ledger-db': { protocol: 'mysql' as MeshProtocol, connectTimeout: Duration.seconds(1) } } }, 'circuitBreaker.overrides.ledger-db.protocol', /one of tcp/],
    ['enforcing percentage above 100', { passiveHealthCheck: { enforcingConsecutive5xx: 101 } }, 'circuitBreaker.passiveHealthCheck.enforcingConsecutive5xx', /101.*from 0 to 100/],
    ['negative ejection percentage', { passiveHealthCheck: { maxEjectionPercent: -1 } }, 'circuitBreaker.passiveHealthCheck.maxEjectionPercent', /from 0 to 100/],
    ['fractional percentage', { passiveHealthCheck: { maxEjectionPercent: 12.5 } }, 'circuitBreaker.passiveHealthCheck.maxEjectionPercent', /integer/],
    ['zero maxFailures', { passiveHealthCheck: { maxFailures: 0 } }, 'circuitBreaker.passiveHealthCheck.maxFailures', /an integer from 1/],
    ['zero maxConnections', { limits: { maxConnections: 0 } }, 'circuitBreaker.limits.maxConnections', /from 1 to 2147483647/],
    ['count beyond int32', { limits: { maxConnections: 2 ** 31 } }, 'circuitBreaker.limits.maxConnections', /2147483648.*to 2147483647/],
    ['zero interval', { passiveHealthCheck: { interval: Duration.seconds(0) } }, 'circuitBreaker.passiveHealthCheck.interval', /= 0s is invalid: must be from 1ms to 2147483647ms/],
    ['sub-millisecond ejection time', { passiveHealthCheck: { baseEjectionTime: Duration.millis(0.5) } }, 'circuitBreaker.passiveHealthCheck.baseEjectionTime', /= 0.0005s is invalid: must be a whole number of milliseconds/],
    ['zero connect timeout', { connectTimeout: Duration.millis(0) }, 'circuitBreaker.connectTimeout', /must be from 1ms/],
    ['empty limits', { limits: {} }, 'circuitBreaker.limits', /at least one limit/],
    ['empty passive health check', { passiveHealthCheck: {} }, 'circuitBreaker.passiveHealthCheck', /at least one field/],
    ['upstream name not a DNS-1035 label', { overrides: { Inventory: { connectTimeout: Duration.seconds(1) } } }, 'circuitBreaker.overrides key', /"Inventory".*DNS-1035/],
    ['override without settings', { overrides: { 'inventory-service': {} } }, 'circuitBreaker.overrides.inventory-service', /at least one of connectTimeout, limits or passiveHealthCheck/],
    ['empty resolver', { resolver: {} }, 'circuitBreaker.resolver', /at least one of connectTimeout, requestTimeout or failover/],
    ['datacenter not a DNS label', { resolver: { failover: { datacenters: ['DC_2'] } } }, 'circuitBreaker.resolver.failover.datacenters[0]', /"DC_2".*RFC 1123/],
    ['duplicate datacenter', { resolver: { failover: { datacenters: ['dc2', 'dc2'] } } }, 'circuitBreaker.resolver.failover.datacenters[1]', /"dc2".*unique: circuitBreaker.resolver.failover.datacenters\[0\]/],
    ['datacenters and targets', { resolver: { failover: { datacenters: ['dc2'], targets: [{ peer: 'b' }] } } }, 'circuitBreaker.resolver.failover', /not both/],
    ['empty failover', { resolver: { failover: { datacenters: [] } } }, 'circuitBreaker.resolver.failover', /at least one datacenter or target/],
    ['target with datacenter and peer', { resolver: { failover: { targets: [{ datacenter: 'dc2', peer: 'b' }] } } }, 'circuitBreaker.resolver.failover.targets[0]', /datacenter or peer, not both/],
    ['empty target', { resolver: { failover: { targets: [{}] } } }, 'circuitBreaker.resolver.failover.targets[0]', /at least one of service, datacenter or peer/],
    ['target service not a DNS-1035 label', { resolver: { failover: { targets: [{ service: '1payment' }] } } }, 'circuitBreaker.resolver.failover.targets[0].service', /DNS-1035/],
  ];

  it.each(cases)('%s', (_title, options, field, message) => {
    const error = errorOf(options);
    expect(error.field).toBe(field);
    expect(error.message).toContain(`Construct 'test/payment-service': ${field} = `);
    expect(error.message).toMatch(message);
  });

  it('reports every bad option at once, across defaults, overrides and the resolver', () => {
    const error = errorOf({
      protocol: tcp,
      limits: { maxPendingRequests: 10, maxConnections: 0 },
      passiveHealthCheck: { maxEjectionPercent: 101 },
      overrides: { 'ledger-db': { connectTimeout: Duration.millis(0) } },
      resolver: { requestTimeout: Duration.seconds(5), failover: { datacenters: [] } },
    });
    expect(error.problems.map((p) => p.field)).toEqual([
      'circuitBreaker.limits.maxPendingRequests', 'circuitBreaker.limits.maxConnections', 'circuitBreaker.passiveHealthCheck.maxEjectionPercent',
      'circuitBreaker.overrides.ledger-db.connectTimeout', 'circuitBreaker.resolver.requestTimeout', 'circuitBreaker.resolver.failover',
    ]);
  });

  it('rejects a Consul service name that is not a DNS-1035 label', () => {
    expect(errorOf({}, 'Payment').field).toBe('serviceName');
  });
});
