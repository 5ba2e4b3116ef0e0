import { Chart } from 'cdk8s';
import { k8s } from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import {
  CONSUL_ENTRYPOINT_SCRIPT, CONSUL_PATHS, CONSUL_PORTS, DEFAULT_CONSUL_IMAGE, ResolvedConsulTls, agentConfig, checkIpv4Address, configChecksum, coreDnsServerBlock,
  leaderProbeCommand, renderConfig, serverConfig, serverMinReadySeconds,
} from './config';
import type { ConsulMeshControlPlane } from '../mesh/circuit-breaker';
import type { ConsulAgentAddress, ConsulAgentRegistration } from './agent-registration';
import { restrictedContainerSecurityContext } from '../core/security-context';
import { recommendedLabels, selectorLabels } from '../core/labels';
import { claimServiceNames } from '../core/name-claims';
import { podDnsConfig } from '../core/dns-config';
import { CONSUL_CLIENT_LABEL, CONSUL_MESH_LABEL, PodNetworkPolicy, checkPeers, clusterDnsEgress, clusterDnsPeers, podsIn, policyPort } from '../core/network-policy';
import { CONSUL_K8S_POD_SELECTOR, ConsulK8sOptions, ResolvedConsulK8s, consulK8sHelmValues, resolveConsulK8s } from '../mesh/consul-k8s';
import { ResolvedResources, ResourceRequirements, SMALL_SERVICE_RESOURCES, quantityValue, resolveResources } from '../core/resources';
import {
  checkDns1035Label, checkDns1123Label, checkDns1123Subdomain, checkGoDuration, checkInteger, checkLabels,
  checkPinnedImage, checkPresent, checkQuantity, checkSecretKey, invalid, warn,
} from '../core/validation';

export {
  CONSUL_AGENT_POLICY_RULES, CONSUL_DNS_READ_POLICY_RULES, CONSUL_METRICS_READ_POLICY_RULES, CONSUL_PORTS, DEFAULT_CONSUL_IMAGE, DNS_CLUSTER_IP_PLACEHOLDER,
} from './config';

/** A key of a Secret in the cluster's namespace. */
export interface SecretKeyReference {
  /** Name of the Secret. */
  readonly secretName: string;
  /** Key in the Secret. */
  readonly secretKey: string;
}

/** A `kubernetes.io/tls` Secret (keys `tls.crt` and `tls.key`), as cert-manager writes them. */
export interface TlsSecretReference {
  /** Name of the Secret. */
  readonly secretName: string;
}

/**
 * Gossip (Serf) encryption. There is no default: a cluster either reads its key from a
 * Secret or turns encryption off in writing.
 */
export class GossipEncryption {
  /**
   * The 32-byte base64 key (`consul keygen`) in a Secret, read into `CONSUL_GOSSIP_KEY` and
   * passed as `-encrypt`; it never appears in a ConfigMap or the manifest.
   * Create it with `kubectl create secret generic <name> --from-literal=<key>=$(consul keygen)`.
   */
  public static fromSecret(secret: SecretKeyReference): GossipEncryption {
    return new GossipEncryption(secret);
  }

  /** No gossip encryption: anyone who reaches port 8301 can read and join the pool. */
  public static disabled(): GossipEncryption {
    return new GossipEncryption(undefined);
  }

  private constructor(public readonly secret: SecretKeyReference | undefined) {}
}

/** ACL settings. ACLs are on with `default_policy = "deny"` and `down_policy = "extend-cache"`. */
export interface ConsulAclOptions {
  /** @default true */
  readonly enabled?: boolean;
  /** Persist tokens set through the API (`consul acl set-agent-token`) in the data dir. @default true */
  readonly enableTokenPersistence?: boolean;
  /**
   * A Secret key holding an agent configuration fragment with ACL tokens, for example
   * `{"acl":{"tokens":{"agent":"…","dns":"…"}}}`, which servers and agents read as a config
   * file. Under "deny" an agent needs an `agent` token (`CONSUL_AGENT_POLICY_RULES`) to
   * register itself, and DNS needs a token with node and service read
   * (`CONSUL_DNS_READ_POLICY_RULES`). The Secret is optional: the pods start without it (so
   * `consul acl bootstrap` can run first), and the containers' entrypoint reloads Consul
   * when kubelet brings it into the pods or updates it, without a restart.
   * @default - none: set tokens with `consul acl set-agent-token` after `consul acl bootstrap`
   */
  readonly tokensSecret?: SecretKeyReference;
}

/**
 * TLS for RPC, HTTPS and gRPC. Certificates come from Secrets and are mounted as files.
 * The server certificate needs the SANs in {@link ConsulCluster.tlsDnsNames}`.server`
 * (`server.<datacenter>.<domain>` for `verify_server_hostname`), the agent certificate those
 * in `.agent`; both must be signed by the CA.
 */
export interface ConsulTlsOptions {
  /** The CA certificate (PEM). */
  readonly ca: SecretKeyReference;
  /** Certificate and key of the servers. */
  readonly serverCertificate: TlsSecretReference;
  /** Certificate and key of the client agents (shared by all agents; also their RPC client certificate). */
  readonly agentCertificate: TlsSecretReference;
  /** `tls.internal_rpc.verify_incoming`: RPC callers must present a certificate of the CA. @default true */
  readonly verifyIncoming?: boolean;
  /** `tls.defaults.verify_outgoing`. @default true */
  readonly verifyOutgoing?: boolean;
  /** `tls.internal_rpc.verify_server_hostname`: only `server.<dc>.<domain>` certificates act as servers. @default true */
  readonly verifyServerHostname?: boolean;
  /** Serve the API on HTTPS 8501 only (`ports.http = -1`). @default true */
  readonly httpsOnly?: boolean;
}

/** Autopilot settings (applied when the cluster first bootstraps). */
export interface ConsulAutopilotOptions {
  /** @default true */
  readonly cleanupDeadServers?: boolean;
  /** Go duration. @default '200ms' */
  readonly lastContactThreshold?: string;
  /**
   * Go duration. The servers' `minReadySeconds` follows it (plus autopilot's 10s interval
   * and one readiness period), so a rolling update waits until a restarted server votes.
   * @default '10s'
   */
  readonly serverStabilizationTime?: string;
}

