import { ApiObject, Lazy } from 'cdk8s';
import { k8s } from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import { ResolvedHealth } from '../core/health';
import { kubeObject } from '../core/kube-object';
import { clusterDnsEgress, CONSUL_MESH_LABEL, DNS_REASON, PodNetworkPolicy, podsIn, policyPort } from '../core/network-policy';
import { checkEnvName, invalid } from '../core/validation';
import { GatewayReference } from '../gateway/gateway';
import * as gw from '../gateway/imports/gateway.networking.k8s.io';
import { ExposeOptions, grpcRouteProps, httpRouteProps, referenceGrantProps, resolveRoute } from '../gateway/route';
import { CONSUL_MESH_PUBLIC_LISTENER_PORT, ConsulMeshControlPlane } from '../mesh/circuit-breaker';
import { addCircuitBreaker } from '../mesh/service-defaults';
import { ConsulServiceIntentions } from '../mesh/service-intentions';
import { RegistrationConfig } from '../registration/registration';
import { addRegistrationScript } from '../registration/scripts';
import { PendingEnv, ServiceBindings } from './bindings';
import { ExternalService, ExternalServiceEndpoint } from './external-service';
import { DiscoverableServiceProps, DiscoverOptions, ServiceEndpoint } from './props';
import {
  deploymentProps, headlessServiceProps, podDisruptionBudgetProps, serviceAccountProps, serviceProps,
} from './render';
import { ResolvedPort, ResolvedService, resolveService } from './resolve';

/**
 * A workload that other services can discover, with everything discovery needs:
 * a Deployment, a ClusterIP Service (server-side discovery), a headless Service with
 * named ports (client-side discovery: A and SRV records), probes from one health spec,
 * graceful shutdown, an optional registry registration, a PodDisruptionBudget and a
 * ServiceAccount, secure by default (Pod Security "restricted").
 *
 * Props are validated in one pass (every problem in one {@link DiscoveryKitValidationError},
 * before any object exists), resolved into a spec, and rendered; `discover()` and the
 * `allow*` methods add to the spec, which the objects read when the chart synthesizes.
 */
export class DiscoverableService extends Construct {
  public readonly serviceName: string;
  public readonly namespace: string;
  /** Kubernetes cluster DNS domain. */
  public readonly clusterDomain: string;
  /** Recommended labels every object carries. */
  public readonly labels: Record<string, string>;
  /** Labels the Services, the PodDisruptionBudget and peers' NetworkPolicies select the pods by. */
  public readonly podSelector: Record<string, string>;
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

  private readonly spec: ResolvedService;
  private readonly bindings: ServiceBindings;

  constructor(scope: Construct, id: string, props: DiscoverableServiceProps) {
    super(scope, id);
    const spec = this.spec = resolveService(this, id, props);
    const bindings = this.bindings = new ServiceBindings(this);
    this.serviceName = spec.name;
    this.namespace = spec.namespace;
    this.clusterDomain = spec.clusterDomain;
    this.labels = spec.labels;
    this.podSelector = spec.podSelector;
    this.health = spec.health;
    this.inMesh = spec.mesh !== undefined;
    this.registry = spec.registration?.registry;

    if (spec.registration?.script) addRegistrationScript(this, spec.namespace, spec.registration.script);
    spec.registration?.addObjects?.(this);
    Object.assign(bindings.podAnnotations, spec.registration?.podAnnotations);
    spec.env.forEach((e) => bindings.addEnv(e, e.owner));
    const registry = spec.registration?.registry;
    spec.registration?.ingress?.forEach((rule) => bindings.addIngress(rule, `registry: ${registry} checks ${spec.name}`));
    if (spec.registration) bindings.joinRegistry(spec.registration, 'registration', `registry: ${spec.name} registers with ${registry}`);
    if (spec.mesh) bindings.joinRegistry(meshControlPlaneAccess(spec.mesh.controlPlane), 'meshControlPlane', 'mesh: control plane');

    this.serviceAccount = kubeObject(this, 'service-account', k8s.KubeServiceAccount, serviceAccountProps(spec));
    this.deployment = kubeObject(this, 'deployment', k8s.KubeDeployment, deploymentProps(spec, bindings, this.serviceAccount.name));
    this.service = kubeObject(this, 'service', k8s.KubeService, serviceProps(spec));
    this.headlessService = kubeObject(this, 'headless-service', k8s.KubeService, headlessServiceProps(spec));
    if (spec.replicas >= 2) {
      this.podDisruptionBudget = kubeObject(this, 'pdb', k8s.KubePodDisruptionBudget, podDisruptionBudgetProps(spec));
    }
    if (spec.mesh) {
      const mesh = addCircuitBreaker(this, { serviceName: spec.name, namespace: spec.namespace, labels: spec.labels, options: spec.mesh.circuitBreaker });
      Object.assign(bindings.podAnnotations, mesh.podAnnotations);
    }
    const registryEgress = spec.registration?.registryEgress;
    if (registryEgress) {
      // Made even without this service's own policy: the registry's base policy admits no checks.
      this.registryNetworkPolicy = new PodNetworkPolicy(this, 'registry-network-policy', {
        name: `${registryEgress.registryName}-to-${spec.name}.${spec.namespace}`,
        namespace: registryEgress.namespace,
        labels: spec.labels,
        podSelector: registryEgress.podSelector,
        policyTypes: ['Egress'],
        egress: [{ to: [this.podPeer], ports: registryEgress.ports }],
        reasons: { egress: () => [`registry: ${spec.registration!.registry} checks ${spec.name}`] },
      });
    }
    if (spec.networkPolicy) {
      this.networkPolicy = new PodNetworkPolicy(this, 'network-policy', {
        name: spec.name,
        namespace: spec.namespace,
        labels: spec.labels,
        podSelector: spec.podSelector,
        // Read at synthesis: bindings declared after construction still count.
        ingress: Lazy.any({ produce: () => bindings.ingressRules }) as unknown as k8s.NetworkPolicyIngressRule[],
        egress: Lazy.any({ produce: () => [clusterDnsEgress(this), ...bindings.egressRules] }) as unknown as k8s.NetworkPolicyEgressRule[],
        reasons: { ingress: () => bindings.ingressReasons, egress: () => [DNS_REASON, ...bindings.egressReasons] },
      });
    }
  }

