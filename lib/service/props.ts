import { Duration } from 'cdk8s';
import { HealthSpec } from '../core/health';
import { ResourceRequirements } from '../core/resources';
import { SecretKeyReference } from '../core/secret';
import { CircuitBreakerOptions, ConsulMeshControlPlane } from '../mesh/circuit-breaker';
import { IServiceRegistration } from '../registration/registration';

/** Transport protocol of a port. */
export enum PortProtocol {
  TCP = 'TCP',
  UDP = 'UDP',
}

/**
 * How kube-proxy (or a replacement) picks among the ready endpoints of the ClusterIP Service
 * (`spec.trafficDistribution`, GA since Kubernetes 1.33). Each is a preference: without a
 * ready endpoint that close, traffic goes to any ready endpoint.
 */
export enum TrafficDistribution {
  /**
   * Endpoints in the client's zone, for clusters before 1.34 (GA in 1.33).
   * @deprecated Kubernetes 1.36 warns on apply ("use PreferSameZone"): use PREFER_SAME_ZONE.
   */
  PREFER_CLOSE = 'PreferClose',
  /** Endpoints in the client's zone (beta and on by default since Kubernetes 1.34; PreferClose's new name). */
  PREFER_SAME_ZONE = 'PreferSameZone',
  /** Endpoints on the client's node, else in its zone (beta and on by default since Kubernetes 1.34). */
  PREFER_SAME_NODE = 'PreferSameNode',
}

/** A named port the service listens on. */
export interface ServicePortOptions {
  /** IANA service name (≤ 15 chars); becomes the SRV record `_<name>._<proto>`. */
  readonly name: string;
  /** Port the Services expose. */
  readonly port: number;
  /** Port the container listens on. @default - same as `port` */
  readonly containerPort?: number;
  /** @default PortProtocol.TCP */
  readonly protocol?: PortProtocol;
  /**
   * Application protocol, written to the Service's `appProtocol` and used as the URL scheme
   * of the port's endpoint.
   * @default 'http'
   */
  readonly appProtocol?: string;
}

/** Graceful shutdown timing. */
export interface ShutdownOptions {
  /**
   * How long the container keeps serving after deletion starts (an exec `sleep` in preStop),
   * so kube-proxy, CoreDNS and registries stop sending traffic before SIGTERM. Set
   * `Duration.seconds(0)` for images without `sleep`.
   * @default Duration.seconds(5)
   */
  readonly preStopDelay?: Duration;
  /**
   * Total time from the start of preStop to SIGKILL; must exceed the preStop delay plus any
   * registration hook's shutdown time, leaving the app time to drain.
   * @default Duration.seconds(30)
   */
  readonly terminationGracePeriod?: Duration;
}

