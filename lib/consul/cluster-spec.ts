import { k8s } from 'cdk8s-plus-27';
import type { ConsulTlsOptions } from './cluster-props';
import { CONSUL_PORTS, ResolvedConsulTls, agentConfig, renderConfig, serverConfig } from './config';
import type { SecretKeyReference } from '../core/secret';
import type { ResolvedConsulK8s } from '../mesh/consul-k8s';

export type Role = 'server' | 'agent';

/** TLS settings and the Secrets that hold the certificates. */
export type ResolvedConsulClusterTls = ResolvedConsulTls & Pick<ConsulTlsOptions, 'ca' | 'serverCertificate' | 'agentCertificate'>;

/**
 * A {@link ConsulCluster} after its one validation pass: every default applied, every value
 * valid. The renderers build the Kubernetes objects from this alone.
 */
export interface ResolvedConsulCluster {
  readonly name: string;
  readonly namespace: string;
  readonly datacenter: string;
  readonly domain: string;
  readonly clusterDomain: string;
  readonly replicas: number;
  readonly image: string;
  readonly gossipSecret?: SecretKeyReference;
  /** ACLs on (with token persistence as given), or undefined for off. */
  readonly acl?: { readonly enableTokenPersistence: boolean };
  readonly aclTokensSecret?: SecretKeyReference;
  readonly tls?: ResolvedConsulClusterTls;
  readonly ui: boolean;
  readonly connect: boolean;
  readonly reconnectTimeoutMs: number;
  readonly autopilot: { readonly cleanupDeadServers: boolean; readonly lastContactThresholdMs: number; readonly serverStabilizationTimeMs: number };
  readonly storageSize: string;
  readonly storageClassName?: string;
  readonly spreadAcrossZones: boolean;
  readonly serverPlacement: Pick<k8s.PodSpec, 'nodeSelector' | 'tolerations' | 'priorityClassName'>;
  readonly serverUpgrade: Pick<k8s.StatefulSetSpec, 'updateStrategy' | 'persistentVolumeClaimRetentionPolicy'>;
  readonly agentHostPorts: boolean;
  readonly agentTolerations: k8s.Toleration[];
  readonly runAsUser: number;
  readonly runAsGroup: number;
  readonly resources: Readonly<Record<Role, k8s.ResourceRequirements>>;
  readonly uiAccess?: k8s.NetworkPolicyPeer[];
  readonly metricsScrapers?: k8s.NetworkPolicyPeer[];
  readonly consulK8s?: ResolvedConsulK8s;
  readonly dnsClusterIp?: string;
  /** Every label of each role's objects (user labels, then the recommended ones). */
  readonly labels: Readonly<Record<Role, Record<string, string>>>;
  /** The labels that select each role's pods. */
  readonly podSelectors: Readonly<Record<Role, Record<string, string>>>;
  /** Labels a pod carries to be admitted to the agents' API. */
  readonly clientLabels: Record<string, string>;
  /** The pods' DNS settings (ndots). */
  readonly dnsConfig: k8s.PodDnsConfig;
  /** Where cluster DNS runs (the construct tree's `setClusterDns`), and the egress rule to it. */
  readonly clusterDns: { readonly peers: k8s.NetworkPolicyPeer[]; readonly egress: k8s.NetworkPolicyEgressRule };
}

export interface NamedPort {
  readonly name: string;
  readonly port: number;
  readonly protocol: 'TCP' | 'UDP';
}

/** `<name>-<suffix>`: every object's name. */
export function objectName(spec: ResolvedConsulCluster, suffix: string): string {
  return `${spec.name}-${suffix}`;
}

/** FQDN of the Service `<name>-<suffix>`. */
export function serviceHost(spec: ResolvedConsulCluster, suffix: string): string {
  return `${objectName(spec, suffix)}.${spec.namespace}.svc.${spec.clusterDomain}`;
}

export function metadata(spec: ResolvedConsulCluster, role: Role, suffix: string = role): k8s.ObjectMeta {
  return { name: objectName(spec, suffix), namespace: spec.namespace, labels: spec.labels[role] };
}

export function tcpAndUdp(prefix: string, port: number): NamedPort[] {
  return [{ name: `${prefix}-tcp`, port, protocol: 'TCP' }, { name: `${prefix}-udp`, port, protocol: 'UDP' }];
}

/** HTTP and/or HTTPS, as the TLS settings serve them. */
export function httpPorts(spec: ResolvedConsulCluster): NamedPort[] {
  const { tls } = spec;
  return [
    ...(!tls || !tls.httpsOnly ? [{ name: 'http', port: CONSUL_PORTS.http, protocol: 'TCP' as const }] : []),
    ...(tls ? [{ name: 'https', port: CONSUL_PORTS.https, protocol: 'TCP' as const }] : []),
  ];
}

/** What clients use: HTTP(S) and gRPC. */
export function clientPorts(spec: ResolvedConsulCluster): NamedPort[] {
  return [...httpPorts(spec), { name: 'grpc', port: CONSUL_PORTS.grpc, protocol: 'TCP' }];
}

export function serverPorts(spec: ResolvedConsulCluster): NamedPort[] {
  return [
    { name: 'server', port: CONSUL_PORTS.server, protocol: 'TCP' },
    ...tcpAndUdp('serflan', CONSUL_PORTS.serfLan),
    ...tcpAndUdp('serfwan', CONSUL_PORTS.serfWan),
    ...clientPorts(spec),
    ...tcpAndUdp('dns', CONSUL_PORTS.dns),
  ];
}

export function agentPorts(spec: ResolvedConsulCluster): NamedPort[] {
  return [...tcpAndUdp('serflan', CONSUL_PORTS.serfLan), ...clientPorts(spec)];
}

/** The JSON configuration file of a role, as its ConfigMap holds it. */
export function configFile(spec: ResolvedConsulCluster, role: Role): string {
  const common = {
    datacenter: spec.datacenter,
    domain: spec.domain,
    retryJoin: `${serviceHost(spec, 'server')}:${CONSUL_PORTS.serfLan}`,
    reconnectTimeoutMs: spec.reconnectTimeoutMs,
    acl: spec.acl,
    tls: spec.tls,
    prometheus: spec.metricsScrapers !== undefined,
    agentServiceHost: serviceHost(spec, 'agent'),
  };
  return renderConfig(role === 'agent' ? agentConfig(common) : serverConfig({
    ...common,
    bootstrapExpect: spec.replicas,
    replicas: spec.replicas,
    ui: spec.ui,
    connect: spec.connect,
    autopilot: spec.autopilot,
  }));
}
