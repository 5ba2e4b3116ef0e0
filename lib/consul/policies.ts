import { k8s } from 'cdk8s-plus-27';
import { NamedPort, ResolvedConsulCluster, Role, clientPorts, httpPorts, objectName, tcpAndUdp } from './cluster-spec';
import { CONSUL_PORTS } from './config';
import { apiPort } from './endpoints';
import { CONSUL_MESH_LABEL, PodNetworkPolicyProps, podsIn, policyPort } from '../core/network-policy';
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
  const scrapes: k8s.NetworkPolicyIngressRule[] = metricsScrapers ? [{ from: metricsScrapers, ports: http }] : [];
  return {
    server: {
      ...policyMetadata(spec, 'server'),
      ingress: [
        { from: [servers], ports: serverToServer },
        { from: [agents], ports: rpcAndSerfLan },
        { from: clusterDns.peers, ports: policyPorts(tcpAndUdp('dns', CONSUL_PORTS.dns)) },
        // Only mesh pods and consul-k8s reach the servers directly; registering pods use their
        // node's agent and never reach the servers' API.
        { from: [meshPods], ports: meshApi },
        ...(consulK8s ? [{ from: [podsIn(consulK8s.namespace, CONSUL_K8S_POD_SELECTOR)], ports: meshApi }] : []),
        ...(uiAccess ? [{ from: uiAccess, ports: http }] : []),
        ...scrapes,
      ],
      egress: [
        { to: [servers], ports: serverToServer },
        { to: [agents], ports: serfLan },
        // The Kubernetes auth method: servers review mesh pods' tokens with the API server.
        ...(consulK8s ? [{ to: consulK8s.apiServer, ports: [policyPort(consulK8s.apiServerPort)] }] : []),
        clusterDns.egress,
      ],
    },
    agent: {
      ...policyMetadata(spec, 'agent'),
      ingress: [
        { from: [servers, agents], ports: serfLan },
        { from: [clients], ports: policyPorts(clientPorts(spec)) },
        ...scrapes,
      ],
      egress: [
        { to: [servers], ports: rpcAndSerfLan },
        { to: [agents], ports: serfLan },
        clusterDns.egress,
      ],
    },
  };
}

function policyMetadata(spec: ResolvedConsulCluster, role: Role): Pick<PodNetworkPolicyProps, 'name' | 'namespace' | 'labels' | 'podSelector'> {
  return { name: objectName(spec, role), namespace: spec.namespace, labels: spec.labels[role], podSelector: spec.podSelectors[role] };
}

function policyPorts(ports: NamedPort[]): k8s.NetworkPolicyPort[] {
  return ports.map((p) => policyPort(p.port, p.protocol));
}