/** Props of {@link ConsulCluster}. */
export interface ConsulClusterProps {
  /**
   * Gossip encryption, chosen explicitly: `GossipEncryption.fromSecret({ secretName, secretKey })`
   * or `GossipEncryption.disabled()`.
   */
  readonly gossipEncryption: GossipEncryption;
  /** Cluster name (DNS-1035 label, at most 45 characters): prefix of every object. @default - the construct id */
  readonly name?: string;
  /** Namespace. @default - the chart's namespace, else 'default' */
  readonly namespace?: string;
  /** Pinned Consul image. @default DEFAULT_CONSUL_IMAGE ('hashicorp/consul:1.20.6') */
  readonly image?: string;
  /** Servers: 3, 5 or 7 (1 only with `developmentSingleServer`). @default 3 */
  readonly replicas?: number;
  /**
   * Allow a single server, for development: no fault tolerance and no PodDisruptionBudget.
   * Synthesis records a warning.
   * @default false
   */
  readonly developmentSingleServer?: boolean;
  /** `bootstrap_expect`; must equal `replicas`. @default - replicas */
  readonly bootstrapExpect?: number;
  /** Consul datacenter (DNS label). @default 'dc1' */
  readonly datacenter?: string;
  /** Consul DNS domain (DNS label). @default 'consul' */
  readonly domain?: string;
  /** Kubernetes cluster DNS domain. @default 'cluster.local' */
  readonly clusterDomain?: string;
  /** Size of each server's data volume (a Kubernetes quantity). @default '10Gi' */
  readonly storageSize?: string;
  /** StorageClass of the data volumes. @default - the cluster's default StorageClass */
  readonly storageClassName?: string;
  /** Spread servers across `topology.kubernetes.io/zone` (DoNotSchedule, max skew 1). @default false */
  readonly spreadAcrossZones?: boolean;
  /** @default - requests 250m CPU / 256Mi, limits 1 CPU / 512Mi */
  readonly serverResources?: ResourceRequirements;
  /** @default - requests 100m CPU / 128Mi, limits 500m / 256Mi */
  readonly agentResources?: ResourceRequirements;
  /**
   * Also publish the agents' HTTP(S) and gRPC ports as hostPorts. This violates Pod Security
   * "baseline" (and so "restricted"); the node-local `<name>-agent` Service
   * (`internalTrafficPolicy: Local`) reaches the agent without it.
   * @default false
   */
  readonly agentHostPorts?: boolean;
  /**
   * Taints the agents tolerate. Every node whose pods register needs an agent: a pod on a
   * node without one reaches nothing through the node-local Service.
   * @default - every taint (`operator: Exists`), like other per-node agents
   */
  readonly agentTolerations?: k8s.Toleration[];
  /** @default - enabled, deny by default, token persistence on */
  readonly acl?: ConsulAclOptions;
  /** @default - no TLS: RPC and the HTTP API are plain text (gossip is encrypted when `gossipEncryption` has a key) */
  readonly tls?: ConsulTlsOptions;
  /** Serve the web UI from the servers. @default true */
  readonly ui?: boolean;
  /**
   * Who may open the web UI and the servers' HTTP(S) API through the `<name>-ui` Service,
   * for example an ingress controller's pods or an operations namespace.
   * @default - nobody, and no `<name>-ui` Service (`kubectl port-forward` reaches a server without one)
   */
  readonly uiAccess?: k8s.NetworkPolicyPeer[];
  /**
   * Who may scrape Prometheus metrics from the servers and agents
   * (`/v1/agent/metrics?format=prometheus` on their HTTP(S) port). Turns on
   * `telemetry.prometheus_retention_time`. Under ACLs the scraper sends a token with
   * `agent:read` (see `CONSUL_METRICS_READ_POLICY_RULES`).
   * @default - nobody, and no Prometheus telemetry
   */
  readonly metricsScrapers?: k8s.NetworkPolicyPeer[];
  /**
   * consul-k8s, installed for the service mesh and pointed at these servers: its control
   * plane may reach the servers' gRPC and HTTP(S) API, the servers may call the Kubernetes
   * API (TokenReview of mesh pods' tokens), and {@link ConsulCluster.consulK8sHelmValues}
   * holds the chart values that point it here.
   * @default - no consul-k8s: only mesh pods (`DiscoverableService.meshControlPlane`) reach the servers' gRPC and API
   */
  readonly consulK8s?: ConsulK8sOptions;
  /** Enable Connect (service mesh CA and APIs) on the servers. @default true */
  readonly connect?: boolean;
  /** `reconnect_timeout`: how long a failed node stays in the cluster; Go duration, at least 8h. @default '72h' */
  readonly reconnectTimeout?: string;
  /** @default - Consul's defaults */
  readonly autopilot?: ConsulAutopilotOptions;
  /**
   * Fixed ClusterIP of the `<name>-dns` Service, inside the cluster's Service CIDR. CoreDNS
   * `forward` needs an IP, so pinning it makes {@link ConsulCluster.coreDnsServerBlock} final.
   * @default - assigned by Kubernetes (the CoreDNS block holds a placeholder)
   */
  readonly dnsClusterIp?: string;
  /**
   * UID of the Consul processes. The image's `consul` user is uid 100, so files in the
   * image stay readable; every path Consul writes is a volume owned through `fsGroup`, so
   * any non-root uid works (kube-score asks for >= 10000).
   * @default 100
   */
  readonly runAsUser?: number;
  /** GID and fsGroup (the image's `consul` group is gid 1000). @default 1000 */
  readonly runAsGroup?: number;
  /** Extra labels on every object (never used in selectors). @default - none */
  readonly labels?: Record<string, string>;
  /** `app.kubernetes.io/part-of`. @default - none */
  readonly partOf?: string;
}

/** Where the local client agent is reached; what a {@link ConsulAgentRegistration} needs. */
export interface ConsulAgentEndpoint extends ConsulAgentAddress {
  /** FQDN of the node-local agent Service. */
  readonly host: string;
  readonly scheme: 'http' | 'https';
  /** `host:port`. */
  readonly address: string;
  readonly datacenter: string;
  readonly domain: string;
}

