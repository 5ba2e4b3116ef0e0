import { k8s } from 'cdk8s-plus-27';
import { ResolvedConsulCluster, objectName, serviceHost } from './cluster-spec';

/** Placeholder in the CoreDNS block until the DNS Service's ClusterIP is known. */
const DNS_CLUSTER_IP_PLACEHOLDER = '<CONSUL_DNS_CLUSTER_IP>';

/** The Consul DNS Service. */
export interface ConsulDnsEndpoint {
  readonly serviceName: string;
  /** FQDN of the Service. */
  readonly host: string;
  readonly port: number;
  /** The pinned ClusterIP, when `dnsClusterIp` is set. */
  readonly clusterIp?: string;
}

export function dnsEndpoint(spec: ResolvedConsulCluster): ConsulDnsEndpoint {
  return { serviceName: objectName(spec, 'dns'), host: serviceHost(spec, 'dns'), port: 53, ...(spec.dnsClusterIp ? { clusterIp: spec.dnsClusterIp } : {}) };
}

/**
 * DNS is served by the servers: they answer from their own state (stale reads allowed)
 * without an agent hop, independent of agent rollouts; CoreDNS caches answers for 30s.
 */
export function dnsServiceSpec(spec: ResolvedConsulCluster): k8s.ServiceSpec {
  return {
    type: 'ClusterIP',
    ...(spec.dnsClusterIp ? { clusterIp: spec.dnsClusterIp } : {}),
    ports: (['TCP', 'UDP'] as const).map((protocol) => ({
      name: `dns-${protocol.toLowerCase()}`, port: 53, targetPort: k8s.IntOrString.fromString(`dns-${protocol.toLowerCase()}`), protocol,
    })),
    selector: spec.podSelectors.server,
  };
}

/**
 * The CoreDNS server block that forwards `<domain>.` to Consul. CoreDNS `forward` takes IP
 * addresses only, so an unpinned ClusterIP yields a placeholder plus the command that reads it.
 */
export function coreDnsServerBlock(spec: ResolvedConsulCluster): string {
  const lookup = `kubectl -n ${spec.namespace} get service ${objectName(spec, 'dns')} -o jsonpath='{.spec.clusterIP}'`;
  const forward = spec.dnsClusterIp
    ? [`    forward . ${spec.dnsClusterIp}`]
    : [`    # replace ${DNS_CLUSTER_IP_PLACEHOLDER} with the output of: ${lookup}`, `    forward . ${DNS_CLUSTER_IP_PLACEHOLDER}`];
  return [`${spec.domain}:53 {`, '    errors', '    cache 30', ...forward, '}', ''].join('\n');
}

/**
 * A `coredns-custom` ConfigMap carrying the block as `<name>.server`, which AKS and k3s
 * import into CoreDNS; only for a pinned ClusterIP, so it is always ready to apply.
 */
export function coreDnsConfigMap(spec: ResolvedConsulCluster): k8s.KubeConfigMapProps | undefined {
  if (!spec.dnsClusterIp) return undefined;
  return {
    metadata: { name: 'coredns-custom', namespace: 'kube-system', labels: spec.labels.server },
    data: { [`${spec.name}.server`]: coreDnsServerBlock(spec) },
  };
}
