import { k8s } from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import { agentDaemonSetSpec, agentServiceSpec } from './agents';
import type { ConsulClusterProps } from './cluster-props';
import { consulClusterWarnings, resolveConsulCluster } from './cluster-resolve';
import { ResolvedConsulCluster, Role, configFile, metadata, objectName, serviceHost } from './cluster-spec';
import { CONSUL_ENTRYPOINT_SCRIPT, CONSUL_PATHS, CONSUL_PORTS } from './config';
import { ConsulDnsEndpoint, coreDnsConfigMap, coreDnsServerBlock, dnsEndpoint, dnsServiceSpec } from './dns';
import { ConsulAgentEndpoint, ConsulClusterAttributes, ConsulClusterReference, ConsulHttpEndpoint, httpEndpoint, referenceOf, resolveAttributes } from './endpoints';
import { networkPolicies } from './policies';
import { serverDisruptionBudgetSpec, serverServiceSpec, serverStatefulSetSpec, uiServiceSpec } from './server';
import { kubeObject } from '../core/kube-object';
import { PodNetworkPolicy } from '../core/network-policy';
import { warn } from '../core/validation';
import type { ConsulMeshControlPlane } from '../mesh/circuit-breaker';
import { consulK8sHelmValues } from '../mesh/consul-k8s';

/**
 * A Consul datacenter on Kubernetes, built like the official consul-k8s chart's servers
 * and safer by default: a StatefulSet of 3, 5 or 7 servers with quorum-aware settings,
 * client agents as a DaemonSet reached through a node-local Service (no hostPort), a DNS
 * Service plus the CoreDNS block that forwards `.<domain>` to it, gossip encryption and
 * ACLs on, Pod Security "restricted", and NetworkPolicies that allow only Consul's own
 * traffic and pods labelled `CONSUL_CLIENT_LABEL: <name>`.
 */
export class ConsulCluster extends Construct implements ConsulClusterReference {
  /**
   * A cluster defined in another program (the platform team's), for an app team's
   * registrations and mesh services: the same addresses and selectors the cluster itself
   * publishes, from the few settings that decide them.
   */
  public static fromAttributes(attributes: ConsulClusterAttributes): ConsulClusterReference {
    return referenceOf(resolveAttributes(attributes));
  }

  public readonly clusterName: string;
  public readonly namespace: string;
  public readonly datacenter: string;
  public readonly domain: string;
  public readonly clusterDomain: string;
  /** Number of servers (`bootstrap_expect`). */
  public readonly replicas: number;
  /** Per-pod DNS names of the servers: `<name>-server-<i>.<name>-server.<ns>.svc.<clusterDomain>`. */
  public readonly serverAddresses: string[];
  /** The servers' HTTP(S) API and UI (`<name>-ui`), when `uiAccess` admits someone. */
  public readonly http?: ConsulHttpEndpoint;
  /** The node-local client agent, where services register. */
  public readonly agent: ConsulAgentEndpoint;
  /** The `<name>-dns` Service (port 53, servers' 8600). */
  public readonly dns: ConsulDnsEndpoint;
  /**
   * The CoreDNS server block forwarding `<domain>:53` to the DNS Service. Without
   * `dnsClusterIp` it holds a placeholder and the command that prints the ClusterIP.
   */
  public readonly coreDnsServerBlock: string;
  /**
   * A `coredns-custom` ConfigMap carrying the block as `<name>.server`, which AKS and k3s
   * import into CoreDNS (elsewhere, paste {@link coreDnsServerBlock} into the `coredns`
   * Corefile). Defined only when `dnsClusterIp` is pinned, so it is always ready to apply.
   */
  public readonly coreDnsConfigMap?: k8s.KubeConfigMapProps;
  /** Labels a pod carries to be admitted to the agents' API (and the servers' HTTP API). */
  public readonly clientLabels: Record<string, string>;
  /** Labels that select the server pods (for NetworkPolicy peers). */
  public readonly serverPodSelector: Record<string, string>;
  /** Labels that select the agent pods: egress to the agent Service lands on these pods. */
  public readonly agentPodSelector: Record<string, string>;
  /** What mesh pods connect to (the servers' gRPC and HTTP(S) API), for `DiscoverableService.meshControlPlane`. */
  public readonly meshControlPlane: ConsulMeshControlPlane;
  /**
   * Values for the consul-k8s Helm chart that point it at these servers
   * (`externalServers`), when `consulK8s` is set: write them to a file for
   * `helm install consul hashicorp/consul -n <consulK8s.namespace> -f <file>`.
   */
  public readonly consulK8sHelmValues?: Record<string, unknown>;
  /**
   * DNS names the certificates must carry: `server` for the server certificate
   * (`server.<datacenter>.<domain>` for `verify_server_hostname`, `localhost` for the in-pod
   * CLI), `agent` for the agent certificate.
   */
  public readonly tlsDnsNames: { readonly server: string[]; readonly agent: string[] };
  public readonly serverStatefulSet: k8s.KubeStatefulSet;
  public readonly serverService: k8s.KubeService;
  /** Present when `uiAccess` admits someone. */
  public readonly uiService?: k8s.KubeService;
  public readonly dnsService: k8s.KubeService;
  public readonly agentDaemonSet: k8s.KubeDaemonSet;
  public readonly agentService: k8s.KubeService;
  public readonly serverConfigMap: k8s.KubeConfigMap;
  public readonly agentConfigMap: k8s.KubeConfigMap;
  /** The containers' entrypoint script (servers and agents). */
  public readonly entrypointConfigMap: k8s.KubeConfigMap;
  /** Absent for a development single server (a budget of one pod would block every drain). */
  public readonly podDisruptionBudget?: k8s.KubePodDisruptionBudget;