/** What another program needs to know of a {@link ConsulCluster} to use it: see {@link ConsulCluster.fromAttributes}. */
export interface ConsulClusterAttributes {
  /** The cluster's name (`ConsulClusterProps.name`). */
  readonly name: string;
  readonly namespace: string;
  /** Whether the cluster has TLS (`ConsulClusterProps.tls`). @default false */
  readonly tls?: boolean;
  /** @default 'dc1' */
  readonly datacenter?: string;
  /** @default 'consul' */
  readonly domain?: string;
  /** @default 'cluster.local' */
  readonly clusterDomain?: string;
}

/** A Consul cluster as its users see it: where to register and what mesh pods connect to. */
export interface ConsulClusterReference {
  /** The node-local agent, for `ConsulAgentRegistration.agent`. */
  readonly agent: ConsulAgentEndpoint;
  /** The servers, for `DiscoverableService.meshControlPlane`. */
  readonly meshControlPlane: ConsulMeshControlPlane;
}

/** The servers' HTTP(S) API and UI. */
export interface ConsulHttpEndpoint {
  /** FQDN of the `<name>-ui` Service. */
  readonly host: string;
  readonly port: number;
  readonly scheme: 'http' | 'https';
  /** `host:port`. */
  readonly address: string;
  /** `scheme://host:port`. */
  readonly url: string;
}

/** The Consul DNS Service. */
export interface ConsulDnsEndpoint {
  readonly serviceName: string;
  /** FQDN of the Service. */
  readonly host: string;
  readonly port: number;
  /** The pinned ClusterIP, when `dnsClusterIp` is set. */
  readonly clusterIp?: string;
}

/** `<name>-server` and the 10-character controller-revision-hash suffix must fit a 63-character label. */
const MAX_NAME_LENGTH = 45;

const SERVER_RESOURCES: ResolvedResources = {
  requests: { cpu: '250m', memory: '256Mi' },
  limits: { cpu: '1', memory: '512Mi' },
};

const READINESS_PERIOD_SECONDS = 3;

/** Secret files readable by the owner and the fsGroup only. */
const SECRET_FILE_MODE = 0o440;

type Role = 'server' | 'agent';

interface NamedPort {
  readonly name: string;
  readonly port: number;
  readonly protocol: 'TCP' | 'UDP';
}

/** Everything the constructor validated, for the builders. */
interface Resolved {
  readonly image: string;
  readonly gossipSecret?: SecretKeyReference;
  readonly aclTokensSecret?: SecretKeyReference;
  readonly tls?: ResolvedConsulTls & Pick<ConsulTlsOptions, 'ca' | 'serverCertificate' | 'agentCertificate'>;
  readonly storageSize: string;
  readonly storageClassName?: string;
  readonly spreadAcrossZones: boolean;
  readonly agentHostPorts: boolean;
  readonly runAsUser: number;
  readonly runAsGroup: number;
  readonly serverResources: k8s.ResourceRequirements;
  readonly agentResources: k8s.ResourceRequirements;
  readonly serverFile: string;
  readonly agentFile: string;
  readonly uiAccess?: k8s.NetworkPolicyPeer[];
  readonly metricsScrapers?: k8s.NetworkPolicyPeer[];
  readonly consulK8s?: ResolvedConsulK8s;
  readonly serverMinReadySeconds: number;
}

/**
 * A Consul datacenter on Kubernetes, built like the official consul-k8s chart's servers
 * and safer by default: a StatefulSet of 3, 5 or 7 servers with quorum-aware settings,
 * client agents as a DaemonSet reached through a node-local Service (no hostPort), a DNS
 * Service plus the CoreDNS block that forwards `.<domain>` to it, gossip encryption and
 * ACLs on, Pod Security "restricted", and NetworkPolicies that allow only Consul's own
 * traffic and pods labelled `CONSUL_CLIENT_LABEL: <name>`.
 */
export class ConsulCluster extends Construct implements ConsulClusterReference {
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
  private readonly agentTolerations: k8s.Toleration[];
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

  private readonly userLabels: Record<string, string>;
  private readonly partOf?: string;
  private readonly resolved: Resolved;

