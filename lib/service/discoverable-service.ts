import { ApiObject, Chart, Duration, Lazy } from 'cdk8s';
import { k8s } from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import { CircuitBreakerOptions, ConsulMeshControlPlane, checkCircuitBreaker, checkMeshControlPlane } from '../mesh/circuit-breaker';
import { addCircuitBreaker } from '../mesh/service-defaults';
import { HealthSpec, ResolvedHealth } from '../core/health';
import { recommendedLabels, selectorLabels } from '../core/labels';
import { CONSUL_MESH_LABEL, PodNetworkPolicy, clusterDnsEgress, podsIn, policyPort } from '../core/network-policy';
import { IServiceRegistration, RegistrationConfig } from '../registration/registration';
import { addRegistrationScript } from '../registration/scripts';
import { ResourceRequirements, resolveResources } from '../core/resources';
import {
  checkDns1035Label, checkDns1123Label, checkDns1123Subdomain, checkEnvName, checkIanaServiceName,
  checkInteger, checkLabels, checkPinnedImage, checkPort, checkQuantity, checkSecretKey, checkUnique, checkWholeSeconds, invalid,
} from '../core/validation';
import { kubeObject } from '../core/kube-object';
import { restrictedContainerSecurityContext } from '../core/security-context';
import { claimServiceNames } from '../core/name-claims';
import { podDnsConfig } from '../core/dns-config';
import { ConsulServiceIntentions } from '../mesh/service-intentions';

/** Transport protocol of a port. */
export enum PortProtocol {
  TCP = 'TCP',
  UDP = 'UDP',
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

/** A Secret key exposed to the container as an environment variable. */
export interface SecretEnvSource {
  /** Name of the Secret in the service's namespace. */
  readonly secretName: string;
  /** Key in the Secret. */
  readonly key: string;
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
  readonly secretEnv?: Record<string, SecretEnvSource>;
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

/** Envoy's public listener in Consul's mesh: peers' sidecars connect here, not to the app port. */
export const CONSUL_MESH_PUBLIC_LISTENER_PORT = 20000;

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

/** `<name>-headless` must fit a 63-character DNS label. */
const MAX_NAME_LENGTH = 63 - '-headless'.length;
const SECRET_LIKE_NAME = /(PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|CREDENTIALS?)/i;

/**
 * A workload that other services can discover, with everything discovery needs:
 * a Deployment, a ClusterIP Service (server-side discovery), a headless Service with
 * named ports (client-side discovery: A and SRV records), probes from one health spec,
 * graceful shutdown, an optional registry registration, a PodDisruptionBudget and a
 * ServiceAccount, secure by default (Pod Security "restricted").
 */
export class DiscoverableService extends Construct {
  public readonly serviceName: string;
  public readonly namespace: string;
  /** Kubernetes cluster DNS domain. */
  public readonly clusterDomain: string;
  /** Recommended labels every object carries. */
  public readonly labels: Record<string, string>;
  /** Labels the Services and the PodDisruptionBudget select on. */
  public readonly selector: Record<string, string>;
  /** The resolved health spec. */
  public readonly health: ResolvedHealth;
  /** Whether the pods join the Consul service mesh. */
  public readonly inMesh: boolean;
  /** Name of the registry the service registers with, if any. */
  public readonly registry?: string;
  public readonly deployment: ApiObject;
  public readonly service: ApiObject;
  public readonly headlessService: ApiObject;
  public readonly podDisruptionBudget?: ApiObject;
  public readonly serviceAccount: ApiObject;
  public readonly networkPolicy?: PodNetworkPolicy;
  /** Which mesh services may connect to this one: made by the first mesh consumer's `discover()`. */
  public meshIntentions?: ConsulServiceIntentions;
  /** The registry's egress to these pods (its health checks), in the registry's namespace. */
  public readonly registryNetworkPolicy?: PodNetworkPolicy;

