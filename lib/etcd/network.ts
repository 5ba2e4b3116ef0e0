import { k8s } from 'cdk8s-plus-27';
import type { ResolvedEtcdCluster } from './cluster-resolve';
import { CLIENT_PORT, METRICS_PORT, PEER_PORT } from './members';
import { PodNetworkPolicyProps, policyPort, DNS_REASON } from '../core/network-policy';

function servicePort(name: string, port: number): k8s.ServicePort {
  return { name, port, targetPort: k8s.IntOrString.fromString(name), protocol: 'TCP' };
}

/** The headless `<name>` Service for peers: every member's stable DNS name. */
export function headlessServiceSpec(spec: ResolvedEtcdCluster): k8s.ServiceSpec {
  return {
    clusterIp: 'None',
    // Members must resolve each other before any is Ready: readiness needs a quorum.
    publishNotReadyAddresses: true,
    selector: spec.podSelector,
    ports: [servicePort('etcd-client', CLIENT_PORT), servicePort('etcd-server', PEER_PORT), servicePort('metrics', METRICS_PORT)],
  };
}

/** The ClusterIP `<name>-client` Service, which spreads clients over the Ready members. */
export function clientServiceSpec(spec: ResolvedEtcdCluster): k8s.ServiceSpec {
  return { type: 'ClusterIP', selector: spec.podSelector, ports: [servicePort('etcd-client', CLIENT_PORT)] };
}

/** Members reach each other; labelled clients from any namespace reach the client port; all else is denied. */
export function networkPolicy(spec: ResolvedEtcdCluster): PodNetworkPolicyProps {
  const members: k8s.NetworkPolicyPeer = { podSelector: { matchLabels: spec.podSelector } };
  const clients: k8s.NetworkPolicyPeer = { namespaceSelector: {}, podSelector: { matchLabels: spec.clientLabels } };
  // Members reach each other's client port too, for `etcdctl --cluster` run inside a member.
  const memberPorts = [policyPort(CLIENT_PORT), policyPort(PEER_PORT)];
  return {
    name: spec.name,
    namespace: spec.namespace,
    labels: spec.labels,
    podSelector: spec.podSelector,
    ingress: [
      { from: [members], ports: memberPorts },
      { from: [clients], ports: [policyPort(CLIENT_PORT)] },
      ...(spec.metricsScrapers ? [{ from: spec.metricsScrapers, ports: [policyPort(METRICS_PORT)] }] : []),
    ],
    egress: [{ to: [members], ports: memberPorts }, spec.clusterDnsEgress],
    reasons: {
      ingress: () => [
        'registry: members replicate (peer and client port)', 'registry: labelled clients',
        ...(spec.metricsScrapers ? ['metrics: scrapers read /metrics'] : []),
      ],
      egress: () => ['registry: members replicate (peer and client port)', DNS_REASON],
    },
  };
}