  constructor(scope: Construct, id: string, props: ConsulClusterProps) {
    super(scope, id);
    // Everything is validated before any child is created: nothing half-synthesized.
    this.clusterName = checkDns1035Label(this, 'name', props.name ?? id);
    if (this.clusterName.length > MAX_NAME_LENGTH) {
      invalid(this, 'name', this.clusterName, `must be at most ${MAX_NAME_LENGTH} characters: the StatefulSet '<name>-server' plus its controller-revision-hash suffix must fit a 63-character label`);
    }
    this.namespace = checkDns1123Label(this, 'namespace', props.namespace ?? Chart.of(this).namespace ?? 'default');
    this.clusterDomain = checkDns1123Subdomain(this, 'clusterDomain', props.clusterDomain ?? 'cluster.local');
    this.datacenter = checkDns1123Label(this, 'datacenter', props.datacenter ?? 'dc1');
    this.domain = checkDns1123Label(this, 'domain', props.domain ?? 'consul');
    this.replicas = this.resolveReplicas(props);
    const dnsClusterIp = props.dnsClusterIp === undefined ? undefined : checkIpv4Address(this, 'dnsClusterIp', props.dnsClusterIp);
    this.userLabels = checkLabels(this, 'labels', props.labels ?? {});
    this.partOf = props.partOf;
    checkLabels(this, 'labels', this.labelsOf('server'));
    this.resolved = this.resolveProps(props);

    this.clientLabels = { [CONSUL_CLIENT_LABEL]: this.clusterName };
    this.serverPodSelector = this.selector('server');
    this.agentPodSelector = this.selector('agent');
    this.agentTolerations = props.agentTolerations ?? [{ operator: 'Exists' }];
    ({ agent: this.agent, meshControlPlane: this.meshControlPlane } = referenceOf({
      name: this.clusterName, namespace: this.namespace, tls: this.resolved.tls !== undefined,
      datacenter: this.datacenter, domain: this.domain, clusterDomain: this.clusterDomain,
    }));
    this.consulK8sHelmValues = this.resolved.consulK8s && consulK8sHelmValues({
      clusterName: this.clusterName, serversNamespace: this.namespace, serverHost: this.fqdn('server'),
      datacenter: this.datacenter, domain: this.domain, acls: (props.acl?.enabled ?? true),
      tls: this.resolved.tls && { caSecret: this.resolved.tls.ca }, grpcPort: CONSUL_PORTS.grpc, httpPort: this.meshControlPlane.httpPort,
      consulK8s: this.resolved.consulK8s,
    });
    this.serverAddresses = Array.from({ length: this.replicas }, (_, i) => `${this.clusterName}-server-${i}.${this.fqdn('server')}`);
    this.http = this.resolved.uiAccess ? endpoint(this.fqdn('ui'), this.resolved.tls !== undefined) : undefined;
    this.dns = { serviceName: `${this.clusterName}-dns`, host: this.fqdn('dns'), port: 53, ...(dnsClusterIp ? { clusterIp: dnsClusterIp } : {}) };
    this.coreDnsServerBlock = coreDnsServerBlock(this.domain, dnsClusterIp,
      `kubectl -n ${this.namespace} get service ${this.dns.serviceName} -o jsonpath='{.spec.clusterIP}'`);
    this.coreDnsConfigMap = dnsClusterIp ? this.coreDnsCustomConfigMap() : undefined;
    this.tlsDnsNames = {
      server: [`server.${this.datacenter}.${this.domain}`, 'localhost', this.fqdn('server'), `*.${this.fqdn('server')}`, this.fqdn('ui')],
      agent: [this.fqdn('agent'), 'localhost'],
    };
    this.recordWarnings(props, dnsClusterIp);

    claimServiceNames(this, this.namespace, ['server', 'ui', 'dns', 'agent'].map((suffix) => `${this.clusterName}-${suffix}`));
    new k8s.KubeServiceAccount(this, 'server-service-account', { metadata: this.metadata('server'), automountServiceAccountToken: false });
    new k8s.KubeServiceAccount(this, 'agent-service-account', { metadata: this.metadata('agent'), automountServiceAccountToken: false });
    this.serverConfigMap = this.configMap('server', this.resolved.serverFile);
    this.agentConfigMap = this.configMap('agent', this.resolved.agentFile);
    this.entrypointConfigMap = new k8s.KubeConfigMap(this, 'entrypoint', {
      metadata: { name: `${this.clusterName}-entrypoint`, namespace: this.namespace, labels: this.labelsOf('server') },
      data: { [entrypointFileName()]: CONSUL_ENTRYPOINT_SCRIPT },
    });
    this.serverService = this.service('server', 'server', {
      clusterIp: 'None',
      // Peers must resolve each other before any is Ready (there is no leader until they do).
      publishNotReadyAddresses: true,
      ports: this.serverPorts().map(servicePort),
    });
    this.uiService = this.resolved.uiAccess ? this.service('ui', 'server', { type: 'ClusterIP', ports: this.httpPorts().map(servicePort) }) : undefined;
    // DNS is served by the servers: they answer from their own state (stale reads allowed)
    // without an agent hop, independent of agent rollouts; CoreDNS caches answers for 30s.
    this.dnsService = this.service('dns', 'server', {
      type: 'ClusterIP',
      ...(dnsClusterIp ? { clusterIp: dnsClusterIp } : {}),
      ports: (['TCP', 'UDP'] as const).map((protocol) => ({
        name: `dns-${protocol.toLowerCase()}`, port: 53, targetPort: k8s.IntOrString.fromString(`dns-${protocol.toLowerCase()}`), protocol,
      })),
    });
    this.agentService = this.service('agent', 'agent', {
      type: 'ClusterIP',
      // Each pod reaches the agent on its own node, like a hostPort would, without one.
      internalTrafficPolicy: 'Local',
      ports: this.clientPorts().map(servicePort),
    });
    this.serverStatefulSet = new k8s.KubeStatefulSet(this, 'server', { metadata: this.metadata('server'), spec: this.statefulSetSpec() });
    this.agentDaemonSet = new k8s.KubeDaemonSet(this, 'agent', { metadata: this.metadata('agent'), spec: this.daemonSetSpec() });
    if (this.replicas > 1) this.podDisruptionBudget = this.disruptionBudget();
    this.networkPolicies();
  }

  /**
   * A cluster defined in another program (the platform team's), for an app team's
   * registrations and mesh services: the same addresses and selectors the cluster itself
   * publishes, from the few settings that decide them.
   */
  public static fromAttributes(attributes: ConsulClusterAttributes): ConsulClusterReference {
    const scope = 'ConsulCluster.fromAttributes';
    return referenceOf({
      name: checkDns1035Label(scope, 'name', checkPresent(scope, 'name', attributes?.name, "the platform's ConsulCluster name")),
      namespace: checkDns1123Label(scope, 'namespace', checkPresent(scope, 'namespace', attributes.namespace, "the platform's ConsulCluster namespace")),
      tls: attributes.tls ?? false,
      datacenter: checkDns1123Label(scope, 'datacenter', attributes.datacenter ?? 'dc1'),
      domain: checkDns1123Label(scope, 'domain', attributes.domain ?? 'consul'),
      clusterDomain: checkDns1123Subdomain(scope, 'clusterDomain', attributes.clusterDomain ?? 'cluster.local'),
    });
  }

  private resolveReplicas(props: ConsulClusterProps): number {
    const development = props.developmentSingleServer ?? false;
    const replicas = props.replicas ?? (development ? 1 : 3);
    if (development && replicas !== 1) {
      invalid(this, 'replicas', replicas, 'must be 1 with developmentSingleServer: true (drop the flag for a 3, 5 or 7 server cluster)');
    }
    if (!development && ![3, 5, 7].includes(replicas)) {
      invalid(this, 'replicas', replicas,
        'must be 3, 5 or 7: an even count tolerates no more failures than the odd count below it, more than 7 slows every Raft write, and a single server needs developmentSingleServer: true');
    }
    const bootstrapExpect = checkInteger(this, 'bootstrapExpect', props.bootstrapExpect ?? replicas, 1);
    if (bootstrapExpect < replicas) {
      invalid(this, 'bootstrapExpect', bootstrapExpect, `must not be below replicas (${replicas}): disjoint groups of fewer servers could each bootstrap a cluster (split brain)`);
    }
    if (bootstrapExpect > replicas) {
      invalid(this, 'bootstrapExpect', bootstrapExpect, `must not exceed replicas (${replicas}): the servers would wait forever for peers that never start`);
    }
    return replicas;
  }

