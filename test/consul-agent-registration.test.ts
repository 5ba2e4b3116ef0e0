import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App, Chart, Duration } from 'cdk8s';
import { describe, expect, it } from 'vitest';
import { ConsulAgentAddress, ConsulAgentRegistration, ConsulAgentToken, DEFAULT_CONSUL_IMAGE, ConsulAgentRegistrationProps, DiscoverableService, DiscoveryKitValidationError, HealthSpec } from '../lib';
import { expectRejection, rejectionOf } from './support/errors';
import { qualityViolations } from './support/quality';
import { envOf, findContainer, findObject, synthChart, testChart } from './support/synth';

const AGENT: ConsulAgentAddress = {
  url: 'http://consul-agent.consul.svc.cluster.local:8500',
  port: 8500,
  clusterName: 'consul',
  namespace: 'consul',
  podSelector: { 'app.kubernetes.io/name': 'consul', 'app.kubernetes.io/instance': 'consul', 'app.kubernetes.io/component': 'agent' },
};

function registeredService(props: Partial<ConsulAgentRegistrationProps> = {}, health?: HealthSpec, chart = testChart()) {
  const service = new DiscoverableService(chart, 'payment-service', {
    image: 'ghcr.io/acme/payment-service:1.8.2',
    ports: [{ name: 'http', port: 80, containerPort: 8080 }, { name: 'grpc', port: 9090 }],
    health,
    registration: new ConsulAgentRegistration({ agent: AGENT, tags: ['v1', 'primary'], meta: { team: 'payments' }, ...props }),
  });
  const consumer = new DiscoverableService(chart, 'order-service', { image: 'ghcr.io/acme/order-service:2.3.0' });
  consumer.discover(service);
  return { service, objects: synthChart(chart) };
}

describe('ConsulAgentRegistration in the manifests', () => {
  const { objects } = registeredService();
  const deployment = findObject(objects, 'Deployment', 'payment-service');
  const sidecar = findContainer(deployment, 'consul-registration');

  it('matches the reviewed manifests', () => {
    expect(findObject(objects, 'Deployment', 'payment-service')).toMatchSnapshot();
  });

  it('adds a sidecar from the pinned Consul image that knows its pod and agent', () => {
    expect(sidecar.image).toBe(DEFAULT_CONSUL_IMAGE);
    expect(sidecar.image).toMatch(/^hashicorp\/consul:1\.\d+\.\d+$/);
    expect(sidecar.command).toEqual(['/bin/sh', '/discovery-kit/agent-registration.sh']);
    expect(envOf(sidecar, 'POD_NAME').valueFrom.fieldRef.fieldPath).toBe('metadata.name');
    expect(envOf(sidecar, 'POD_IP').valueFrom.fieldRef.fieldPath).toBe('status.podIP');
    expect(envOf(sidecar, 'CONSUL_HTTP_ADDR').value).toBe(AGENT.url);
    expect(sidecar.ports).toBeUndefined();
    expect(sidecar.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false });
  });

  it('gives the script its whole input as env: the definition, the readiness check and the timing', () => {
    const env = Object.fromEntries(sidecar.env.filter((e: any) => e.value !== undefined).map((e: any) => [e.name, e.value]));
    expect(env).toEqual({
      CONSUL_HTTP_ADDR: AGENT.url,
      CONSUL_REGISTRATION_DIR: '/consul-registration',
      CONSUL_SERVICE_NAME: 'payment-service',
      CONSUL_SERVICE_PORT: '8080',
      CONSUL_SERVICE_TAGS: 'v1,primary',
      CONSUL_SERVICE_META: '{"team":"payments","k8s-namespace":"production"}',
      CONSUL_CHECK_SCHEME: 'http',
      CONSUL_CHECK_PORT: '8080',
      CONSUL_CHECK_PATH: '/health/ready',
      CONSUL_CHECK_INTERVAL: '5s',
      CONSUL_CHECK_TIMEOUT: '2s',
      CONSUL_CHECK_FAILURES_BEFORE_CRITICAL: '3',
      CONSUL_DEREGISTER_CRITICAL_SERVICE_AFTER: '1m',
      CONSUL_RESYNC_SECONDS: '5',
    });
  });

  it('mounts the script from the namespace ConfigMap read-only, and rolls the pods when it changes', () => {
    const configMap = findObject(objects, 'ConfigMap', 'discovery-kit-consul-registration', 'production');
    expect(configMap.data).toEqual({
      'agent-registration.sh': readFileSync(join(__dirname, '../lib/consul/agent-registration.sh'), 'utf8'),
      'common.sh': readFileSync(join(__dirname, '../lib/registration/common.sh'), 'utf8'),
    });
    expect(deployment.spec.template.spec.volumes).toContainEqual({ name: 'registration-script', configMap: { name: 'discovery-kit-consul-registration', defaultMode: 0o444 } });
    expect(sidecar.volumeMounts[0]).toEqual({ name: 'registration-script', mountPath: '/discovery-kit', readOnly: true });
    const checksum = createHash('sha256');
    for (const name of ['agent-registration.sh', 'common.sh']) checksum.update(`${name}\0${configMap.data[name]}\0`);
    expect(deployment.spec.template.metadata.annotations).toEqual({ 'discovery-kit.io/script-checksum': checksum.digest('hex') });
  });

  it('labels the pods as Consul clients without touching the selector', () => {
    expect(deployment.spec.template.metadata.labels['discovery-kit.io/consul-client']).toBe('consul');
    expect(deployment.spec.selector.matchLabels['discovery-kit.io/consul-client']).toBeUndefined();
  });

  it('lets the agent run its health check and the pods reach the agent', () => {
    const policy = findObject(objects, 'NetworkPolicy', 'payment-service');
    const agentPeer = { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'consul' } }, podSelector: { matchLabels: AGENT.podSelector } };
    expect(policy.spec.ingress).toContainEqual({ from: [agentPeer], ports: [{ port: 8080, protocol: 'TCP' }] });
    expect(policy.spec.egress).toContainEqual({ to: [agentPeer], ports: [{ port: 8500, protocol: 'TCP' }] });
  });

  it('gives consumers the registry address, its client label and the egress to it', () => {
    const order = findObject(objects, 'Deployment', 'order-service');
    expect(envOf(findContainer(order, 'order-service'), 'CONSUL_HTTP_ADDR').value).toBe(AGENT.url);
    expect(order.spec.template.metadata.labels['discovery-kit.io/consul-client']).toBe('consul');
    expect(findObject(objects, 'NetworkPolicy', 'order-service').spec.egress).toContainEqual(expect.objectContaining({ ports: [{ port: 8500, protocol: 'TCP' }] }));
  });

  it('passes the manifest-quality suite', () => {
    expect(qualityViolations(objects)).toEqual([]);
  });
});