  /** Selects this service's pods from any namespace, for NetworkPolicy rules. */
  public get podPeer(): k8s.NetworkPolicyPeer {
    return podsIn(this.namespace, this.podSelector);
  }

  /**
   * Allows `peer` to reach these pods on the named ports (default: all ports) and any
   * `extraPorts`; `why` says why in the connectivity report.
   */
  public allowIngressFrom(peer: k8s.NetworkPolicyPeer, portNames: string[] = this.spec.ports.map((p) => p.name), extraPorts: k8s.NetworkPolicyPort[] = [], why = 'allowIngressFrom'): void {
    const ports = portNames.map((name) => {
      const port = this.endpointPort(name);
      return policyPort(port.containerPort, port.protocol);
    });
    this.bindings.addIngress({ from: [peer], ports: [...ports, ...extraPorts] }, why);
  }

  /**
   * Allows these pods to reach `peer` on `ports`, for dependencies outside the discovery
   * graph; `why` says why in the connectivity report.
   */
  public allowEgressTo(peer: k8s.NetworkPolicyPeer, ports: k8s.NetworkPolicyPort[], why = 'allowEgressTo'): void {
    this.bindings.addEgress({ to: [peer], ports }, why);
  }

  /** The endpoint of one named port (default: the first port). */
  public endpoint(portName: string = this.spec.ports[0].name): ServiceEndpoint {
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

  private endpointPort(portName: string): ResolvedPort {
    const port = this.spec.ports.find((p) => p.name === portName);
    if (!port) {
      invalid(this, 'port', portName, `must name one of the ports of '${this.serviceName}': ${this.spec.ports.map((p) => p.name).join(', ')}`);
    }
    return port;
  }

  /** Every port's endpoint. */
  public get endpoints(): ServiceEndpoint[] {
    return this.spec.ports.map((p) => this.endpoint(p.name));
  }

  /** The app container's environment variable names, in order. */
  public get envNames(): string[] {
    return this.bindings.envNames;
  }

  /**
   * The consumer binding: this service discovers `target`. Injects `<PREFIX>_URL`, `_HOST`,
   * `_PORT`, `_SRV` (where cluster DNS serves one) and the target's registry settings into this
   * service's container, plus `POD_NAMESPACE` from the downward API, and lets this service
   * reach exactly the bound port. Fails at once on an unknown port or a variable that another
   * binding or the props already define differently.
   */
  public discover(target: DiscoverableService, options?: DiscoverOptions): ServiceEndpoint;
  public discover(target: ExternalService, options?: DiscoverOptions): ExternalServiceEndpoint;
  public discover(target: DiscoverableService | ExternalService, options: DiscoverOptions = {}): ServiceEndpoint | ExternalServiceEndpoint {
    // Every check runs before anything is added: a rejected binding leaves no trace.
    if (target === this) {
      invalid(this, 'discover', target.serviceName, 'must name another service: a service reaches its own pods without a binding');
    }
    const endpoint = target.endpoint(options.port);
    const prefix = checkEnvName(this, 'discover.envPrefix', options.envPrefix ?? envPrefixOf(target.serviceName));
    const binding = `${target.node.path}#${endpoint.portName}#${prefix}`;
    if (this.bindings.hasDiscovery(binding)) {
      invalid(this, 'discover', target.serviceName,
        `must not repeat a binding: '${this.serviceName}' already discovers '${target.serviceName}' (port ${endpoint.portName}, envPrefix ${prefix}); remove the second call`);
    }
    if (target instanceof DiscoverableService && target.inMesh && !this.inMesh) {
      invalid(this, 'discover', target.serviceName, `must be a mesh service to discover mesh service '${target.serviceName}': its sidecar accepts only mTLS from other sidecars`);
    }
    const registration = target instanceof DiscoverableService ? target.spec.registration : undefined;
    const owner = `discover(${target.serviceName})`;
    const env: PendingEnv[] = [
      ...[['URL', endpoint.url], ['HOST', endpoint.host], ['PORT', String(endpoint.port)], ['SRV', endpoint.srv]]
        .flatMap(([suffix, value]) => (value === undefined ? [] : [{ name: `${prefix}_${suffix}`, value: { value }, hint: 'pass a different envPrefix' }])),
      ...Object.entries(registration?.consumerEnv ?? {}).map(([name, value]) => ({
        name, value: { value }, shareable: true, hint: `${target.serviceName}'s registry sets it for its consumers; remove it from env or secretEnv`,
      })),
      {
        name: 'POD_NAMESPACE', value: { valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } }, shareable: true,
        hint: 'every binding sets it from the downward API (the pod\'s namespace); remove it from env or secretEnv',
      },
    ];
    env.forEach((e) => this.bindings.checkEnvFree(e, owner));
    if (registration) this.bindings.checkRegistry(registration, owner);
    this.bindings.addDiscovery(binding);
    env.forEach((e) => this.bindings.addEnv(e, owner));
    const why = `binding: ${this.serviceName} discovers ${target.serviceName} (${endpoint.portName})`;
    if (target instanceof ExternalService) {
      this.bindings.addEgress(target.egressRule(endpoint.portName), `external ${why}`);
    } else if (target.inMesh) {
      // Mesh traffic goes sidecar to sidecar, on the public listener, never to the app port,
      // and Consul (ACLs deny by default) must allow it with an intention.
      const listener = policyPort(CONSUL_MESH_PUBLIC_LISTENER_PORT);
      this.allowEgressTo(target.podPeer, [listener], `mesh ${why}`);
      target.allowIngressFrom(this.podPeer, [], [listener], `mesh ${why}`);
      target.allowMeshSource(this.serviceName);
    } else {
      const port = target.endpointPort(endpoint.portName);
      this.allowEgressTo(target.podPeer, [policyPort(port.containerPort, port.protocol)], why);
      target.allowIngressFrom(this.podPeer, [endpoint.portName], [], why);
    }
    // A consumer reads the target's registry too: same client label, same egress.
    if (registration) this.bindings.joinRegistry(registration, owner, `registry: ${this.serviceName} reads ${target.serviceName} from ${registration.registry}`);
    return endpoint;
  }