  private resolveProps(props: ConsulClusterProps): Resolved {
    const image = props.image ?? DEFAULT_CONSUL_IMAGE;
    checkPinnedImage(this, 'image', image);
    if (!(props.gossipEncryption instanceof GossipEncryption)) {
      invalid(this, 'gossipEncryption', props.gossipEncryption,
        'must be chosen explicitly: GossipEncryption.fromSecret({ secretName, secretKey }) or GossipEncryption.disabled()');
    }
    const gossipSecret = props.gossipEncryption.secret && checkSecretKeyReference(this, 'gossipEncryption', props.gossipEncryption.secret);
    const acl = props.acl ?? {};
    const aclTokensSecret = acl.tokensSecret && checkSecretKeyReference(this, 'acl.tokensSecret', acl.tokensSecret);
    const tls = props.tls && this.resolveTls(props.tls);
    const uiAccess = props.uiAccess && checkPeers(this, 'uiAccess', props.uiAccess);
    const metricsScrapers = props.metricsScrapers && checkPeers(this, 'metricsScrapers', props.metricsScrapers);
    const consulK8s = props.consulK8s && resolveConsulK8s(this, 'consulK8s', props.consulK8s, this.clusterName);
    const storageSize = checkQuantity(this, 'storageSize', props.storageSize ?? '10Gi');
    if (!(quantityValue(storageSize) > 0)) invalid(this, 'storageSize', storageSize, 'must be a positive quantity such as 10Gi');
    const reconnectTimeout = props.reconnectTimeout ?? '72h';
    checkGoDuration(this, 'reconnectTimeout', reconnectTimeout, 8 * 3_600_000);
    const lastContactThreshold = props.autopilot?.lastContactThreshold ?? '200ms';
    checkGoDuration(this, 'autopilot.lastContactThreshold', lastContactThreshold, 1);
    const serverStabilizationTime = props.autopilot?.serverStabilizationTime ?? '10s';
    const serverStabilizationMs = checkGoDuration(this, 'autopilot.serverStabilizationTime', serverStabilizationTime);
    const common = {
      datacenter: this.datacenter,
      domain: this.domain,
      retryJoin: `${this.fqdn('server')}:${CONSUL_PORTS.serfLan}`,
      reconnectTimeout,
      acl: (acl.enabled ?? true) ? { enableTokenPersistence: acl.enableTokenPersistence ?? true } : undefined,
      tls,
      prometheus: metricsScrapers !== undefined,
    };
    return {
      image,
      gossipSecret,
      aclTokensSecret,
      tls,
      storageSize,
      storageClassName: props.storageClassName === undefined ? undefined : checkDns1123Subdomain(this, 'storageClassName', props.storageClassName),
      spreadAcrossZones: props.spreadAcrossZones ?? false,
      agentHostPorts: props.agentHostPorts ?? false,
      runAsUser: checkInteger(this, 'runAsUser', props.runAsUser ?? 100, 1, 2_147_483_647),
      runAsGroup: checkInteger(this, 'runAsGroup', props.runAsGroup ?? 1000, 1, 2_147_483_647),
      serverResources: resolveResources(this, 'serverResources', props.serverResources, SERVER_RESOURCES),
      agentResources: resolveResources(this, 'agentResources', props.agentResources, SMALL_SERVICE_RESOURCES),
      serverFile: renderConfig(serverConfig({
        ...common,
        bootstrapExpect: this.replicas,
        replicas: this.replicas,
        ui: props.ui ?? true,
        connect: props.connect ?? true,
        autopilot: { cleanupDeadServers: props.autopilot?.cleanupDeadServers ?? true, lastContactThreshold, serverStabilizationTime },
      })),
      agentFile: renderConfig(agentConfig(common)),
      uiAccess,
      metricsScrapers,
      consulK8s,
      serverMinReadySeconds: serverMinReadySeconds(serverStabilizationMs, READINESS_PERIOD_SECONDS),
    };
  }

  private resolveTls(tls: ConsulTlsOptions): Resolved['tls'] {
    for (const field of ['ca', 'serverCertificate', 'agentCertificate'] as const) {
      if (!tls[field]) {
        invalid(this, `tls.${field}`, tls[field],
          'TLS needs certificates: set tls.ca ({ secretName, secretKey }), tls.serverCertificate and tls.agentCertificate ({ secretName } of kubernetes.io/tls Secrets)');
      }
    }
    checkSecretKeyReference(this, 'tls.ca', tls.ca);
    checkDns1123Subdomain(this, 'tls.serverCertificate.secretName', tls.serverCertificate.secretName);
    checkDns1123Subdomain(this, 'tls.agentCertificate.secretName', tls.agentCertificate.secretName);
    return {
      ca: tls.ca,
      serverCertificate: tls.serverCertificate,
      agentCertificate: tls.agentCertificate,
      verifyIncoming: tls.verifyIncoming ?? true,
      verifyOutgoing: tls.verifyOutgoing ?? true,
      verifyServerHostname: tls.verifyServerHostname ?? true,
      httpsOnly: tls.httpsOnly ?? true,
    };
  }

  private recordWarnings(props: ConsulClusterProps, dnsClusterIp: string | undefined): void {
    const warning = (message: string) => warn(this, message);
    if (this.replicas === 1) warning('developmentSingleServer: one Consul server has no fault tolerance and no PodDisruptionBudget; use 3 or 5 servers in production');
    if (!this.resolved.gossipSecret) warning('gossip encryption is disabled: any pod that reaches port 8301 can read and join the gossip pool');
    if (props.acl?.enabled === false) warning('ACLs are disabled: every client of the HTTP API and DNS has full access');
    else if (!props.acl?.tokensSecret) {
      warning('ACLs deny by default but acl.tokensSecret is not set: agents cannot register their node (and so no service) until they get an agent token, and a token set with `consul acl set-agent-token` is lost when an agent pod restarts (its data dir is an emptyDir)');
    }
    if (this.resolved.agentHostPorts) warning('agentHostPorts: the agents use hostPorts, which Pod Security "baseline" forbids; their namespace must allow "privileged"');
    if (!dnsClusterIp) {
      warning(`dnsClusterIp is not pinned: coreDnsServerBlock forwards to a placeholder; set dnsClusterIp or replace the placeholder with the ClusterIP of Service ${this.namespace}/${this.dns.serviceName}`);
    }
  }

  private fqdn(suffix: string): string {
    return `${this.clusterName}-${suffix}.${this.namespace}.svc.${this.clusterDomain}`;
  }