/** Props of {@link DiscoverableService}. */
export interface DiscoverableServiceProps {
  /** Service name: a DNS-1035 label, used as metadata.name of every object. @default - the construct id */
  readonly name?: string;
  /** Namespace. @default - the chart's namespace, else 'default' */
  readonly namespace?: string;
  /** Pinned container image (`repo:tag` other than latest, or `repo@sha256:...`). */
  readonly image: string;
  /** Named ports. @default - one port `http` on 8080 */
  readonly ports?: ServicePortOptions[];
  /** @default 2 */
  readonly replicas?: number;
  /** @default - requests 100m CPU / 128Mi, limits 500m / 256Mi */
  readonly resources?: ResourceRequirements;
  /** Container command (entrypoint). @default - the image's entrypoint */
  readonly command?: string[];
  /** Container args. @default - the image's cmd */
  readonly args?: string[];
  /**
   * Plain environment variables. Names that look like credentials (PASSWORD, SECRET, TOKEN,
   * API_KEY, PRIVATE_KEY) are rejected: use `secretEnv`.
   * @default - none
   */
  readonly env?: Record<string, string>;
  /** Environment variables read from Secrets. @default - none */
  readonly secretEnv?: Record<string, SecretKeyReference>;
  /** Health endpoints; yields the probes and the registry's check. @default HealthSpec.http() */
  readonly health?: HealthSpec;
  /** @default - 5s preStop delay, 30s grace period */
  readonly shutdown?: ShutdownOptions;
  /** Extra labels on every object (never used in selectors). @default - none */
  readonly labels?: Record<string, string>;
  /** `app.kubernetes.io/part-of`. @default - none */
  readonly partOf?: string;
  /** `app.kubernetes.io/version`. @default - the image tag, when it is a valid label value */
  readonly version?: string;
  /**
   * Publish not-ready pods in the headless Service's DNS (peers that must find each other
   * before they are Ready).
   * @default false
   */
  readonly publishNotReadyAddresses?: boolean;
  /** UID, GID and fsGroup of the pod (the app and any registration sidecar); non-root, ≥ 10000 by default. @default 10001 */
  readonly runAsUser?: number;
  /** Size limit of the writable `/tmp` emptyDir (the root filesystem is read-only). @default '64Mi' */
  readonly tmpSizeLimit?: string;
  /** Registration with a service registry. @default - none (Kubernetes DNS only) */
  readonly registration?: IServiceRegistration;
  /** Kubernetes cluster DNS domain. @default 'cluster.local' */
  readonly clusterDomain?: string;
  /**
   * The pods' resolver `ndots`. Names with at least this many dots are looked up as
   * absolute names first. The default makes every injected FQDN resolve with one query
   * instead of walking the three search domains first (Kubernetes' default is 5), and
   * leaves shorter names (`payment-service`, `payment-service.production`) as they were.
   * @default DEFAULT_NDOTS (4)
   */
  readonly ndots?: number;
  /**
   * Keep server-side discovery (the ClusterIP Service) close to the client: saves cross-zone
   * traffic and latency, at the price of uneven load when clients are unevenly spread, so
   * run enough replicas per zone (the pods spread over nodes, not zones). Only the ClusterIP
   * Service has it: the headless Service's DNS answers (client-side discovery) and the
   * registries list every pod. The Consul agent Service (`internalTrafficPolicy: Local`) is a
   * different thing: a hard node-local rule with no fallback, for an agent on every node;
   * `PreferSameNode` is the soft form, for services that may run on fewer nodes than their
   * clients.
   * @default - unset: Kubernetes spreads traffic over every ready endpoint of the cluster
   */
  readonly trafficDistribution?: TrafficDistribution;
  /**
   * Isolate the pods with a NetworkPolicy that allows only cluster DNS, the declared
   * discovery bindings (in both directions), the registry, and what
   * {@link DiscoverableService.allowIngressFrom} / {@link DiscoverableService.allowEgressTo} add.
   * @default true
   */
  readonly networkPolicy?: boolean;
  /**
   * Put the service in the Consul service mesh (connect-inject) with passive health checks,
   * limits and failover as consul-k8s `ServiceDefaults` / `ServiceResolver`. They act only on
   * mesh traffic, never on DNS or HTTP-API discovery. Keeping injected pods Pod Security
   * "restricted" needs consul-k8s's CNI plugin (see `CONSUL_MESH_POD_SECURITY_NOTE`).
   * consul-k8s registers mesh services itself, so a Consul `registration` is rejected, and
   * every consumer must be in the mesh too (its sidecar speaks mTLS to this one).
   * @default - not in the mesh
   */
  readonly circuitBreaker?: CircuitBreakerOptions;
  /**
   * The Consul servers the mesh sidecar (consul-dataplane) connects to, e.g.
   * `ConsulCluster.meshControlPlane`; required with `circuitBreaker`. The pods get the
   * cluster's client label and egress to the servers' gRPC port.
   * @default - none
   */
  readonly meshControlPlane?: ConsulMeshControlPlane;
}

/** How one port of a service is reached. */
export interface ServiceEndpoint {
  readonly portName: string;
  readonly port: number;
  /** Server-side discovery: the ClusterIP Service's DNS name. */
  readonly host: string;
  /** `<appProtocol>://<host>:<port>`. */
  readonly url: string;
  /** Client-side discovery: the headless Service's DNS name (one A record per pod). */
  readonly headlessHost: string;
  /** Client-side discovery: `_<port>._<proto>.<name>-headless.<ns>.svc.<domain>`. */
  readonly srv: string;
}

/** Options of {@link DiscoverableService.discover}. */
export interface DiscoverOptions {
  /** Port of the target to bind. @default - the target's first port */
  readonly port?: string;
  /** Prefix of the injected variables. @default - the target's name upper-cased, '-' → '_' */
  readonly envPrefix?: string;
}
