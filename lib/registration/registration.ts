import { k8s } from 'cdk8s-plus-27';
import { Construct, IConstruct } from 'constructs';
import { restrictedContainerSecurityContext } from '../core/security-context';
import { ResolvedHealth } from '../core/health';
import { resolveResources } from '../core/resources';
import { invalid } from '../core/validation';
import { RegistrationScript, scriptPodParts } from './scripts';

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
  /** Annotations added to the pod template, e.g. the checksum of the sidecar's script. @default - none */
  readonly podAnnotations?: Record<string, string>;
  /**
   * The script the sidecars run, from a ConfigMap of the namespace that the service makes
   * once per App with `addRegistrationScript` (lib/registration/scripts.ts). @default - none
   */
  readonly script?: RegistrationScript;
  /** Traffic the pods must send to reach the registry. @default - none */
  readonly egress?: k8s.NetworkPolicyEgressRule[];
  /** Traffic the pods must accept from the registry, e.g. its health checks. @default - none */
  readonly ingress?: k8s.NetworkPolicyIngressRule[];
  /**
   * Egress the registry's own pods need towards this service, e.g. the agents' health
   * checks of its pods: rendered as a NetworkPolicy in the registry's namespace that
   * selects the registry pods (policies add up, so the registry's base policy stays
   * narrow). @default - none
   */
  readonly registryEgress?: RegistryEgress;
  /** Annotations for the ClusterIP Service (catalog sync). @default - none */
  readonly serviceAnnotations?: Record<string, string>;
  /**
   * Seconds the hook may need to deregister after SIGTERM, which it receives at once, in
   * parallel with the app's preStop delay; the termination grace period must exceed it.
   * @default 0
   */
  readonly shutdownSeconds?: number;
  /**
   * Registry settings that consumers of the service receive through the consumer binding
   * (for example `CONSUL_HTTP_ADDR`). Shared names with equal values may repeat across
   * bindings; different values for one name are an error. @default - none
   */
  readonly consumerEnv?: Record<string, string>;
  /**
   * Makes the objects the registration needs besides the pod's parts, e.g. the declaration of
   * its ACL token. `bind()` runs inside the service's validation pass and creates nothing; the
   * service calls this once, after that pass, with itself as `scope`. @default - nothing to make
   */
  readonly addObjects?: (scope: Construct) => void;
}

/** Egress from a registry's pods to the registering service's pods. */
export interface RegistryEgress {
  /** Name of the registry, for the policy's name. */
  readonly registryName: string;
  /** Namespace of the registry's pods. */
  readonly namespace: string;
  /** Labels that select the registry's pods. */
  readonly podSelector: Record<string, string>;
  /** Ports of the service's pods they reach. */
  readonly ports: k8s.NetworkPolicyPort[];
}

/**
 * Registers a {@link DiscoverableService} with a registry. Implementations are bound once,
 * when the service is constructed (the aws-cdk `bind()` pattern).
 */
export interface IServiceRegistration {
  bind(target: RegistrationTarget): RegistrationConfig;
}

/** The container port a registration publishes: `portName` must be one of the service's ports. */
export function registrationPort(target: RegistrationTarget, portName: string = target.health.portName): number {
  const port = target.ports.get(portName);
  if (port === undefined) {
    invalid(target.scope, 'registration.port', portName, `must name one of the service's ports: ${[...target.ports.keys()].join(', ')}`);
  }
  return port;
}

/** What differs between registration sidecars. */
export interface RegistrationSidecarOptions {
  readonly name: string;
  /** A pinned image (checked by the registration's validation pass). */
  readonly image: string;
  /** The POSIX sh script the sidecar runs, with its environment as its only input. */
  readonly script: RegistrationScript;
  /** Environment beyond POD_NAME and POD_IP. @default - none */
  readonly env?: k8s.EnvVar[];
  /** Mounts beyond the script's. @default - none */
  readonly volumeMounts?: k8s.VolumeMount[];
  /** Pod volumes beyond the script's. @default - none */
  readonly volumes?: k8s.Volume[];
}

const SIDECAR_RESOURCES = { requests: { cpu: '10m', memory: '32Mi' }, limits: { cpu: '100m', memory: '64Mi' } };

/**
 * A registration sidecar and what the pod needs for it: runs `sh <script>` from the script's
 * ConfigMap with the pod's name and IP from the downward API, small requests and limits and
 * the restricted security context; the script's checksum on the pod template rolls the pods
 * when the script changes.
 */
export function registrationSidecar(target: RegistrationTarget, options: RegistrationSidecarOptions): Required<Pick<RegistrationConfig, 'sidecars' | 'volumes' | 'podAnnotations' | 'script'>> {
  const script = scriptPodParts(options.script);
  const sidecar: k8s.Container = {
    name: options.name,
    image: options.image,
    imagePullPolicy: 'IfNotPresent',
    command: script.command,
    env: [
      { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
      { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
      ...(options.env ?? []),
    ],
    resources: resolveResources(target.scope, 'registration.resources', {}, SIDECAR_RESOURCES),
    securityContext: restrictedContainerSecurityContext(),
    volumeMounts: [script.volumeMount, ...(options.volumeMounts ?? [])],
  };
  return { sidecars: [sidecar], volumes: [script.volume, ...(options.volumes ?? [])], podAnnotations: script.podAnnotations, script: options.script };
}
