import { describe, expect, it } from 'vitest';
import { ConsulAgentRegistration, ConsulCluster, DiscoverableService, GossipEncryption, HealthSpec } from '../lib';
import { findObject, synthChart, testChart } from './support/synth';

/** A Consul cluster, a service registering with its agents on a check port apart from its API port, and a consumer. */
function build(networkPolicy = true) {
  const chart = testChart('production');
  const consul = new ConsulCluster(chart, 'consul', { namespace: 'consul', gossipEncryption: GossipEncryption.disabled() });
  const payment = new DiscoverableService(chart, 'payment-service', {
    image: 'ghcr.io/acme/payment-service:1.8.2',
    ports: [{ name: 'api', port: 80, containerPort: 8080 }, { name: 'admin', port: 9090 }],
    health: HealthSpec.http({ port: 'admin' }),
    registration: new ConsulAgentRegistration({ agent: consul.agent }),
    networkPolicy,
  });
  new DiscoverableService(chart, 'order-service', { image: 'ghcr.io/acme/order-service:2.3.0' }).discover(payment, { port: 'api' });
  return synthChart(chart);
}

const agentPods = { matchLabels: { 'app.kubernetes.io/name': 'consul', 'app.kubernetes.io/instance': 'consul', 'app.kubernetes.io/component': 'agent' } };
const paymentPods = {
  namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'production' } },
  podSelector: { matchLabels: { 'app.kubernetes.io/name': 'payment-service', 'app.kubernetes.io/instance': 'payment-service' } },
};

describe("the Consul agents' egress", () => {
  const objects = build();
  const policies = objects.filter((o) => o.kind === 'NetworkPolicy' && o.metadata.namespace === 'consul');

  it('reaches no application pod through the base agent policy', () => {
    const base = findObject(objects, 'NetworkPolicy', 'consul-agent', 'consul');
    const peers = base.spec.egress.flatMap((rule: any) => rule.to);
    expect(peers.filter((p: any) => p.podSelector?.matchLabels?.['discovery-kit.io/consul-client'])).toEqual([]);
    expect(base.spec.egress.every((rule: any) => rule.ports?.length > 0)).toBe(true);
  });

  it("reaches a registered service's pods on its health-check port only, from an egress-only policy in the agents' namespace", () => {
    const policy = findObject(objects, 'NetworkPolicy', 'consul-agent-to-payment-service.production', 'consul');
    expect(policy.metadata.labels?.['app.kubernetes.io/name']).toBe('payment-service');
    expect(policy.spec).toEqual({
      podSelector: agentPods,
      policyTypes: ['Egress'],
      egress: [{ to: [paymentPods], ports: [{ port: 9090, protocol: 'TCP' }] }],
    });
    expect(policies.map((p) => p.metadata.name).sort()).toEqual(['consul-agent', 'consul-agent-to-payment-service.production', 'consul-server']);
  });

  it('admits the agents on the check port only, on the service side', () => {
    const ingress = findObject(objects, 'NetworkPolicy', 'payment-service', 'production').spec.ingress;
    const fromAgents = ingress.filter((rule: any) => rule.from.some((p: any) => p.podSelector?.matchLabels?.['app.kubernetes.io/component'] === 'agent'));
    expect(fromAgents.map((rule: any) => rule.ports)).toEqual([[{ port: 9090, protocol: 'TCP' }]]);
  });

  it("keeps the agents' check egress when the service opts out of its own policy", () => {
    const unisolated = build(false);
    expect(unisolated.filter((o) => o.kind === 'NetworkPolicy' && o.metadata.name === 'payment-service')).toEqual([]);
    findObject(unisolated, 'NetworkPolicy', 'consul-agent-to-payment-service.production', 'consul');
  });
});