  private selector(role: Role): Record<string, string> {
    return selectorLabels({ name: 'consul', instance: this.clusterName, component: role });
  }

  private labelsOf(role: Role): Record<string, string> {
    return { ...this.userLabels, ...recommendedLabels({ name: 'consul', instance: this.clusterName, component: role, partOf: this.partOf }) };
  }

  private metadata(role: Role, suffix: string = role): k8s.ObjectMeta {
    return { name: `${this.clusterName}-${suffix}`, namespace: this.namespace, labels: this.labelsOf(role) };
  }

  private configMap(role: Role, file: string): k8s.KubeConfigMap {
    return new k8s.KubeConfigMap(this, `${role}-config`, { metadata: this.metadata(role, `${role}-config`), data: { [`${role}.json`]: file } });
  }

  private service(suffix: string, role: Role, spec: Omit<k8s.ServiceSpec, 'selector'>): k8s.KubeService {
    return new k8s.KubeService(this, `${suffix}-service`, { metadata: this.metadata(role, suffix), spec: { ...spec, selector: this.selector(role) } });
  }

  private coreDnsCustomConfigMap(): k8s.KubeConfigMapProps {
    return {
      metadata: { name: 'coredns-custom', namespace: 'kube-system', labels: this.labelsOf('server') },
      data: { [`${this.clusterName}.server`]: this.coreDnsServerBlock },
    };
  }

  /** HTTP and/or HTTPS, as the TLS settings serve them. */
  private httpPorts(): NamedPort[] {
    const tls = this.resolved.tls;
    return [
      ...(!tls || !tls.httpsOnly ? [{ name: 'http', port: CONSUL_PORTS.http, protocol: 'TCP' as const }] : []),
      ...(tls ? [{ name: 'https', port: CONSUL_PORTS.https, protocol: 'TCP' as const }] : []),
    ];
  }

  /** What clients use: HTTP(S) and gRPC. */
  private clientPorts(): NamedPort[] {
    return [...this.httpPorts(), { name: 'grpc', port: CONSUL_PORTS.grpc, protocol: 'TCP' }];
  }

  private serverPorts(): NamedPort[] {
    return [
      { name: 'server', port: CONSUL_PORTS.server, protocol: 'TCP' },
      ...tcpAndUdp('serflan', CONSUL_PORTS.serfLan),
      ...tcpAndUdp('serfwan', CONSUL_PORTS.serfWan),
      ...this.clientPorts(),
      ...tcpAndUdp('dns', CONSUL_PORTS.dns),
    ];
  }