  private readonly ports: Required<ServicePortOptions>[];
  private readonly registration?: RegistrationConfig;
  /** Environment of the app container, in insertion order; the key is the variable name. */
  private readonly env = new Map<string, { readonly owner: string; readonly value: k8s.EnvVar }>();
  /** `discover()` calls made so far: target path, port and prefix. */
  private readonly bindings = new Set<string>();
  private readonly ingress = new Map<string, k8s.NetworkPolicyIngressRule>();
  private readonly egress = new Map<string, k8s.NetworkPolicyEgressRule>();
  private readonly podAnnotations: Record<string, string> = {};
  /** Registry client labels of the pod template (never in selectors). */
  private readonly registryLabels = new Map<string, string>();

  constructor(scope: Construct, id: string, props: DiscoverableServiceProps) {
    super(scope, id);
    // Everything is validated before any child is created: nothing half-synthesized.
    this.serviceName = checkDns1035Label(this, 'name', props.name ?? id);
    if (this.serviceName.length > MAX_NAME_LENGTH) {
      invalid(this, 'name', this.serviceName, `must be at most ${MAX_NAME_LENGTH} characters, so the headless Service '<name>-headless' stays a 63-character DNS label`);
    }
    this.namespace = checkDns1123Label(this, 'namespace', props.namespace ?? Chart.of(this).namespace ?? 'default');
    this.clusterDomain = checkDns1123Subdomain(this, 'clusterDomain', props.clusterDomain ?? 'cluster.local');
    const tag = checkPinnedImage(this, 'image', props.image);
    this.ports = resolvePorts(this, props.ports ?? [{ name: 'http', port: 8080 }]);
    const replicas = checkInteger(this, 'replicas', props.replicas ?? 2, 0, 1000);
    const resources = resolveResources(this, 'resources', props.resources);
    this.health = (props.health ?? HealthSpec.http()).resolve(this);
    const healthPort = this.ports.find((p) => p.name === this.health.portName);
    if (!healthPort) {
      invalid(this, 'health.port', this.health.portName, `must name one of the declared ports: ${this.ports.map((p) => p.name).join(', ')}`);
    }
    if (healthPort.protocol !== PortProtocol.TCP) {
      invalid(this, 'health.port', this.health.portName, `must be a TCP port: HTTP probes cannot reach ${healthPort.protocol} port ${healthPort.containerPort}`);
    }
    const runAsUser = checkInteger(this, 'runAsUser', props.runAsUser ?? 10001, 1, 2_147_483_647);
    const tmpSizeLimit = checkQuantity(this, 'tmpSizeLimit', props.tmpSizeLimit ?? '64Mi');
    const userLabels = checkLabels(this, 'labels', props.labels ?? {});
    const dnsConfig = podDnsConfig(this, 'ndots', props.ndots);
    if (props.circuitBreaker) {
      checkCircuitBreaker(this, 'circuitBreaker', props.circuitBreaker);
      checkMeshControlPlane(this, 'meshControlPlane', props.meshControlPlane!);
    }
    this.inMesh = props.circuitBreaker !== undefined;
    this.selector = selectorLabels({ name: this.serviceName, instance: this.serviceName });
    this.labels = {
      ...userLabels,
      ...recommendedLabels({
        name: this.serviceName, instance: this.serviceName, partOf: props.partOf,
        version: props.version ?? labelSafe(tag),
      }),
    };
    checkLabels(this, 'labels', this.labels);
    this.registration = props.registration?.bind({
      scope: this, serviceName: this.serviceName, namespace: this.namespace,
      ports: new Map(this.ports.map((p) => [p.name, p.containerPort])), health: this.health, labels: this.labels,
    });
    this.registry = this.registration?.registry;
    if (this.inMesh && this.registry === 'consul') {
      invalid(this, 'registration', 'consul', 'must not register with Consul for a mesh service: consul-k8s connect-inject registers it (and its sidecar) itself');
    }
    const shutdown = resolveShutdown(this, props.shutdown, this.registration?.shutdownSeconds ?? 0);
    this.addPlainEnv(props.env ?? {});
    this.addSecretEnv(props.secretEnv ?? {});
    this.registration?.ingress?.forEach((rule) => this.addRule(this.ingress, rule));
    this.joinRegistry(this.registration, 'registration');
    if (this.inMesh) this.joinRegistry(meshControlPlaneAccess(props.meshControlPlane!), 'meshControlPlane');

    claimServiceNames(this, this.namespace, [this.serviceName, `${this.serviceName}-headless`]);
    if (this.registration?.script) addRegistrationScript(this, this.namespace, this.registration.script);
    Object.assign(this.podAnnotations, this.registration?.podAnnotations);
    this.serviceAccount = kubeObject(this, 'service-account', k8s.KubeServiceAccount, {
      metadata: this.metadata(),
      automountServiceAccountToken: false,
    });
    this.deployment = kubeObject(this, 'deployment', k8s.KubeDeployment, {
      metadata: this.metadata(),
      spec: this.deploymentSpec({ props, replicas, resources, shutdown, runAsUser, tmpSizeLimit, dnsConfig }),
    });
    this.service = kubeObject(this, 'service', k8s.KubeService, {
      metadata: this.metadata(this.serviceName, this.registration?.serviceAnnotations),
      spec: { type: 'ClusterIP', selector: this.selector, ports: this.servicePorts() },
    });
    this.headlessService = kubeObject(this, 'headless-service', k8s.KubeService, {
      metadata: this.metadata(`${this.serviceName}-headless`),
      spec: {
        clusterIp: 'None',
        selector: this.selector,
        ports: this.servicePorts(),
        publishNotReadyAddresses: props.publishNotReadyAddresses ?? false,
      },
    });
    if (replicas >= 2) {
      this.podDisruptionBudget = kubeObject(this, 'pdb', k8s.KubePodDisruptionBudget, {
        metadata: this.metadata(),
        spec: {
          maxUnavailable: k8s.IntOrString.fromNumber(1),
          selector: { matchLabels: this.selector },
          // Unhealthy pods never count towards availability: evicting them must not block drains.
          unhealthyPodEvictionPolicy: 'AlwaysAllow',
        },
      });
    }
    const mesh = props.circuitBreaker
      ? addCircuitBreaker(this, { serviceName: this.serviceName, namespace: this.namespace, labels: this.labels, options: props.circuitBreaker })
      : undefined;
    if (mesh) Object.assign(this.podAnnotations, mesh.podAnnotations);
    const registryEgress = this.registration?.registryEgress;
    if (registryEgress) {
      // Made even without this service's own policy: the registry's base policy admits no checks.
      this.registryNetworkPolicy = new PodNetworkPolicy(this, 'registry-network-policy', {
        name: `${registryEgress.registryName}-to-${this.serviceName}.${this.namespace}`,
        namespace: registryEgress.namespace,
        labels: this.labels,
        podSelector: registryEgress.podSelector,
        policyTypes: ['Egress'],
        egress: [{ to: [this.podPeer], ports: registryEgress.ports }],
      });
    }
    if (props.networkPolicy ?? true) {
      this.networkPolicy = new PodNetworkPolicy(this, 'network-policy', {
        name: this.serviceName,
        namespace: this.namespace,
        labels: this.labels,
        podSelector: this.selector,
        // Rendered at synth time: bindings declared after construction still count.
        ingress: Lazy.any({ produce: () => [...this.ingress.values()] }) as unknown as k8s.NetworkPolicyIngressRule[],
        egress: Lazy.any({ produce: () => [clusterDnsEgress(this), ...this.egress.values()] }) as unknown as k8s.NetworkPolicyEgressRule[],
      });
    }
  }

