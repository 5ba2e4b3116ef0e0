import { k8s } from 'cdk8s-plus-27';
import { IConstruct } from 'constructs';
import { ResolvedHealth } from './health';

/** What a registration needs to know about the service it registers. */
export interface RegistrationTarget {
  /** The construct, for error messages. */
  readonly scope: IConstruct;
  /** Service name (DNS-1035 label). */
  readonly serviceName: string;
  readonly namespace: string;
  /** Container ports by name. */
  readonly ports: ReadonlyMap<string, number>;
  /** The validated health spec; registry checks derive from its readiness half. */
  readonly health: ResolvedHealth;
  /** Recommended labels of the service, for objects the registration creates. */
  readonly labels: Record<string, string>;
}

/** The pieces a registration contributes to a {@link DiscoverableService}. */
export interface RegistrationConfig {
  /** Short name of the registry for outputs and docs, such as `consul` or `etcd`. */
  readonly registry: string;
  /** Sidecar containers that register, keep alive and deregister. @default - none */
  readonly sidecars?: k8s.Container[];
  /** Pod volumes the sidecars mount. @default - none */
  readonly volumes?: k8s.Volume[];
  /** Labels added to the pod template (never to selectors), e.g. a registry's client label. @default - none */
  readonly podLabels?: Record<string, string>;
  /** Traffic the pods must send to reach the registry. @default - none */
  readonly egress?: k8s.NetworkPolicyEgressRule[];
  /** Traffic the pods must accept from the registry, e.g. its health checks. @default - none */
  readonly ingress?: k8s.NetworkPolicyIngressRule[];
  /** Annotations for the ClusterIP Service (catalog sync). @default - none */
  readonly serviceAnnotations?: Record<string, string>;
  /**
   * Seconds the hook needs on shutdown before the pod is killed; the termination grace
   * period must leave room for it beyond the preStop delay. @default 0
   */
  readonly shutdownSeconds?: number;
  /**
   * Registry settings that consumers of the service receive through the consumer binding
   * (for example `CONSUL_HTTP_ADDR`). Shared names with equal values may repeat across
   * bindings; different values for one name are an error. @default - none
   */
  readonly consumerEnv?: Record<string, string>;
}

/**
 * Registers a {@link DiscoverableService} with a registry. Implementations are bound once,
 * when the service is constructed (the aws-cdk `bind()` pattern).
 */
export interface IServiceRegistration {
  bind(target: RegistrationTarget): RegistrationConfig;
}