  private statefulSetSpec(): k8s.StatefulSetSpec {
    const { storageSize, storageClassName, spreadAcrossZones } = this.resolved;
    const selector = this.selector('server');
    return {
      serviceName: this.serverService.name,
      replicas: this.replicas,
      // Start all servers at once: they need each other to elect a leader (and so to be Ready).
      podManagementPolicy: 'Parallel',
      updateStrategy: { type: 'RollingUpdate' },
      // A restarted server is Ready before it votes; the next one waits until it does.
      minReadySeconds: this.resolved.serverMinReadySeconds,
      revisionHistoryLimit: 5,
      selector: { matchLabels: selector },
      template: this.podTemplate('server', {
        // The root filesystem is read-only; a server writes a snapshot to a temporary file
        // before it streams it (`consul snapshot save` fails without a writable /tmp).
        volumes: [{ name: 'tmp', emptyDir: { sizeLimit: k8s.Quantity.fromString(storageSize) } }],
        affinity: { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: selector } }] } },
        topologySpreadConstraints: spreadAcrossZones
          ? [{ maxSkew: 1, topologyKey: 'topology.kubernetes.io/zone', whenUnsatisfiable: 'DoNotSchedule', labelSelector: { matchLabels: selector } }]
          : undefined,
      }),
      volumeClaimTemplates: [{
        // Selector labels only: volume claim templates are immutable, so a changed label or
        // part-of would force the StatefulSet (every server at once) to be replaced.
        metadata: { name: 'data', labels: this.selector('server') },
        spec: {
          accessModes: ['ReadWriteOnce'],
          resources: { requests: { storage: k8s.Quantity.fromString(storageSize) } },
          storageClassName,
        },
      }],
    };
  }

  private daemonSetSpec(): k8s.DaemonSetSpec {
    return {
      selector: { matchLabels: this.selector('agent') },
      updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: k8s.IntOrString.fromNumber(1) } },
      revisionHistoryLimit: 5,
      template: this.podTemplate('agent', {
        tolerations: this.agentTolerations,
        // Agent state (node ID, checks) is per pod; a replaced agent registers afresh.
        volumes: [{ name: 'data', emptyDir: { sizeLimit: k8s.Quantity.fromString('128Mi') } }],
      }),
    };
  }

  private podTemplate(role: Role, extra: Pick<k8s.PodSpec, 'affinity' | 'topologySpreadConstraints' | 'volumes' | 'tolerations'>): k8s.PodTemplateSpec {
    const { runAsUser, runAsGroup } = this.resolved;
    const file = role === 'server' ? this.resolved.serverFile : this.resolved.agentFile;
    const secretVolumes = this.secretVolumes(role);
    return {
      metadata: {
        labels: this.labelsOf(role),
        // A config or entrypoint change changes the pod template, so the pods roll.
        annotations: { 'discovery-kit.io/config-checksum': configChecksum(file + CONSUL_ENTRYPOINT_SCRIPT) },
      },
      spec: {
        serviceAccountName: `${this.clusterName}-${role}`,
        // Consul joins through DNS, not the Kubernetes API: no pod needs a token.
        automountServiceAccountToken: false,
        enableServiceLinks: false,
        // retry_join names an FQDN: look it up absolute first.
        dnsConfig: podDnsConfig(this, 'ndots'),
        terminationGracePeriodSeconds: 30,
        securityContext: { runAsNonRoot: true, runAsUser, runAsGroup, fsGroup: runAsGroup, seccompProfile: { type: 'RuntimeDefault' } },
        affinity: extra.affinity,
        topologySpreadConstraints: extra.topologySpreadConstraints,
        tolerations: extra.tolerations,
        containers: [this.container(role, secretVolumes.map((v) => v.mount))],
        volumes: [
          { name: 'config', configMap: { name: `${this.clusterName}-${role}-config` } },
          { name: 'entrypoint', configMap: { name: this.entrypointConfigMap.name } },
          ...(extra.volumes ?? []),
          ...secretVolumes.map((v) => v.volume),
        ],
      },
    };
  }

  private container(role: Role, secretMounts: k8s.VolumeMount[]): k8s.Container {
    const { image, gossipSecret, aclTokensSecret, tls, agentHostPorts } = this.resolved;
    const ports = role === 'server' ? this.serverPorts() : [...tcpAndUdp('serflan', CONSUL_PORTS.serfLan), ...this.clientPorts()];
    const hostPorts = role === 'agent' && agentHostPorts ? new Set(this.clientPorts().map((p) => p.name)) : new Set<string>();
    const reloadDirs = secretMounts.map((m) => m.mountPath);
    return {
      name: 'consul',
      image,
      imagePullPolicy: 'IfNotPresent',
      // The entrypoint runs `consul <args>` as PID 1 (instead of the image's dumb-init) and
      // reloads it when a mounted Secret changes; kubelet expands $(VAR) from env.
      command: ['/bin/sh', CONSUL_PATHS.entrypoint],
      args: [
        'agent', `-config-dir=${CONSUL_PATHS.config}`, '-advertise=$(POD_IP)',
        ...(gossipSecret ? ['-encrypt=$(CONSUL_GOSSIP_KEY)'] : []),
        ...(aclTokensSecret ? [`-config-dir=${CONSUL_PATHS.aclDir}`] : []),
      ],
      env: [
        { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
        ...(reloadDirs.length > 0 ? [{ name: 'RELOAD_WATCH_DIRS', value: reloadDirs.join(' ') }] : []),
        // The pod already runs as its user: no chown or su-exec in the entrypoint.
        { name: 'CONSUL_DISABLE_PERM_MGMT', value: 'true' },
        ...(gossipSecret ? [{ name: 'CONSUL_GOSSIP_KEY', valueFrom: { secretKeyRef: { name: gossipSecret.secretName, key: gossipSecret.secretKey } } }] : []),
        // For `kubectl exec ... consul <command>` (ACL bootstrap, snapshots).
        { name: 'CONSUL_HTTP_ADDR', value: tls ? `https://localhost:${CONSUL_PORTS.https}` : `http://127.0.0.1:${CONSUL_PORTS.http}` },
        ...(tls ? [{ name: 'CONSUL_CACERT', value: CONSUL_PATHS.caFile }] : []),
      ],
      ports: ports.map((p) => ({ name: p.name, containerPort: p.port, protocol: p.protocol, ...(hostPorts.has(p.name) ? { hostPort: p.port } : {}) })),
      resources: role === 'server' ? this.resolved.serverResources : this.resolved.agentResources,
      // Readiness only: a follower waiting for quorum must not be restarted by a liveness probe.
      readinessProbe: this.readinessProbe(role),
      securityContext: restrictedContainerSecurityContext(),
      volumeMounts: [
        { name: 'data', mountPath: CONSUL_PATHS.data },
        { name: 'config', mountPath: CONSUL_PATHS.config, readOnly: true },
        { name: 'entrypoint', mountPath: dirOf(CONSUL_PATHS.entrypoint), readOnly: true },
        ...(role === 'server' ? [{ name: 'tmp', mountPath: CONSUL_PATHS.tmp }] : []),
        ...secretMounts,
      ],
    };
  }

  /**
   * Servers are Ready when a leader exists (the official chart's check). Agents are Ready
   * when their API accepts connections: local registration and health checks work without
   * a leader, and behind a node-local Service an unready agent cuts its whole node off, so
   * a leader election must not empty every node's agent Service.
   */
  private readinessProbe(role: Role): k8s.Probe {
    const tls = this.resolved.tls !== undefined;
    const handler = role === 'server'
      ? { exec: { command: leaderProbeCommand(tls) } }
      : { tcpSocket: { port: k8s.IntOrString.fromString(tls ? 'https' : 'http') } };
    return { ...handler, initialDelaySeconds: 5, periodSeconds: READINESS_PERIOD_SECONDS, timeoutSeconds: 2, failureThreshold: 2, successThreshold: 1 };
  }

  /** TLS files and the ACL tokens fragment, each a Secret volume with its mount. */
  private secretVolumes(role: Role): SecretVolume[] {
    const { tls, aclTokensSecret } = this.resolved;
    const volumes: SecretVolume[] = [];
    if (tls) {
      const certificate = role === 'server' ? tls.serverCertificate : tls.agentCertificate;
      volumes.push(secretVolume('tls-ca', dirOf(CONSUL_PATHS.caFile), tls.ca.secretName, { [tls.ca.secretKey]: 'ca.crt' }));
      volumes.push(secretVolume('tls-cert', dirOf(CONSUL_PATHS.certFile), certificate.secretName, { 'tls.crt': 'tls.crt', 'tls.key': 'tls.key' }));
    }
    if (aclTokensSecret) {
      // Optional: the pods must start before the tokens exist (they are made with `consul acl
      // bootstrap`, which needs running servers); the entrypoint reloads when it appears.
      volumes.push(secretVolume('acl-tokens', CONSUL_PATHS.aclDir, aclTokensSecret.secretName, { [aclTokensSecret.secretKey]: 'tokens.json' }, true));
    }
    return volumes;
  }

  private disruptionBudget(): k8s.KubePodDisruptionBudget {
    return new k8s.KubePodDisruptionBudget(this, 'server-pdb', {
      metadata: this.metadata('server'),
      spec: {
        maxUnavailable: k8s.IntOrString.fromNumber(1),
        selector: { matchLabels: this.selector('server') },
        // Readiness means "a leader exists", so without quorum every server is unready:
        // IfHealthyBudget then blocks drains until quorum is back instead of evicting them all.
        unhealthyPodEvictionPolicy: 'IfHealthyBudget',
      },
    });
  }

  /**
   * Default deny for servers and agents, allowing exactly Consul's traffic: RPC and gossip
   * among servers and agents (serf is bidirectional; every server also joins the WAN pool,
   * so servers gossip with each other on 8302), CoreDNS to the servers' DNS, labelled clients
   * to the agents' API and mesh sidecars to the servers' gRPC, the opted-in UI users and
   * metrics scrapers to the HTTP(S) port, and everyone to cluster DNS. The agents' health
   * checks of registered pods are allowed by one policy per registering service
   * (`ConsulAgentRegistration`), to that service's check port only.
   */
  private networkPolicies(): void {
    const servers: k8s.NetworkPolicyPeer = { podSelector: { matchLabels: this.selector('server') } };
    const agents: k8s.NetworkPolicyPeer = { podSelector: { matchLabels: this.selector('agent') } };
    const clients: k8s.NetworkPolicyPeer = { namespaceSelector: {}, podSelector: { matchLabels: this.clientLabels } };
    const serfLan = policyPorts(tcpAndUdp('serflan', CONSUL_PORTS.serfLan));
    const rpcAndSerfLan = [policyPort(CONSUL_PORTS.server), ...serfLan];
    const serverToServer = [...rpcAndSerfLan, ...policyPorts(tcpAndUdp('serfwan', CONSUL_PORTS.serfWan))];
    const { uiAccess, metricsScrapers, consulK8s } = this.resolved;
    // consul-k8s's init container and sidecar (mesh pods) and its control plane use gRPC and the HTTP(S) API.
    const meshApi = [policyPort(CONSUL_PORTS.grpc), policyPort(this.meshControlPlane.httpPort)];
    const meshPods: k8s.NetworkPolicyPeer = { namespaceSelector: {}, podSelector: { matchLabels: { [CONSUL_MESH_LABEL]: this.clusterName } } };
    const http = policyPorts(this.httpPorts());
    const scrapes: k8s.NetworkPolicyIngressRule[] = metricsScrapers ? [{ from: metricsScrapers, ports: http }] : [];
    new PodNetworkPolicy(this, 'server-network-policy', {
      ...this.policyMetadata('server'),
      ingress: [
        { from: [servers], ports: serverToServer },
        { from: [agents], ports: rpcAndSerfLan },
        { from: clusterDnsPeers(this), ports: policyPorts(tcpAndUdp('dns', CONSUL_PORTS.dns)) },
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
        clusterDnsEgress(this),
      ],
    });
    new PodNetworkPolicy(this, 'agent-network-policy', {
      ...this.policyMetadata('agent'),
      ingress: [
        { from: [servers, agents], ports: serfLan },
        { from: [clients], ports: policyPorts(this.clientPorts()) },
        ...scrapes,
      ],
      egress: [
        { to: [servers], ports: rpcAndSerfLan },
        { to: [agents], ports: serfLan },
        clusterDnsEgress(this),
      ],
    });
  }

  private policyMetadata(role: Role): { name: string; namespace: string; labels: Record<string, string>; podSelector: Record<string, string> } {
    return { name: `${this.clusterName}-${role}`, namespace: this.namespace, labels: this.labelsOf(role), podSelector: this.selector(role) };
  }
}