  /** Selects this service's pods from any namespace, for NetworkPolicy rules. */
  public get podPeer(): k8s.NetworkPolicyPeer {
    return podsIn(this.namespace, this.selector);
  }

  /** Allows `peer` to reach these pods on the named ports (default: all ports) and any `extraPorts`. */
  public allowIngressFrom(peer: k8s.NetworkPolicyPeer, portNames: string[] = this.ports.map((p) => p.name), extraPorts: k8s.NetworkPolicyPort[] = []): void {
    const ports = portNames.map((name) => {
      const port = this.endpointPort(name);
      return policyPort(port.containerPort, port.protocol);
    });
    this.addRule(this.ingress, { from: [peer], ports: [...ports, ...extraPorts] });
  }

  /** Allows these pods to reach `peer` on `ports`, for dependencies outside the discovery graph. */
  public allowEgressTo(peer: k8s.NetworkPolicyPeer, ports: k8s.NetworkPolicyPort[]): void {
    this.addRule(this.egress, { to: [peer], ports });
  }

  /** The endpoint of one named port (default: the first port). */
  public endpoint(portName: string = this.ports[0].name): ServiceEndpoint {
    const port = this.endpointPort(portName);
    const host = `${this.serviceName}.${this.namespace}.svc.${this.clusterDomain}`;
    const headlessHost = `${this.serviceName}-headless.${this.namespace}.svc.${this.clusterDomain}`;
    return {
      portName: port.name,
      port: port.port,
      host,
      url: `${port.appProtocol}://${host}:${port.port}`,
      headlessHost,
      srv: `_${port.name}._${port.protocol.toLowerCase()}.${headlessHost}`,
    };
  }

