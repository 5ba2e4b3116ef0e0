import { k8s } from 'cdk8s-plus-27';
import { NamedPort, ResolvedConsulCluster, Role, clientPorts, httpPorts, objectName, tcpAndUdp } from './cluster-spec';
import { CONSUL_PORTS } from './config';
import { apiPort } from './endpoints';
import { CONSUL_MESH_LABEL, PodNetworkPolicyProps, podsIn, policyPort, DNS_REASON } from '../core/network-policy';
import { CONSUL_K8S_POD_SELECTOR } from '../mesh/consul-k8s';

/**
 * Default deny for servers and agents, allowing exactly Consul's traffic: RPC and gossip
 * among servers and agents (serf is bidirectional; every server also joins the WAN pool,
 * so servers gossip with each other on 8302), CoreDNS to the servers' DNS, labelled clients
 * to the agents' API and mesh sidecars to the servers' gRPC, the opted-in UI users and
 * metrics scrapers to the HTTP(S) port, and everyone to cluster DNS. The agents' health
 * checks of registered pods are allowed by one policy per registering service
 * (`ConsulAgentRegistration`), to that service's check port only.
 */
export function networkPolicies(spec: ResolvedConsulCluster): Readonly<Record<Role, PodNetworkPolicyProps>> {
  const servers: k8s.NetworkPolicyPeer = { podSelector: { matchLabels: spec.podSelectors.server } };
  const agents: k8s.NetworkPolicyPeer = { podSelector: { matchLabels: spec.podSelectors.agent } };
  const clients: k8s.NetworkPolicyPeer = { namespaceSelector: {}, podSelector: { matchLabels: spec.clientLabels } };
  const serfLan = policyPorts(tcpAndUdp('serflan', CONSUL_PORTS.serfLan));
  const rpcAndSerfLan = [policyPort(CONSUL_PORTS.server), ...serfLan];
  const serverToServer = [...rpcAndSerfLan, ...policyPorts(tcpAndUdp('serfwan', CONSUL_PORTS.serfWan))];
  const { uiAccess, metricsScrapers, consulK8s, clusterDns } = spec;
  // consul-k8s's init container and sidecar (mesh pods) and its control plane use gRPC and the HTTP(S) API.
  const meshApi = [policyPort(CONSUL_PORTS.grpc), policyPort(apiPort(spec.tls !== undefined))];
  const meshPods: k8s.NetworkPolicyPeer = { namespaceSelector: {}, podSelector: { matchLabels: { [CONSUL_MESH_LABEL]: spec.name } } };
  const http = policyPorts(httpPorts(spec));
  const scrapes: Reasoned<k8s.NetworkPolicyIngressRule>[] = metricsScrapers ? [['metrics: scrapers read telemetry', { from: metricsScrapers, ports: http }]] : [];
  const dns = DNS_REASON;
  return {
    server: withReasons(spec, 'server', [
      ['registry: server RPC and gossip among servers', { from: [servers], ports: serverToServer }],
      ['registry: agents reach the servers (RPC, LAN gossip)', { from: [agents], ports: rpcAndSerfLan }],
      ['DNS: cluster DNS forwards the Consul domain', { from: clusterDns.peers, ports: policyPorts(tcpAndUdp('dns', CONSUL_PORTS.dns)) }],
      // Only mesh pods and consul-k8s reach the servers directly; registering pods use their
      // node's agent and never reach the servers' API.
      ['mesh: sidecars reach the control plane', { from: [meshPods], ports: meshApi }],
      ...(consulK8s ? [['mesh: consul-k8s control plane', { from: [podsIn(consulK8s.namespace, CONSUL_K8S_POD_SELECTOR)], ports: meshApi }]] as Reasoned<k8s.NetworkPolicyIngressRule>[] : []),
      ...(uiAccess ? [['UI: opted-in users', { from: uiAccess, ports: http }]] as Reasoned<k8s.NetworkPolicyIngressRule>[] : []),
      ...scrapes,
    ], [
      ['registry: server RPC and gossip among servers', { to: [servers], ports: serverToServer }],
      ['registry: LAN gossip', { to: [agents], ports: serfLan }],
      // The Kubernetes auth method: servers review mesh pods' tokens with the API server.
      ...(consulK8s ? [['mesh: TokenReview for the Kubernetes auth method', { to: consulK8s.apiServer, ports: [policyPort(consulK8s.apiServerPort)] }]] as Reasoned<k8s.NetworkPolicyEgressRule>[] : []),
      [dns, clusterDns.egress],
    ]),
    agent: withReasons(spec, 'agent', [
      ['registry: LAN gossip', { from: [servers, agents], ports: serfLan }],
      ['registry: labelled clients use their node\'s agent', { from: [clients], ports: policyPorts(clientPorts(spec)) }],
      ...scrapes,
    ], [
      ['registry: agents reach the servers (RPC, LAN gossip)', { to: [servers], ports: rpcAndSerfLan }],
      ['registry: LAN gossip', { to: [agents], ports: serfLan }],
      [dns, clusterDns.egress],
    ]),
  };
}

/** A rule and why it exists, for the connectivity report. */
type Reasoned<R> = readonly [string, R];

function withReasons(
  spec: ResolvedConsulCluster, role: Role, ingress: Reasoned<k8s.NetworkPolicyIngressRule>[], egress: Reasoned<k8s.NetworkPolicyEgressRule>[],
): PodNetworkPolicyProps {
  return {
    ...policyMetadata(spec, role),
    ingress: ingress.map(([, rule]) => rule),
    egress: egress.map(([, rule]) => rule),
    reasons: { ingress: () => ingress.map(([why]) => why), egress: () => egress.map(([why]) => why) },
  };
}

function policyMetadata(spec: ResolvedConsulCluster, role: Role): Pick<PodNetworkPolicyProps, 'name' | 'namespace' | 'labels' | 'podSelector'> {
  return { name: objectName(spec, role), namespace: spec.namespace, labels: spec.labels[role], podSelector: spec.podSelectors[role] };
}

function policyPorts(ports: NamedPort[]): k8s.NetworkPolicyPort[] {
  return ports.map((p) => policyPort(p.port, p.protocol));
}