  constructor(scope: Construct, id: string, props: ConsulClusterProps) {
    super(scope, id);
    // Every prop is validated (all errors at once) before any child is created.
    const spec = resolveConsulCluster(this, id, props);
    consulClusterWarnings(spec).forEach((message) => warn(this, message));

    ({ name: this.clusterName, namespace: this.namespace, datacenter: this.datacenter, domain: this.domain, clusterDomain: this.clusterDomain } = spec);
    this.replicas = spec.replicas;
    this.clientLabels = spec.clientLabels;
    this.serverPodSelector = spec.podSelectors.server;
    this.agentPodSelector = spec.podSelectors.agent;
    const tls = spec.tls !== undefined;
    ({ agent: this.agent, meshControlPlane: this.meshControlPlane } = referenceOf({
      name: spec.name, namespace: spec.namespace, tls, datacenter: spec.datacenter, domain: spec.domain, clusterDomain: spec.clusterDomain,
    }));
    this.consulK8sHelmValues = spec.consulK8s && consulK8sHelmValues({
      clusterName: spec.name, serversNamespace: spec.namespace, serverHost: serviceHost(spec, 'server'),
      datacenter: spec.datacenter, domain: spec.domain, acls: spec.acl !== undefined,
      caSecret: spec.tls?.ca, grpcPort: CONSUL_PORTS.grpc, httpPort: this.meshControlPlane.httpPort,
      consulK8s: spec.consulK8s,
    });
    this.serverAddresses = Array.from({ length: spec.replicas }, (_, i) => `${objectName(spec, 'server')}-${i}.${serviceHost(spec, 'server')}`);
    this.http = spec.uiAccess ? httpEndpoint(serviceHost(spec, 'ui'), tls) : undefined;
    this.dns = dnsEndpoint(spec);
    this.coreDnsServerBlock = coreDnsServerBlock(spec);
    this.coreDnsConfigMap = coreDnsConfigMap(spec);
    const server = serviceHost(spec, 'server');
    this.tlsDnsNames = {
      server: [`server.${spec.datacenter}.${spec.domain}`, 'localhost', server, `*.${server}`, serviceHost(spec, 'ui')],
      agent: [serviceHost(spec, 'agent'), 'localhost'],
    };

    for (const role of ['server', 'agent'] as const) {
      kubeObject(this, `${role}-service-account`, k8s.KubeServiceAccount, { metadata: metadata(spec, role), automountServiceAccountToken: false });
    }
    this.serverConfigMap = this.configMap(spec, 'server');
    this.agentConfigMap = this.configMap(spec, 'agent');
    this.entrypointConfigMap = kubeObject(this, 'entrypoint', k8s.KubeConfigMap, {
      metadata: metadata(spec, 'server', 'entrypoint'),
      data: { [CONSUL_PATHS.entrypoint.slice(CONSUL_PATHS.entrypoint.lastIndexOf('/') + 1)]: CONSUL_ENTRYPOINT_SCRIPT },
    });
    this.serverService = kubeObject(this, 'server-service', k8s.KubeService, { metadata: metadata(spec, 'server'), spec: serverServiceSpec(spec) });
    this.uiService = spec.uiAccess ? kubeObject(this, 'ui-service', k8s.KubeService, { metadata: metadata(spec, 'server', 'ui'), spec: uiServiceSpec(spec) }) : undefined;
    this.dnsService = kubeObject(this, 'dns-service', k8s.KubeService, { metadata: metadata(spec, 'server', 'dns'), spec: dnsServiceSpec(spec) });
    this.agentService = kubeObject(this, 'agent-service', k8s.KubeService, { metadata: metadata(spec, 'agent'), spec: agentServiceSpec(spec) });
    this.serverStatefulSet = kubeObject(this, 'server', k8s.KubeStatefulSet, { metadata: metadata(spec, 'server'), spec: serverStatefulSetSpec(spec) });
    this.agentDaemonSet = kubeObject(this, 'agent', k8s.KubeDaemonSet, { metadata: metadata(spec, 'agent'), spec: agentDaemonSetSpec(spec) });
    const budget = serverDisruptionBudgetSpec(spec);
    this.podDisruptionBudget = budget && kubeObject(this, 'server-pdb', k8s.KubePodDisruptionBudget, { metadata: metadata(spec, 'server'), spec: budget });
    const policies = networkPolicies(spec);
    new PodNetworkPolicy(this, 'server-network-policy', policies.server);
    new PodNetworkPolicy(this, 'agent-network-policy', policies.agent);
  }

  private configMap(spec: ResolvedConsulCluster, role: Role): k8s.KubeConfigMap {
    return kubeObject(this, `${role}-config`, k8s.KubeConfigMap, { metadata: metadata(spec, role, `${role}-config`), data: { [`${role}.json`]: configFile(spec, role) } });
  }
}