  private endpointPort(portName: string): Required<ServicePortOptions> {
    const port = this.ports.find((p) => p.name === portName);
    if (!port) {
      invalid(this, 'port', portName, `must name one of the ports of '${this.serviceName}': ${this.ports.map((p) => p.name).join(', ')}`);
    }
    return port;
  }

  /** Every port's endpoint. */
  public get endpoints(): ServiceEndpoint[] {
    return this.ports.map((p) => this.endpoint(p.name));
  }

  /**
   * The consumer binding: this service discovers `target`. Injects `<PREFIX>_URL`, `_HOST`,
   * `_PORT`, `_SRV` and the target's registry settings into this service's container, plus
   * `POD_NAMESPACE` from the downward API. Fails at once on an unknown port or a variable
   * that another binding or the props already define differently.
   */
  public discover(target: DiscoverableService, options: DiscoverOptions = {}): ServiceEndpoint {
    // Every check runs before anything is added: a rejected binding leaves no trace.
    if (target === this) {
      invalid(this, 'discover', target.serviceName, 'must name another service: a service reaches its own pods without a binding');
    }
    const endpoint = target.endpoint(options.port);
    const prefix = checkEnvName(this, 'discover.envPrefix', options.envPrefix ?? envPrefixOf(target.serviceName));
    const binding = `${target.node.path}#${endpoint.portName}#${prefix}`;
    if (this.bindings.has(binding)) {
      invalid(this, 'discover', target.serviceName,
        `must not repeat a binding: '${this.serviceName}' already discovers '${target.serviceName}' (port ${endpoint.portName}, envPrefix ${prefix}); remove the second call`);
    }
    if (target.inMesh && !this.inMesh) {
      invalid(this, 'discover', target.serviceName, `must be a mesh service to discover mesh service '${target.serviceName}': its sidecar accepts only mTLS from other sidecars`);
    }
    const owner = `discover(${target.serviceName})`;
    const env: PendingEnv[] = [
      ...[['URL', endpoint.url], ['HOST', endpoint.host], ['PORT', String(endpoint.port)], ['SRV', endpoint.srv]]
        .map(([suffix, value]) => ({ name: `${prefix}_${suffix}`, value: { value }, hint: 'pass a different envPrefix' })),
      ...Object.entries(target.registration?.consumerEnv ?? {}).map(([name, value]) => ({
        name, value: { value }, shareable: true, hint: `${target.serviceName}'s registry sets it for its consumers; remove it from env or secretEnv`,
      })),
      {
        name: 'POD_NAMESPACE', value: { valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } }, shareable: true,
        hint: 'every binding sets it from the downward API (the pod\'s namespace); remove it from env or secretEnv',
      },
    ];
    env.forEach((e) => this.checkEnvFree(e.name, owner, e.value, e.shareable, e.hint));
    this.bindings.add(binding);
    env.forEach((e) => this.addEnv(e.name, owner, e.value, e.shareable));
    if (target.inMesh) {
      // Mesh traffic goes sidecar to sidecar, on the public listener, never to the app port,
      // and Consul (ACLs deny by default) must allow it with an intention.
      const listener = policyPort(CONSUL_MESH_PUBLIC_LISTENER_PORT);
      this.allowEgressTo(target.podPeer, [listener]);
      target.allowIngressFrom(this.podPeer, [], [listener]);
      target.allowMeshSource(this.serviceName);
    } else {
      const port = target.endpointPort(endpoint.portName);
      this.allowEgressTo(target.podPeer, [policyPort(port.containerPort, port.protocol)]);
      target.allowIngressFrom(this.podPeer, [endpoint.portName]);
    }
    // A consumer reads the target's registry too: same client label, same egress.
    this.joinRegistry(target.registration, `discover(${target.serviceName})`);
    return endpoint;
  }