/** What decides where a cluster's agents and servers are reached. */
type ReferenceInputs = Required<ConsulClusterAttributes>;

/** The agent endpoint and mesh control plane of a cluster: one derivation for the construct and for fromAttributes. */
function referenceOf(a: ReferenceInputs): ConsulClusterReference {
  const fqdn = (suffix: string) => `${a.name}-${suffix}.${a.namespace}.svc.${a.clusterDomain}`;
  const podSelector = (component: Role) => selectorLabels({ name: 'consul', instance: a.name, component });
  return {
    agent: {
      ...endpoint(fqdn('agent'), a.tls),
      clusterName: a.name, datacenter: a.datacenter, domain: a.domain, namespace: a.namespace, podSelector: podSelector('agent'),
    },
    meshControlPlane: {
      clusterName: a.name, namespace: a.namespace, podSelector: podSelector('server'),
      grpcPort: CONSUL_PORTS.grpc, httpPort: a.tls ? CONSUL_PORTS.https : CONSUL_PORTS.http,
    },
  };
}

function endpoint(host: string, tls: boolean): ConsulHttpEndpoint {
  const scheme = tls ? 'https' : 'http';
  const port = tls ? CONSUL_PORTS.https : CONSUL_PORTS.http;
  return { host, port, scheme, address: `${host}:${port}`, url: `${scheme}://${host}:${port}` };
}

function tcpAndUdp(prefix: string, port: number): NamedPort[] {
  return [{ name: `${prefix}-tcp`, port, protocol: 'TCP' }, { name: `${prefix}-udp`, port, protocol: 'UDP' }];
}

function servicePort(p: NamedPort): k8s.ServicePort {
  return { name: p.name, port: p.port, targetPort: k8s.IntOrString.fromString(p.name), protocol: p.protocol };
}

function policyPorts(ports: NamedPort[]): k8s.NetworkPolicyPort[] {
  return ports.map((p) => policyPort(p.port, p.protocol));
}

interface SecretVolume {
  readonly volume: k8s.Volume;
  readonly mount: k8s.VolumeMount;
}

/** A Secret mounted read-only at `mountPath`, with `items` mapping keys to file names. */
function secretVolume(name: string, mountPath: string, secretName: string, items: Record<string, string>, optional?: boolean): SecretVolume {
  return {
    volume: { name, secret: { secretName, items: Object.entries(items).map(([key, path]) => ({ key, path })), defaultMode: SECRET_FILE_MODE, optional } },
    mount: { name, mountPath, readOnly: true },
  };
}

function dirOf(filePath: string): string {
  return filePath.slice(0, filePath.lastIndexOf('/'));
}

function entrypointFileName(): string {
  return CONSUL_PATHS.entrypoint.slice(CONSUL_PATHS.entrypoint.lastIndexOf('/') + 1);
}

/** A Secret reference whose name and key are set together and well-formed. */
function checkSecretKeyReference(scope: Construct, field: string, ref: SecretKeyReference): SecretKeyReference {
  const hasName = ref.secretName !== undefined;
  const hasKey = ref.secretKey !== undefined;
  if (hasName !== hasKey) {
    const [missing, present] = hasName ? ['secretKey', 'secretName'] : ['secretName', 'secretKey'];
    invalid(scope, `${field}.${missing}`, undefined, `must be set together with ${field}.${present}`);
  }
  if (!hasName) invalid(scope, field, ref, 'must name a Secret key: { secretName, secretKey }');
  checkDns1123Subdomain(scope, `${field}.secretName`, ref.secretName);
  checkSecretKey(scope, `${field}.secretKey`, ref.secretKey);
  return ref;
}