// The generated script runs against real Consul 1.8.7 agents in test/real/consul-registration.test.ts.

describe('ConsulAgentRegistration rejects bad input at synth time', () => {
  const errorOf = (props: Partial<ConsulAgentRegistrationProps>, health?: HealthSpec): DiscoveryKitValidationError =>
    rejectionOf((chart) => registeredService(props, health, chart));

  it.each<[string, Partial<ConsulAgentRegistrationProps>, string, RegExp]>([
    ['deregistration under 1m', { deregisterCriticalServiceAfter: Duration.seconds(30) }, 'registration.deregisterCriticalServiceAfter', /30s is invalid.*at least 1m/],
    ['a Go duration string (plain JavaScript)', { deregisterCriticalServiceAfter: '1m' as unknown as Duration }, 'registration.deregisterCriticalServiceAfter', /must be a cdk8s Duration/],
    ['a fractional resync', { resyncInterval: Duration.millis(5500) }, 'registration.resyncInterval', /whole number of seconds/],
    ['a CA certificate Secret with a bad name', { caCert: { secretName: 'Consul CA', key: 'ca.crt' } }, 'registration.caCert.secretName', /DNS-1123 subdomain/],
    ['a tag that is not a DNS label', { tags: ['Blue_Green'] }, 'registration.tags[0]', /RFC 1123 DNS label/],
    ['a duplicated tag', { tags: ['v1', 'v1'] }, 'registration.tags[1]', /"v1".*unique: registration.tags\[0\]/],
    ['too many meta keys', { meta: Object.fromEntries(Array.from({ length: 63 }, (_, i) => [`k${i}`, 'v'])) }, 'registration.meta', /at most 62 keys \(Consul allows 64; 2 are reserved/],
    ['a meta key over 128 characters', { meta: { ['k'.repeat(129)]: 'v' } }, 'registration.meta key', /1-128 characters/],
    ['a meta key with a dot', { meta: { 'team.name': 'v' } }, 'registration.meta key', /\[A-Za-z0-9_-\]/],
    ['a reserved meta key prefix', { meta: { 'consul-version': 'v' } }, 'registration.meta key', /reserved 'consul-' prefix/],
    ['a meta key the registration sets', { meta: { 'k8s-pod': 'v' } }, 'registration.meta key', /set by the registration itself/],
    ['a meta value over 512 characters', { meta: { team: 'x'.repeat(513) } }, 'registration.meta["team"]', /at most 512/],
    ['a port the service does not have', { port: 'admin' }, 'registration.port', /"admin".*http, grpc/],
    ['a latest image', { image: 'hashicorp/consul:latest' }, 'registration.image', /pinned/],
    ['a resync under 5s', { resyncInterval: Duration.seconds(1) }, 'registration.resyncInterval', /from 5s/],
    ['an ACL token Secret without a key', { aclToken: ConsulAgentToken.fromSecret({ secretName: 'consul-token', key: '' }) }, 'registration.aclToken.key', /Secret key/],
    ['an agent URL that is not one', { agent: { ...AGENT, url: 'consul-agent; rm -rf /' } }, 'registration.agent.url', /http:\/\/host:port/],
    ['an agent port of 0', { agent: { ...AGENT, port: 0 } }, 'registration.agent.port', /from 1 to 65535/],
    ['an agent namespace that is not a DNS label', { agent: { ...AGENT, namespace: 'NS!' } }, 'registration.agent.namespace', /RFC 1123/],
    ['an empty agent selector (it would admit every pod)', { agent: { ...AGENT, podSelector: {} } }, 'registration.agent.podSelector', /empty selector would admit every pod/],
    ['an HTTPS agent without the CA to verify it', { agent: { ...AGENT, url: 'https://consul-agent.consul.svc.cluster.local:8501', port: 8501 } }, 'registration.caCert', /agent serves HTTPS/],
  ])('%s', (_title, props, field, message) => {
    expectRejection(errorOf(props), "DiscoverableService 'test/payment-service'", field, message);
  });

  it('a check interval under 1s cannot be expressed: the readiness period is whole seconds >= 1', () => {
    const error = errorOf({}, HealthSpec.http({ readiness: { period: Duration.millis(500), timeout: Duration.millis(200) } }));
    expect(error.field).toBe('health.readiness.period');
  });
});

describe('ConsulAgentRegistration reports every bad field at once', () => {
  it('names the deregistration delay, the resync, the tags, the meta, the port and the token in one error', () => {
    const error = rejectionOf((chart) => registeredService({
      deregisterCriticalServiceAfter: Duration.seconds(10), resyncInterval: Duration.seconds(1), tags: ['Bad'], meta: { 'k8s-pod': 'x' },
      port: 'admin', aclToken: ConsulAgentToken.fromSecret({ secretName: 'token', key: 'a/b' }),
    }, undefined, chart));
    expect(error.problems.map((p) => p.field).sort()).toEqual([
      'registration.aclToken.key', 'registration.deregisterCriticalServiceAfter', 'registration.meta key', 'registration.port',
      'registration.resyncInterval', 'registration.tags[0]',
    ]);
    expect(error.message).toMatch(/^6 invalid values:/);
  });
});

describe('the registration script ConfigMap', () => {
  const service = (scope: Chart, name: string, namespace?: string) => new DiscoverableService(scope, name, {
    image: 'ghcr.io/acme/svc:1.0.0', namespace, registration: new ConsulAgentRegistration({ agent: AGENT }),
  });
  const configMaps = (app: App) => app.charts.flatMap((chart) => synthChart(chart))
    .filter((o) => o.kind === 'ConfigMap').map((o) => `${o.metadata.namespace}/${o.metadata.name}`);

  it('is made once per namespace for the whole App, whichever chart its services are in', () => {
    const app = new App();
    const a = new Chart(app, 'a', { namespace: 'shop', disableResourceNameHashes: true });
    const b = new Chart(app, 'b', { namespace: 'shop', disableResourceNameHashes: true });
    service(a, 'one');
    service(b, 'two');
    service(b, 'three', 'billing');
    service(a, 'four', 'billing');
    expect(configMaps(app)).toEqual(['shop/discovery-kit-consul-registration', 'billing/discovery-kit-consul-registration']);
  });

  it('is made again for a second App', () => {
    const first = new App();
    service(new Chart(first, 'a', { namespace: 'shop' }), 'one');
    const second = new App();
    service(new Chart(second, 'a', { namespace: 'shop' }), 'one');
    expect(configMaps(second)).toEqual(['shop/discovery-kit-consul-registration']);
  });

  it('is not made by a service whose props are rejected', () => {
    const app = new App();
    const chart = new Chart(app, 'a', { namespace: 'shop' });
    expect(() => new DiscoverableService(chart, 'bad', {
      image: 'ghcr.io/acme/svc:1.0.0', shutdown: { terminationGracePeriod: Duration.seconds(3) }, registration: new ConsulAgentRegistration({ agent: AGENT }),
    })).toThrow(DiscoveryKitValidationError);
    service(chart, 'good');
    expect(configMaps(app)).toEqual(['shop/discovery-kit-consul-registration']);
    expect(chart.node.findAll().filter((c) => c.node.path.includes('/bad/'))).toEqual([]);
  });
});