  private allowMeshSource(source: string): void {
    this.meshIntentions ??= new ConsulServiceIntentions(this, 'consul-service-intentions', {
      serviceName: this.serviceName, namespace: this.namespace, labels: this.labels,
    });
    this.meshIntentions.allow(source);
  }

  /** The app container's environment variable names, in order. */
  public get envNames(): string[] {
    return [...this.env.keys()];
  }

  private addPlainEnv(env: Record<string, string>): void {
    for (const [name, value] of Object.entries(env)) {
      checkEnvName(this, 'env', name);
      if (SECRET_LIKE_NAME.test(name)) {
        invalid(this, `env.${name}`, '<redacted>', 'looks like a credential: a literal value would sit in the manifest; use secretEnv to read it from a Secret');
      }
      if (typeof value !== 'string') invalid(this, `env.${name}`, value, 'must be a string');
      // The kubelet expands $(VAR) only for variables defined earlier; later ones stay literal text.
      for (const [, ref] of value.matchAll(/(?<!\$)\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g)) {
        if (!this.env.has(ref)) {
          invalid(this, `env.${name}`, value, `references $(${ref}), which is not defined before it: define ${ref} earlier in env, or write $$(${ref}) for a literal`);
        }
      }
      this.addEnv(name, 'env', { value });
    }
  }

  private addSecretEnv(env: Record<string, SecretEnvSource>): void {
    for (const [name, source] of Object.entries(env)) {
      checkEnvName(this, 'secretEnv', name);
      checkDns1123Subdomain(this, `secretEnv.${name}.secretName`, source.secretName);
      checkSecretKey(this, `secretEnv.${name}.key`, source.key);
      this.addEnv(name, 'secretEnv', { valueFrom: { secretKeyRef: { name: source.secretName, key: source.key } } });
    }
  }

  private addEnv(name: string, owner: string, value: Omit<k8s.EnvVar, 'name'>, shareable = false): void {
    this.checkEnvFree(name, owner, value, shareable, 'rename one of them');
    if (!this.env.has(name)) this.env.set(name, { owner, value: { name, ...value } });
  }

  /** Fails when `name` is already set, unless both are the same shareable value. */
  private checkEnvFree(name: string, owner: string, value: Omit<k8s.EnvVar, 'name'>, shareable: boolean | undefined, hint: string): void {
    const existing = this.env.get(name);
    if (!existing) return;
    if (shareable && JSON.stringify(existing.value) === JSON.stringify({ name, ...value })) return;
    invalid(this, `env ${name} (from ${owner})`, value.value ?? value.valueFrom,
      `must not collide: ${existing.owner} already sets ${name}; ${hint}`);
  }

  /** Labels the pods as clients of a registry and lets them reach it. */
  private joinRegistry(registration: RegistrationConfig | undefined, owner: string): void {
    if (!registration) return;
    for (const [key, value] of Object.entries(checkLabels(this, `${owner}.podLabels`, registration.podLabels ?? {}))) {
      const existing = this.registryLabels.get(key);
      if (existing !== undefined && existing !== value) {
        invalid(this, `${owner} pod label ${key}`, value, `must not conflict with ${key}=${existing} from another binding: a pod can be a client of one ${registration.registry} cluster`);
      }
      this.registryLabels.set(key, value);
    }
    registration.egress?.forEach((rule) => this.addRule(this.egress, rule));
  }