  /**
   * Server-side discovery from outside the cluster: routes a Gateway API Gateway's traffic to
   * one port (an HTTPRoute, or a GRPCRoute for an `appProtocol: 'grpc'` port), with a
   * ReferenceGrant when the Gateway keeps its routes in another namespace, and admits the
   * Gateway's pods to exactly that port. Returns the route.
   */
  public exposeVia(gateway: GatewayReference, options: ExposeOptions = {}): ApiObject {
    if (this.inMesh) {
      invalid(this, 'exposeVia', gateway?.name, `must not expose mesh service '${this.serviceName}' through a Gateway: its sidecar accepts only mTLS from other sidecars; use a Consul API gateway`);
    }
    const port = this.endpointPort(options.port ?? this.spec.ports[0].name);
    const route = resolveRoute(gateway, { scope: this, serviceName: this.serviceName, namespace: this.namespace, labels: this.labels, port }, options);
    const id = `route-${route.namespace}-${route.name}`;
    if (this.node.tryFindChild(id)) {
      invalid(this, 'exposeVia.routeName', route.name, `must be unique: '${this.serviceName}' already has ${route.kind} ${route.namespace}/${route.name}; pass another routeName`);
    }
    const object = route.kind === 'GRPCRoute'
      ? kubeObject(this, id, gw.GrpcRoute, grpcRouteProps(route))
      : kubeObject(this, id, gw.HttpRoute, httpRouteProps(route));
    if (route.referenceGrant) kubeObject(this, `${id}-grant`, gw.ReferenceGrant, referenceGrantProps(route, route.referenceGrant));
    this.allowIngressFrom(gateway.podPeer, [port.name], [], `gateway: ${route.kind} ${route.namespace}/${route.name} via ${gateway.namespace}/${gateway.name}`);
    return object;
  }

  private allowMeshSource(source: string): void {
    this.meshIntentions ??= new ConsulServiceIntentions(this, 'consul-service-intentions', {
      serviceName: this.serviceName, namespace: this.namespace, labels: this.labels,
    });
    this.meshIntentions.allow(source);
  }
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

function envPrefixOf(serviceName: string): string {
  return serviceName.toUpperCase().replace(/-/g, '_');
}
