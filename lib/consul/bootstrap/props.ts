import { Duration } from 'cdk8s';
import { k8s } from 'cdk8s-plus-27';
import type { ResourceRequirements } from '../../core/resources';
import type { SecretKeyReference, TlsSecretReference } from '../../core/secret';

/**
 * What {@link ConsulBootstrap} needs of the cluster it bootstraps; a `ConsulCluster`
 * satisfies it.
 */
export interface ConsulBootstrapCluster {
  /** The cluster's name: prefix of the Secrets, policies and objects the bootstrap owns. */
  readonly clusterName: string;
  /** The cluster's namespace, where the bootstrap runs and its Secrets live. */
  readonly namespace: string;
  /** Kubernetes cluster DNS domain. */
  readonly clusterDomain: string;
  readonly datacenter: string;
  /** Consul DNS domain. */
  readonly domain: string;
  /** Labels that select the server pods. */
  readonly serverPodSelector: Record<string, string>;
  /** The servers' HTTP(S) API port (8501 means HTTPS). */
  readonly meshControlPlane: { readonly httpPort: number };
  /** DNS names the server certificate must carry. */
  readonly tlsDnsNames: { readonly server: readonly string[] };
}

/** The Secrets a bootstrap writes in the cluster's namespace (see {@link consulBootstrapSecrets}). */
export interface ConsulBootstrapSecrets {
  /** The gossip key (`consul keygen`), for `GossipEncryption.fromSecret`. */
  readonly gossipKey: SecretKeyReference;
  /** The management token from `consul acl bootstrap` (also what consul-k8s's server-acl-init reads). */
  readonly bootstrapToken: SecretKeyReference;
  /** The agents' and DNS tokens as an agent config fragment, for `acl.tokensSecret`. */
  readonly aclTokens: SecretKeyReference;
  /** The CA certificate (PEM), for `tls.ca` and the registration sidecars' `caCert`. */
  readonly ca: SecretKeyReference;
  /** The CA certificate and private key: read by the bootstrap only, never mounted by a pod. */
  readonly caKey: TlsSecretReference;
  /** The servers' certificate (`kubernetes.io/tls`), for `tls.serverCertificate`. */
  readonly serverCertificate: TlsSecretReference;
  /** A token with `CONSUL_SNAPSHOT_POLICY_RULES`, for `ConsulSnapshotSchedule.aclToken`. */
  readonly snapshotToken: SecretKeyReference;
}

/** Props of {@link ConsulBootstrap}. */
export interface ConsulBootstrapProps {
  /** The cluster to bootstrap, e.g. a `ConsulCluster`. */
  readonly cluster: ConsulBootstrapCluster;
  /**
   * Where the Kubernetes API server's endpoints are, for the bootstrap's egress
   * NetworkPolicy: usually `{ ipBlock: { cidr: '<endpoint IP>/32' } }` per control-plane
   * endpoint (`kubectl get endpoints kubernetes`); NetworkPolicies see the endpoints after
   * DNAT, not the `kubernetes` Service's ClusterIP.
   */
  readonly apiServer: k8s.NetworkPolicyPeer[];
  /** Port of those endpoints. @default 6443 */
  readonly apiServerPort?: number;
  /** Generate the gossip key into `secrets.gossipKey` when that Secret is missing. @default true */
  readonly gossipKey?: boolean;
  /**
   * Generate a CA (`consul tls ca create`) and the servers' certificate
   * (`consul tls cert create -server`) into `secrets.ca`, `secrets.caKey` and
   * `secrets.serverCertificate`, and issue the server certificate again before it expires.
   * Agents get their own certificates from the servers (`auto_encrypt`), so none is made for them.
   * @default false
   */
  readonly tls?: boolean;
  /** Validity of a generated CA. @default Duration.days(1825) */
  readonly caValidity?: Duration;
  /** Validity of a generated server certificate. @default Duration.days(365) */
  readonly serverCertificateValidity?: Duration;
  /** Issue the server certificate again when it expires within this. @default Duration.days(30) */
  readonly renewBefore?: Duration;
  /**
   * Bootstrap ACLs and create the agent, DNS and per-service tokens
   * ({@link ConsulServiceToken}). @default true
   */
  readonly acl?: boolean;
  /**
   * Also attach the DNS read policy to the anonymous token: Consul before 1.17 answers DNS
   * with it and ignores `acl.tokens.dns`. Anyone who reaches the HTTP API without a token can
   * then read the catalog's nodes and services.
   * @default false
   */
  readonly anonymousDnsRead?: boolean;
  /**
   * Also create a token with `CONSUL_SNAPSHOT_POLICY_RULES` in `secrets.snapshotToken`, for a
   * `ConsulSnapshotSchedule`. Off unless asked: it may change every ACL.
   * @default false
   */
  readonly snapshotToken?: boolean;
  /**
   * The CA that signed the servers' HTTPS certificate, when the cluster serves HTTPS and
   * `tls` is off (with `tls` the generated CA is used).
   * @default - none: required when the cluster serves HTTPS without `tls`
   */
  readonly caCert?: SecretKeyReference;
  /** Secret names, for bringing your own. @default - consulBootstrapSecrets(cluster.clusterName) */
  readonly secrets?: Partial<ConsulBootstrapSecrets>;
  /**
   * How often the CronJob reconciles (new services' tokens, deleted Secrets, certificate
   * renewal): whole minutes from 1 to 60.
   * @default Duration.minutes(5)
   */
  readonly reconcileInterval?: Duration;
  /** How long one run waits for the servers to elect a leader before it fails (and the Job retries). @default Duration.minutes(10) */
  readonly consulWait?: Duration;
  /** Image with `consul`, `curl`, `jq` and `sh`. @default DEFAULT_CONSUL_IMAGE */
  readonly image?: string;
  /** @default - requests 10m CPU / 32Mi, limits 200m / 128Mi */
  readonly resources?: ResourceRequirements;
  /** UID of the job's process. @default 100 */
  readonly runAsUser?: number;
  /** GID and fsGroup. @default 1000 */
  readonly runAsGroup?: number;
  /** Extra labels on every object (never in selectors). @default - none */
  readonly labels?: Record<string, string>;
  /** `app.kubernetes.io/part-of`. @default - none */
  readonly partOf?: string;
}

