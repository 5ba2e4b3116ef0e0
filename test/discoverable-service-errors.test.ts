import { Chart, Duration, Testing } from 'cdk8s';
import { describe, expect, it } from 'vitest';
import { DiscoverableService, DiscoverableServiceProps, DiscoveryKitValidationError, EtcdCluster, EtcdLeaseRegistration, HealthSpec, PortProtocol } from '../lib';
import { expectRejection, rejectionOf } from './support/errors';
import { testChart } from './support/synth';

const IMAGE = 'ghcr.io/acme/payment-service:1.8.2';

/** Builds a service with `overrides` and returns the synth-time error. */
function errorOf(overrides: Partial<DiscoverableServiceProps>): DiscoveryKitValidationError {
  return rejectionOf((chart) => new DiscoverableService(chart, 'payment-service', { image: IMAGE, ...overrides }));
}

describe('DiscoverableService rejects bad input at synth time', () => {
  const cases: [string, Partial<DiscoverableServiceProps>, string, RegExp][] = [
    ['uppercase name', { name: 'Payment' }, 'name', /"Payment".*DNS-1035/],
    ['name over 63 chars', { name: 'a'.repeat(64) }, 'name', /DNS-1035 label: 1-63/],
    ['name starting with a digit', { name: '1payment' }, 'name', /starting with a letter/],
    ['name too long for its headless Service', { name: 'a'.repeat(55) }, 'name', /at most 54 characters, so the headless Service/],
    ['bad namespace', { namespace: 'Prod_1' }, 'namespace', /RFC 1123/],
    ['port 0', { ports: [{ name: 'http', port: 0 }] }, 'ports[0].port', /from 1 to 65535/],
    ['port 70000', { ports: [{ name: 'http', port: 70000 }] }, 'ports[0].port', /70000.*from 1 to 65535/],
    ['fractional port', { ports: [{ name: 'http', port: 80.5 }] }, 'ports[0].port', /integer/],
    ['duplicated port number', { ports: [{ name: 'http', port: 8080 }, { name: 'admin', port: 8080 }] }, 'ports[1].port', /"8080\/TCP".*must be unique: ports\[0\]\.port has the same value/],
    ['duplicated port name', { ports: [{ name: 'http', port: 8080 }, { name: 'http', port: 8081 }] }, 'ports[1].name', /"http".*must be unique: ports\[0\]\.name has the same value/],
    ['port name over 15 chars', { ports: [{ name: 'http-managements', port: 8080 }, { name: 'http', port: 80 }] }, 'ports[0].name', /IANA service name: 1-15/],
    ['port name with uppercase', { ports: [{ name: 'HTTP', port: 8080 }] }, 'ports[0].name', /IANA/],
    ['numeric port name', { ports: [{ name: '8080', port: 8080 }] }, 'ports[0].name', /at least one letter/],
    ['no ports', { ports: [] }, 'ports', /at least one/],
    ['image without tag', { image: 'ghcr.io/acme/payment-service' }, 'image', /pinned/],
    ['image tagged latest', { image: 'ghcr.io/acme/payment-service:latest' }, 'image', /other than 'latest'/],
    ['registry port but no tag', { image: 'registry:5000/payment-service' }, 'image', /pinned/],
    ['malformed image', { image: 'ghcr.io/acme/Payment Service:1' }, 'image', /pinned/],
    ['negative replicas', { replicas: -1 }, 'replicas', /-1.*from 0 to 1000/],
    ['fractional replicas', { replicas: 1.5 }, 'replicas', /integer/],
    ['health port over UDP', { ports: [{ name: 'http', port: 8080, protocol: PortProtocol.UDP }] }, 'health.port', /must be a TCP port: HTTP probes cannot reach UDP port 8080/],
    ['health port not declared', { health: HealthSpec.http({ port: 'admin' }) }, 'health.port', /"admin".*one of the declared ports: http/],
    ['probe timeout not below period', { health: HealthSpec.http({ readiness: { timeout: Duration.seconds(5) } }) }, 'health.readiness.timeout', /shorter than health.readiness.period \(5s\)/],
    ['sub-second probe period', { health: HealthSpec.http({ liveness: { period: Duration.millis(500) } }) }, 'health.liveness.period', /0.5s.*whole number of seconds/],
    ['identical liveness and readiness', { health: HealthSpec.http({ liveness: { path: '/health' }, readiness: { path: '/health' } }) }, 'health.liveness.path', /must differ from readiness.path/],
    ['liveness less tolerant than readiness', { health: HealthSpec.http({ liveness: { period: Duration.seconds(3), failureThreshold: 1 } }) }, 'health.liveness', /at least as long as readiness \(15s/],
    ['zero failure threshold', { health: HealthSpec.http({ readiness: { failureThreshold: 0 } }) }, 'health.readiness.failureThreshold', /from 1 to 100/],
    ['relative probe path', { health: HealthSpec.http({ readiness: { path: 'ready' } }) }, 'health.readiness.path', /absolute URL path/],
    ['startup window shorter than its period', { health: HealthSpec.http({ startup: { period: Duration.seconds(10), maxStartupTime: Duration.seconds(5) } }) }, 'health.startup.maxStartupTime', /from 10s/],
    ['preStop delay equal to the grace period', { shutdown: { preStopDelay: Duration.seconds(30) } }, 'shutdown.preStopDelay', /less than the default shutdown.terminationGracePeriod \(30s\); shorten the delay or set a longer terminationGracePeriod/],
    ['preStop delay above the grace period', { shutdown: { preStopDelay: Duration.seconds(20), terminationGracePeriod: Duration.seconds(10) } }, 'shutdown.preStopDelay', /"20s".*less than shutdown.terminationGracePeriod \(10s\)/],
    ['an env reference to a variable defined later', { env: { URL: 'http://$(HOST):80', HOST: 'x' } }, 'env.URL', /references \$\(HOST\), which is not defined before it/],
    ['credential in a plain env var', { env: { DB_PASSWORD: 'hunter2' } }, 'env.DB_PASSWORD', /use secretEnv/],
    ['bad env var name', { env: { 'LOG-LEVEL': 'info' } }, 'env', /C identifier/],
    ['bad quantity', { resources: { limits: { memory: '1GB' } } }, 'resources.limits.memory', /quantity/],
    ['request above limit', { resources: { requests: { cpu: '2' }, limits: { cpu: '1' } } }, 'resources.requests.cpu', /must not exceed resources.limits.cpu \(1\)/],
    ['root user', { runAsUser: 0 }, 'runAsUser', /from 1/],
    ['bad label', { labels: { team: 'pay ments' } }, 'labels["team"]', /63 alphanumerics/],
  ];

  it.each(cases)('%s', (_title, overrides, field, message) => {
    expectRejection(errorOf(overrides), "DiscoverableService 'test/payment-service'", field, message);
  });

  it('does not echo a credential it rejects', () => {
    expect(errorOf({ env: { API_KEY: 's3cr3t-value' } }).message).not.toContain('s3cr3t-value');
  });
});

describe('the consumer binding', () => {
  it('fails on a port the target does not have', () => {
    const chart = testChart();
    const payment = new DiscoverableService(chart, 'payment-service', { image: IMAGE });
    const order = new DiscoverableService(chart, 'order-service', { image: IMAGE });
    expect(() => order.discover(payment, { port: 'grpc' })).toThrow(/DiscoverableService 'test\/payment-service': port = "grpc" is invalid: must name one of the ports of 'payment-service': http/);
  });

  it('fails when a variable would collide with the props', () => {
    const chart = testChart();
    const payment = new DiscoverableService(chart, 'payment-service', { image: IMAGE });
    const order = new DiscoverableService(chart, 'order-service', { image: IMAGE, env: { PAYMENT_SERVICE_URL: 'http://elsewhere' } });
    expect(() => order.discover(payment)).toThrow(/env PAYMENT_SERVICE_URL \(from discover\(payment-service\)\).*env already sets PAYMENT_SERVICE_URL; pass a different envPrefix/);
  });

  it('fails when two bindings would share a prefix', () => {
    const chart = testChart();
    const a = new DiscoverableService(chart, 'payment-service', { image: IMAGE });
    const b = new DiscoverableService(chart, 'billing', { image: IMAGE });
    const order = new DiscoverableService(chart, 'order-service', { image: IMAGE });
    order.discover(a, { envPrefix: 'UPSTREAM' });
    expect(() => order.discover(b, { envPrefix: 'UPSTREAM' })).toThrow(/discover\(payment-service\) already sets UPSTREAM_URL/);
  });

  it('rejects a prefix that is not a C identifier', () => {
    const chart = testChart();
    const a = new DiscoverableService(chart, 'payment-service', { image: IMAGE });
    const order = new DiscoverableService(chart, 'order-service', { image: IMAGE });
    expect(() => order.discover(a, { envPrefix: '1PAY' })).toThrow(/discover.envPrefix = "1PAY"/);
  });

  it('rejects a service discovering itself, before changing anything', () => {
    const chart = testChart();
    const order = new DiscoverableService(chart, 'order-service', { image: IMAGE });
    expect(() => order.discover(order)).toThrow(/DiscoverableService 'test\/order-service': discover = "order-service" is invalid: must name another service/);
    expect(order.envNames).toEqual([]);
  });

  it('calls a repeated binding a duplicate instead of suggesting envPrefix', () => {
    const chart = testChart();
    const payment = new DiscoverableService(chart, 'payment-service', { image: IMAGE });
    const order = new DiscoverableService(chart, 'order-service', { image: IMAGE });
    order.discover(payment);
    const error = (() => { try { order.discover(payment); } catch (e) { return e as Error; } throw new Error('accepted'); })();
    expect(error.message).toMatch(/discover = "payment-service" is invalid: must not repeat a binding: 'order-service' already discovers 'payment-service' \(port http, envPrefix PAYMENT_SERVICE\); remove the second call/);
    expect(error.message).not.toContain('envPrefix =');
  });

  it('says how to fix a POD_NAMESPACE collision (envPrefix cannot rename it)', () => {
    const chart = testChart();
    const payment = new DiscoverableService(chart, 'payment-service', { image: IMAGE });
    const order = new DiscoverableService(chart, 'order-service', { image: IMAGE, env: { POD_NAMESPACE: 'production' } });
    expect(() => order.discover(payment)).toThrow(/env POD_NAMESPACE \(from discover\(payment-service\)\).*env already sets POD_NAMESPACE; every binding sets it from the downward API.*remove it from env or secretEnv$/);
    // Nothing of the rejected binding was added.
    expect(order.envNames).toEqual(['POD_NAMESPACE']);
  });
});

describe('the grace period and the registration hook', () => {
  const etcd = { clientEndpoints: ['http://etcd-client.etcd.svc.cluster.local:2379'], clusterName: 'etcd', namespace: 'etcd', podSelector: { app: 'etcd' }, clientPort: 2379 };

  it('names the grace period the user set when the hook needs longer', () => {
    expectRejection(errorOf({ registration: new EtcdLeaseRegistration({ cluster: etcd }), shutdown: { terminationGracePeriod: Duration.seconds(10) } }),
      "DiscoverableService 'test/payment-service'", 'shutdown.terminationGracePeriod', /"10s".*must exceed the 15s the registration hook may need to deregister: set shutdown.terminationGracePeriod to at least 16s/);
  });

  it('accepts the default grace period with a hook that fits in it', () => {
    new DiscoverableService(testChart(), 'payment-service', { image: IMAGE, registration: new EtcdLeaseRegistration({ cluster: etcd }) });
  });
});

describe('names are unique per namespace across the whole App', () => {
  it('rejects a second service of the same name in one namespace, naming both construct paths', () => {
    const app = Testing.app();
    const one = new Chart(app, 'one', { namespace: 'production' });
    const two = new Chart(app, 'two', { namespace: 'production' });
    new DiscoverableService(one, 'payment-service', { image: IMAGE });
    expect(() => new DiscoverableService(two, 'payments', { name: 'payment-service', image: IMAGE }))
      .toThrow(/DiscoverableService 'two\/payments': name = "payment-service" is invalid: must be unique per namespace: 'one\/payment-service' already defines Service 'payment-service' in namespace 'production'/);
  });

  it('rejects a service whose name collides with another construct\'s Service', () => {
    const chart = testChart('registry');
    new EtcdCluster(chart, 'etcd', { members: 3 });
    expect(() => new DiscoverableService(chart, 'etcd-client', { image: IMAGE }))
      .toThrow(/'test\/etcd' already defines Service 'etcd-client' in namespace 'registry'/);
  });

  it('accepts the same name in two namespaces, and in two Apps', () => {
    const app = Testing.app();
    new DiscoverableService(new Chart(app, 'a', { namespace: 'a' }), 'payment-service', { image: IMAGE });
    new DiscoverableService(new Chart(app, 'b', { namespace: 'b' }), 'payment-service', { image: IMAGE });
    new DiscoverableService(testChart('a'), 'payment-service', { image: IMAGE });
  });
});

