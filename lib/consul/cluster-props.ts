import { Duration } from 'cdk8s';
import { k8s } from 'cdk8s-plus-27';
import type { ResourceRequirements } from '../core/resources';
import { PodPlacement, StatefulUpgradeOptions } from '../core/placement';
import type { SecretKeyReference, TlsSecretReference } from '../core/secret';
import type { ConsulK8sOptions } from '../mesh/consul-k8s';

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
  /** Turn ACLs on. @default true */
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
 * (`server.<datacenter>.<domain>` for `verify_server_hostname`); a shared agent certificate
 * (optional, see `agentCertificate`) those in `.agent`; both must be signed by the CA.
 */
export interface ConsulTlsOptions {
  /** The CA certificate (PEM). */
  readonly ca: SecretKeyReference;
  /** Certificate and key of the servers. */
  readonly serverCertificate: TlsSecretReference;
  /**
   * Certificate and key shared by all client agents (also their RPC client certificate).
   * Without it each agent gets its own certificate from the servers at start (`auto_encrypt`,
   * signed by Consul's Connect CA, which the servers trust for RPC; needs `connect`).
   * @default - one certificate per agent, from the servers
   */
  readonly agentCertificate?: TlsSecretReference;
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
  /** Remove dead servers once a replacement joins. @default true */
  readonly cleanupDeadServers?: boolean;
  /** `last_contact_threshold`: how long a server may go without contact with the leader before it is unhealthy; at least 1ms. @default Duration.millis(200) */
  readonly lastContactThreshold?: Duration;
  /**
   * `server_stabilization_time`. The servers' `minReadySeconds` follows it (plus autopilot's
   * 10s interval and one readiness period), so a rolling update waits until a restarted server votes.
   * @default Duration.seconds(10)
   */
  readonly serverStabilizationTime?: Duration;
}

/** Props of {@link ConsulCluster}. */
export interface ConsulClusterProps {
  /**
   * Gossip encryption, chosen explicitly: `GossipEncryption.fromSecret({ secretName, key })`
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
  /** Node selection, tolerations and priority of the servers. @default - any node, no tolerations, the default priority */
  readonly serverPlacement?: PodPlacement;
  /**
   * Staged server upgrades (`updatePartition`) and what happens to their data volumes.
   * The roll itself is quorum-safe by default: one server at a time, each a voter again
   * before the next (`minReadySeconds`, see the README's upgrade procedure).
   * @default - every server rolls; volumes are kept
   */
  readonly serverUpgrade?: StatefulUpgradeOptions;
  /** Resources of each server. @default - requests 250m CPU / 256Mi, limits 1 CPU / 512Mi */
  readonly serverResources?: ResourceRequirements;
  /** Resources of each client agent. @default - requests 100m CPU / 128Mi, limits 500m / 256Mi */
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
  /** ACL settings. @default - enabled, deny by default, token persistence on */
  readonly acl?: ConsulAclOptions;
  /** TLS settings. @default - no TLS: RPC and the HTTP API are plain text (gossip is encrypted when `gossipEncryption` has a key) */
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
  /** `reconnect_timeout`: how long a failed node stays in the cluster; at least 8 hours. @default Duration.hours(72) */
  readonly reconnectTimeout?: Duration;
  /** Autopilot settings. @default - Consul's defaults */
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