  /** Adds a rule once: bindings repeat, the policy should not. */
  private addRule<T>(rules: Map<string, T>, rule: T): void {
    rules.set(JSON.stringify(rule), rule);
  }

  private metadata(name = this.serviceName, annotations?: Record<string, string>): k8s.ObjectMeta {
    return { name, namespace: this.namespace, labels: this.labels, ...(annotations ? { annotations } : {}) };
  }

  private servicePorts(): k8s.ServicePort[] {
    return this.ports.map((p) => ({
      name: p.name,
      port: p.port,
      targetPort: k8s.IntOrString.fromString(p.name),
      protocol: p.protocol,
      appProtocol: p.appProtocol,
    }));
  }

  private deploymentSpec(options: DeploymentSpecOptions): k8s.DeploymentSpec {
    const { replicas, shutdown, runAsUser } = options;
    return {
      replicas,
      revisionHistoryLimit: 5,
      selector: { matchLabels: this.selector },
      // Surge instead of taking a pod away first: capacity never drops during a rollout.
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: k8s.IntOrString.fromString('25%'), maxUnavailable: k8s.IntOrString.fromNumber(0) } },
      template: {
        metadata: {
          labels: Lazy.any({ produce: () => ({ ...Object.fromEntries(this.registryLabels), ...this.labels }) }),
          annotations: Lazy.any({ produce: () => (Object.keys(this.podAnnotations).length ? this.podAnnotations : undefined) }),
        },
        spec: {
          serviceAccountName: this.serviceAccount.name,
          // consul-k8s logs mesh pods in to Consul with their service account token (Kubernetes
          // auth method) and rejects injection when no container mounts it; no other pod needs it.
          automountServiceAccountToken: this.inMesh,
          // Service links would inject <SVC>_PORT=tcp://... and collide with discovery variables.
          enableServiceLinks: false,
          // consul-k8s's transparent-proxy DNS redirection sets the mesh pods' DNS itself and
          // fails injection when a pod already has a dnsConfig (webhook/dns.go).
          dnsConfig: this.inMesh ? undefined : options.dnsConfig,
          terminationGracePeriodSeconds: shutdown.gracePeriodSeconds,
          securityContext: {
            runAsNonRoot: true, runAsUser, runAsGroup: runAsUser, fsGroup: runAsUser,
            seccompProfile: { type: 'RuntimeDefault' },
          },
          affinity: { podAntiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{
            weight: 100,
            podAffinityTerm: { topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: this.selector } },
          }] } },
          containers: [this.appContainer(options), ...(this.registration?.sidecars ?? [])],
          volumes: [{ name: 'tmp', emptyDir: { sizeLimit: k8s.Quantity.fromString(options.tmpSizeLimit) } }, ...(this.registration?.volumes ?? [])],
        },
      },
    };
  }

  private appContainer(options: DeploymentSpecOptions): k8s.Container {
    const { props, resources, shutdown } = options;
    return {
      name: this.serviceName,
      image: props.image,
      imagePullPolicy: 'IfNotPresent',
      command: props.command,
      args: props.args,
      ports: this.ports.map((p) => ({ name: p.name, containerPort: p.containerPort, protocol: p.protocol })),
      env: Lazy.any({ produce: () => (this.env.size ? [...this.env.values()].map((e) => e.value) : undefined) }) as unknown as k8s.EnvVar[],
      resources,
      startupProbe: this.health.startupProbe(),
      livenessProbe: this.health.livenessProbe(),
      readinessProbe: this.health.readinessProbe(),
      lifecycle: shutdown.preStopSeconds > 0
        ? { preStop: { exec: { command: ['sleep', String(shutdown.preStopSeconds)] } } }
        : undefined,
      securityContext: restrictedContainerSecurityContext(),
      volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }],
    };
  }
}

/** A variable a binding is about to inject, checked before any is added. */
interface PendingEnv {
  readonly name: string;
  readonly value: Omit<k8s.EnvVar, 'name'>;
  readonly shareable?: boolean;
  /** What to do about a collision. */
  readonly hint: string;
}