/** What a {@link ConsulServiceToken} needs to know of the bootstrap: see {@link ConsulBootstrap.fromAttributes}. */
export interface ConsulBootstrapReference {
  /** The Consul cluster's name. */
  readonly clusterName: string;
  /** The Consul cluster's namespace. */
  readonly namespace: string;
  /** The bootstrap's ServiceAccount, which writes the token Secrets. */
  readonly serviceAccountName: string;
}

/** Props of {@link ConsulServiceToken}. */
export interface ConsulServiceTokenProps {
  /** The platform's bootstrap: `ConsulBootstrap` or `ConsulBootstrap.fromAttributes(...)`. */
  readonly bootstrap: ConsulBootstrapReference;
  /** The Consul service name (DNS-1035 label): the token's service identity. */
  readonly serviceName: string;
  /** Namespace of the service's pods, where the token Secret is written. */
  readonly namespace: string;
  /** Where the token goes. @default - `{ secretName: '<serviceName>-consul-token', key: 'token' }` */
  readonly secret?: SecretKeyReference;
  /** Extra labels on every object. @default - none */
  readonly labels?: Record<string, string>;
}

/**
 * Key of a service token Secret under which the bootstrap also writes, when the servers serve
 * HTTPS, the CA bundle that verifies the agents: the servers' CA and the Connect CA roots (which
 * sign `auto_encrypt` agents' certificates). A token's own key may not be this one.
 */
export const CONSUL_SERVICE_TOKEN_CA_KEY = 'ca.crt';

/** Label of the per-service token declarations (ConfigMaps in the Consul namespace): `<label>: <cluster name>`. */
export const CONSUL_SERVICE_TOKEN_LABEL = 'discovery-kit.io/consul-service-token';

/**
 * The stable Secret names a bootstrap writes for cluster `clusterName`, so that the
 * `ConsulCluster` (in the same or another program) can name them before they exist.
 */
export function consulBootstrapSecrets(clusterName: string): ConsulBootstrapSecrets {
  return {
    gossipKey: { secretName: `${clusterName}-gossip-key`, key: 'key' },
    bootstrapToken: { secretName: `${clusterName}-bootstrap-token`, key: 'token' },
    aclTokens: { secretName: `${clusterName}-acl-tokens`, key: 'tokens.json' },
    ca: { secretName: `${clusterName}-ca`, key: 'ca.crt' },
    caKey: { secretName: `${clusterName}-ca-key` },
    serverCertificate: { secretName: `${clusterName}-server-tls` },
    snapshotToken: { secretName: `${clusterName}-snapshot-token`, key: 'token' },
  };
}
