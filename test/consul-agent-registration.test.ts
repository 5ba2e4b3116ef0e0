import { Duration } from 'cdk8s';
import { describe, expect, it } from 'vitest';
import { ConsulAgentAddress, ConsulAgentRegistration, DEFAULT_CONSUL_IMAGE, ConsulAgentRegistrationProps, DiscoverableService, DiscoveryKitValidationError, HealthSpec } from '../lib';
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
    expect(sidecar.command.slice(0, 2)).toEqual(['/bin/sh', '-c']);
    expect(envOf(sidecar, 'POD_NAME').valueFrom.fieldRef.fieldPath).toBe('metadata.name');
    expect(envOf(sidecar, 'POD_IP').valueFrom.fieldRef.fieldPath).toBe('status.podIP');
    expect(envOf(sidecar, 'CONSUL_HTTP_ADDR').value).toBe(AGENT.url);
    expect(sidecar.ports).toBeUndefined();
    expect(sidecar.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false });
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
    ['deregistration under 1m', { deregisterCriticalServiceAfter: '30s' }, 'registration.deregisterCriticalServiceAfter', /at least 60s/],
    ['a duration Go cannot parse', { deregisterCriticalServiceAfter: '1d' }, 'registration.deregisterCriticalServiceAfter', /Go duration/],
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
    ['an ACL token Secret without a key', { aclToken: { secretName: 'consul-token', key: '' } }, 'registration.aclToken.key', /Secret key/],
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