interface DeploymentSpecOptions {
  readonly props: DiscoverableServiceProps;
  readonly replicas: number;
  readonly resources: k8s.ResourceRequirements;
  readonly shutdown: ResolvedShutdown;
  readonly runAsUser: number;
  readonly tmpSizeLimit: string;
  readonly dnsConfig: k8s.PodDnsConfig;
}

interface ResolvedShutdown {
  readonly preStopSeconds: number;
  readonly gracePeriodSeconds: number;
}

/** What a mesh pod needs of the control plane, in the shape a registry contributes it. */
function meshControlPlaneAccess(plane: ConsulMeshControlPlane): RegistrationConfig {
  const servers = podsIn(plane.namespace, plane.podSelector);
  return {
    registry: 'consul',
    podLabels: { [CONSUL_MESH_LABEL]: plane.clusterName },
    egress: [{ to: [servers], ports: [policyPort(plane.grpcPort), policyPort(plane.httpPort)] }],
  };
}

function resolvePorts(scope: Construct, ports: ServicePortOptions[]): Required<ServicePortOptions>[] {
  if (!Array.isArray(ports) || ports.length === 0) invalid(scope, 'ports', ports, 'must declare at least one named port');
  const resolved = ports.map((p, i) => ({
    name: checkIanaServiceName(scope, `ports[${i}].name`, p.name),
    port: checkPort(scope, `ports[${i}].port`, p.port),
    containerPort: checkPort(scope, `ports[${i}].containerPort`, p.containerPort ?? p.port),
    protocol: p.protocol ?? PortProtocol.TCP,
    appProtocol: checkAppProtocol(scope, `ports[${i}].appProtocol`, p.appProtocol ?? 'http'),
  }));
  checkUnique(scope, (i) => `ports[${i}].name`, resolved.map((p) => p.name));
  checkUnique(scope, (i) => `ports[${i}].port`, resolved.map((p) => `${p.port}/${p.protocol}`));
  checkUnique(scope, (i) => `ports[${i}].containerPort`, resolved.map((p) => `${p.containerPort}/${p.protocol}`));
  return resolved;
}

function checkAppProtocol(scope: Construct, field: string, value: string): string {
  if (!/^[a-z][a-z0-9+.-]{0,62}$/.test(value)) {
    invalid(scope, field, value, "must be a lowercase URL scheme such as 'http', 'https', 'grpc' or 'tcp'");
  }
  return value;
}

function resolveShutdown(scope: Construct, options: ShutdownOptions = {}, hookSeconds: number): ResolvedShutdown {
  const preStopSeconds = checkWholeSeconds(scope, 'shutdown.preStopDelay', options.preStopDelay ?? Duration.seconds(5), 0, 600);
  const gracePeriodSeconds = checkWholeSeconds(scope, 'shutdown.terminationGracePeriod', options.terminationGracePeriod ?? Duration.seconds(30), 1, 3600);
  // Name the grace period as the user sees it: a default they never set is not their value.
  const grace = options.terminationGracePeriod === undefined
    ? `the default shutdown.terminationGracePeriod (${gracePeriodSeconds}s)` : `shutdown.terminationGracePeriod (${gracePeriodSeconds}s)`;
  if (preStopSeconds >= gracePeriodSeconds) {
    invalid(scope, 'shutdown.preStopDelay', `${preStopSeconds}s`,
      `must leave time to drain: it must be less than ${grace}; shorten the delay or set a longer terminationGracePeriod`);
  }
  // The registration sidecar gets SIGTERM at once, in parallel with the app's preStop.
  if (hookSeconds >= gracePeriodSeconds) {
    invalid(scope, 'shutdown.terminationGracePeriod', `${gracePeriodSeconds}s`,
      `must exceed the ${hookSeconds}s the registration hook may need to deregister: set shutdown.terminationGracePeriod to at least ${hookSeconds + 1}s`);
  }
  return { preStopSeconds, gracePeriodSeconds };
}

function labelSafe(value: string): string | undefined {
  return /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/.test(value) && value.length <= 63 ? value : undefined;
}

function envPrefixOf(serviceName: string): string {
  return serviceName.toUpperCase().replace(/-/g, '_');
}
