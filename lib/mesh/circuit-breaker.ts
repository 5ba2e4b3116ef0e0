import { ApiObjectMetadata, Chart, Duration } from 'cdk8s';
import { IConstruct } from 'constructs';
import { recommendedLabels } from '../core/labels';
import {
  checkDns1035Label, checkDns1123Label, checkDns1123Subdomain, checkInteger, checkLabels, checkPodSelector, checkDuration, checkPort, checkPresent, checkUnique, formatMs,
  invalid, ValidationPass,
} from '../core/validation';
import {
  PassiveHealthCheck, ServiceDefaultsSpec, ServiceResolverFailover, ServiceResolverFailoverTarget, ServiceResolverSpec, Upstream, UpstreamLimits,
} from './consul-crd-types';

/**
 * Passive health checks (Envoy outlier detection), connection limits, timeouts and failover
 * as Consul service-mesh config entries: the typed options shared by
 * {@link ConsulServiceDefaults}, {@link ConsulServiceResolver} and DiscoverableService, and
 * the pure functions that validate them and build the custom resources' specs.
 *
 * Field names follow the consul-k8s CRDs (`consul.hashicorp.com/v1alpha1`, hashicorp/consul-k8s
 * control-plane/api/v1alpha1/servicedefaults_types.go and serviceresolver_types.go). These
 * settings only take effect for services in the Consul service mesh (sidecar-injected pods),
 * never for DNS or HTTP-API discovery.
 */

/** consul-k8s CRD group and version of both config entries. */
export const CONSUL_CRD_API_VERSION = 'consul.hashicorp.com/v1alpha1';

/** Pod annotation that makes consul-k8s inject the mesh sidecar (consul-dataplane). */
export const CONSUL_CONNECT_INJECT_ANNOTATION = 'consul.hashicorp.com/connect-inject';

/** Pod template annotations that put a workload into the Consul service mesh. */
export const CONSUL_MESH_POD_ANNOTATIONS: Readonly<Record<string, string>> = Object.freeze({
  [CONSUL_CONNECT_INJECT_ANNOTATION]: 'true',
});

/** Envoy's public listener in Consul's mesh: peers' sidecars connect here, not to the app port. */
export const CONSUL_MESH_PUBLIC_LISTENER_PORT = 20000;

/**
 * What mesh injection does to Pod Security, for DiscoverableService to tell its users.
 *
 * Verified against hashicorp/consul-k8s `control-plane/connect-inject/webhook/container_init.go`
 * (1.x line) and the consul-k8s 0.48.0 release notes:
 * - Transparent proxy is on by default (`connectInject.transparentProxy.defaultEnabled`).
 *   Without the CNI plugin, the injected `consul-connect-inject-init` init container writes the
 *   pod's iptables rules itself, so it runs as root (`runAsUser: 0`, `runAsNonRoot: false`) and
 *   adds the `NET_ADMIN` capability. Pod Security "baseline" already forbids `NET_ADMIN`, so a
 *   "restricted" namespace rejects every injected pod.
 * - With the consul-k8s CNI plugin (`connectInject.cni.enabled: true`, chart 0.48.0+), the
 *   node-level plugin writes the rules and, in consul-k8s 1.x, the init container runs as
 *   uid 5996 with `runAsNonRoot: true`, all capabilities dropped, a read-only root filesystem and
 *   no privilege escalation; the consul-dataplane sidecar runs as uid 5995, non-root.
 *
 * The injected containers' security contexts change between consul-k8s releases (a later
 * source revision runs the CNI-mode init container as uid 0 with privilege escalation allowed),
 * so confirm for the version you run with a server-side dry run into a namespace labelled
 * `pod-security.kubernetes.io/enforce=restricted`.
 */
export const CONSUL_MESH_POD_SECURITY_NOTE =
  'Consul mesh injection needs the consul-k8s CNI plugin (connectInject.cni.enabled=true) to stay within Pod Security "restricted": '
  + 'without it, transparent proxy (the default) injects the consul-connect-inject-init container as root with the NET_ADMIN capability, '
  + 'which "baseline" and "restricted" forbid. Confirm for your consul-k8s version with a server-side dry run into a restricted namespace.';

/** Protocol of a mesh service (ServiceDefaults `spec.protocol`). */
export enum MeshProtocol {
  /** L4 only: no request-level limits, timeouts or metrics. */
  TCP = 'tcp',
  HTTP = 'http',
  HTTP2 = 'http2',
  GRPC = 'grpc',
}

/** Envoy circuit-breaker thresholds for one upstream, per instance of the calling service. */
export interface UpstreamLimitsOptions {
  /**
   * Connections the calling proxy may open to the upstream (HTTP/1.1 sends one request per
   * connection, so this also caps its requests).
   * @default - Envoy's default (1024)
   */
  readonly maxConnections?: number;
  /** Requests queued while waiting for a connection. L7 only: rejected for `tcp`. @default - Envoy's default (1024) */
  readonly maxPendingRequests?: number;
  /** Requests in flight at once (HTTP/2 and gRPC multiplex them on few connections). L7 only: rejected for `tcp`. @default - Envoy's default (1024) */
  readonly maxConcurrentRequests?: number;
}

/** Passive health check: Envoy ejects upstream instances that keep failing. */
export interface PassiveHealthCheckOptions {
  /** Time between ejection sweeps; each sweep ejects failing hosts and returns recovered ones. @default - Envoy's default (10s) */
  readonly interval?: Duration;
  /** Consecutive failures (5xx, or connect failures for TCP) that eject a host. @default - Envoy's default (5) */
  readonly maxFailures?: number;
  /** Percent chance (0-100) that a host that hit `maxFailures` is really ejected; 0 only records. @default - 100 */
  readonly enforcingConsecutive5xx?: number;
  /** Most of the upstream's hosts (percent, 0-100) ejected at once; Envoy always ejects at least one. @default - Envoy's default (10) */
  readonly maxEjectionPercent?: number;
  /** Ejection time, multiplied by the number of times the host was ejected (capped by Envoy at 300s). @default - 30s */
  readonly baseEjectionTime?: Duration;
}

/** How the service's proxy calls its upstreams (ServiceDefaults `spec.upstreamConfig`). */
export interface UpstreamPolicyOptions {
  /** Timeout to open a connection to an upstream instance. @default - Consul's default (5s) */
  readonly connectTimeout?: Duration;
  /** @default - Envoy's thresholds */
  readonly limits?: UpstreamLimitsOptions;
  /** @default - Consul's outlier detection defaults */
  readonly passiveHealthCheck?: PassiveHealthCheckOptions;
}

/** Settings for one upstream, overriding the service-wide ones. */
export interface UpstreamOverrideOptions extends UpstreamPolicyOptions {
  /**
   * Protocol the upstream speaks, when it differs from this service's; written to the
   * override's `protocol` and used to decide whether L7-only limits apply.
   * @default - this service's `protocol`
   */
  readonly protocol?: MeshProtocol;
}

/** Options of the ServiceDefaults config entry. */
export interface ServiceDefaultsOptions extends UpstreamPolicyOptions {
  /**
   * The service's protocol (`spec.protocol`). L7-only settings (`limits.maxPendingRequests`,
   * `limits.maxConcurrentRequests`, `resolver.requestTimeout`) need `http`, `http2` or `grpc`:
   * Consul ignores them for `tcp`, so they are rejected.
   */
  readonly protocol: MeshProtocol;
  /**
   * Per-upstream settings, keyed by the upstream's Consul service name (a DNS-1035 label);
   * they replace the service-wide settings for that upstream.
   * @default - none
   */
  readonly overrides?: Record<string, UpstreamOverrideOptions>;
}

/** One failover target (service, datacenter or cluster peer to try, in order). */
export interface FailoverTargetOptions {
  /** Service to resolve instead of this one. @default - this service */
  readonly service?: string;
  /** Datacenter to resolve it in; not together with `peer`. @default - the local datacenter */
  readonly datacenter?: string;
  /** Cluster peer to resolve it from; not together with `datacenter`. @default - none */
  readonly peer?: string;
}

/**
 * Where consumers fail over when no healthy instance of this service is left. Set
 * `datacenters` or `targets`, not both. Cross-datacenter failover needs WAN federation or
 * cluster peering, and mesh gateways.
 */
export interface FailoverOptions {
  /** Datacenters (DNS labels) to try in order, for the same service. @default - none */
  readonly datacenters?: string[];
  /** Targets to try in order. @default - none */
  readonly targets?: FailoverTargetOptions[];
}

/** How consumers reach this service (the ServiceResolver config entry named after it). */
export interface ServiceResolverOptions {
  /** Timeout for consumers to open a connection to this service. @default - Consul's default (5s) */
  readonly connectTimeout?: Duration;
  /** Timeout for an HTTP response from this service. L7 only: rejected for `tcp`. @default - Envoy's route default (15s) */
  readonly requestTimeout?: Duration;
  /** Failover for every subset (`failover["*"]`). @default - none */
  readonly failover?: FailoverOptions;
}

/**
 * Circuit breaking for a mesh service: how its proxy treats its upstreams (ServiceDefaults)
 * and, optionally, how consumers reach it (ServiceResolver).
 */
export interface CircuitBreakerOptions extends ServiceDefaultsOptions {
  /** @default - no ServiceResolver */
  readonly resolver?: ServiceResolverOptions;
}

/**
 * The Consul servers a mesh pod talks to; `ConsulCluster.meshControlPlane` satisfies it.
 * consul-k8s's injected init container logs in over gRPC and polls the catalog over the
 * HTTP(S) API; the consul-dataplane sidecar uses gRPC only (consul-k8s 1.9
 * connect-init/command.go, consul-dataplane main.go).
 */
export interface ConsulMeshControlPlane {
  /** Pods label themselves `CONSUL_MESH_LABEL: <clusterName>` to be admitted. */
  readonly clusterName: string;
  /** Namespace of the servers. */
  readonly namespace: string;
  /** Labels that select the servers. */
  readonly podSelector: Record<string, string>;
  /** The servers' gRPC port (gRPC over TLS when the cluster has TLS). */
  readonly grpcPort: number;
  /** The servers' HTTP or, with TLS, HTTPS port. */
  readonly httpPort: number;
}

/** Validates a control-plane reference, which may come from another program's outputs. */
export function checkMeshControlPlane(scope: IConstruct, field: string, plane: ConsulMeshControlPlane): ConsulMeshControlPlane {
  checkPresent(scope, field, plane, 'the Consul servers the mesh sidecar connects to, such as ConsulCluster.meshControlPlane');
  const v = new ValidationPass();
  v.check(() => checkDns1123Subdomain(scope, `${field}.clusterName`, plane.clusterName));
  v.check(() => checkDns1123Label(scope, `${field}.namespace`, plane.namespace));
  v.check(() => checkPodSelector(scope, `${field}.podSelector`, plane.podSelector, 'the Consul server pods'));
  v.check(() => checkPort(scope, `${field}.grpcPort`, plane.grpcPort));
  v.check(() => checkPort(scope, `${field}.httpPort`, plane.httpPort));
  v.finish();
  return plane;
}

/** Identity of a config entry resource: the consul-k8s CRDs are named after the service. */
export interface ConsulConfigEntryProps {
  /**
   * Consul service name the entry configures, written to metadata.name (a DNS-1035 label). With
   * Consul CE every Kubernetes namespace maps to Consul's one namespace, so two entries for the
   * same name in different Kubernetes namespaces conflict.
   * @default - the construct id
   */
  readonly serviceName?: string;
  /** Namespace of the resource. @default - the chart's namespace, else 'default' */
  readonly namespace?: string;
  /** Extra labels; the recommended labels of the service are always added. @default - none */
  readonly labels?: Record<string, string>;
}

/** Validated metadata of a config entry resource: name, explicit namespace, recommended labels. */
export function configEntryMetadata(scope: IConstruct, id: string, props: ConsulConfigEntryProps): ApiObjectMetadata & { name: string; namespace: string } {
  const v = new ValidationPass();
  const name = v.check(() => checkDns1035Label(scope, 'serviceName', props.serviceName ?? id), '');
  const namespace = v.check(() => checkDns1123Label(scope, 'namespace', props.namespace ?? Chart.of(scope).namespace ?? 'default'), '');
  const userLabels = v.check(() => checkLabels(scope, 'labels', props.labels ?? {}), {});
  v.finish();
  return { name, namespace, labels: { ...userLabels, ...recommendedLabels({ name, instance: name }) } };
}

// Go `int`/`uint32` fields published as OpenAPI int32 or integer: stay within int32.
const INT32_MAX = 2_147_483_647;
const L7_ONLY = 'is only respected for L7 protocols (http, http2, grpc)';

/** The `spec` of a ServiceDefaults resource; fields named `field.*` in errors. */
export function serviceDefaultsSpec(scope: IConstruct | string, field: string, options: ServiceDefaultsOptions): ServiceDefaultsSpec {
  const v = new ValidationPass();
  const protocol = checkProtocol(scope, join(field, 'protocol'), options.protocol);
  const defaults = v.check(() => upstreamConfig(scope, field, protocol, options));
  const overrides = Object.entries(options.overrides ?? {}).flatMap(([name, override]) => v.check((): Upstream[] => {
    const overrideField = join(field, `overrides.${name}`);
    checkDns1035Label(scope, join(field, 'overrides key'), name);
    const overrideProtocol = override.protocol === undefined ? protocol : checkProtocol(scope, `${overrideField}.protocol`, override.protocol);
    const config = upstreamConfig(scope, overrideField, overrideProtocol, override);
    if (!config) invalid(scope, overrideField, override, 'must set at least one of connectTimeout, limits or passiveHealthCheck');
    return [{ name, ...(override.protocol ? { protocol: overrideProtocol } : {}), ...config }];
  }, []));
  v.finish();
  const upstream = { ...(defaults ? { defaults } : {}), ...(overrides.length ? { overrides } : {}) };
  return { protocol, ...(defaults || overrides.length ? { upstreamConfig: upstream } : {}) };
}

/** The `spec` of a ServiceResolver resource for a service speaking `protocol`. */
export function serviceResolverSpec(scope: IConstruct | string, field: string, protocol: MeshProtocol, options: ServiceResolverOptions): ServiceResolverSpec {
  checkProtocol(scope, join(field, 'protocol'), protocol);
  const v = new ValidationPass();
  if (protocol === MeshProtocol.TCP && options.requestTimeout !== undefined) {
    v.report(scope, join(field, 'requestTimeout'), options.requestTimeout, `${L7_ONLY}; the service's protocol is tcp`);
  }
  const spec = compact<ServiceResolverSpec>({
    connectTimeout: v.check(() => optionalGoDuration(scope, join(field, 'connectTimeout'), options.connectTimeout)),
    requestTimeout: v.check(() => optionalGoDuration(scope, join(field, 'requestTimeout'), options.requestTimeout)),
    failover: options.failover && v.check(() => ({ '*': failoverSpec(scope, join(field, 'failover'), options.failover!) })),
  });
  v.finish();
  if (!spec) invalid(scope, field || 'props', options, 'must set at least one of connectTimeout, requestTimeout or failover');
  return spec;
}

/** Validates both config entries of {@link CircuitBreakerOptions} without creating anything. */
export function checkCircuitBreaker(scope: IConstruct | string, field: string, options: CircuitBreakerOptions): void {
  const v = new ValidationPass();
  v.check(() => serviceDefaultsSpec(scope, field, options));
  if (options.resolver) v.check(() => serviceResolverSpec(scope, join(field, 'resolver'), options.protocol, options.resolver!));
  v.finish();
}

function upstreamConfig(scope: IConstruct | string, field: string, protocol: MeshProtocol, policy: UpstreamPolicyOptions): Upstream | undefined {
  const v = new ValidationPass();
  const upstream = compact<Upstream>({
    connectTimeoutMs: policy.connectTimeout && v.check(() => checkMillis(scope, join(field, 'connectTimeout'), policy.connectTimeout!)),
    limits: policy.limits && v.check(() => limitsSpec(scope, join(field, 'limits'), protocol, policy.limits!)),
    passiveHealthCheck: policy.passiveHealthCheck && v.check(() => passiveHealthCheckSpec(scope, join(field, 'passiveHealthCheck'), policy.passiveHealthCheck!)),
  });
  v.finish();
  return upstream;
}

function limitsSpec(scope: IConstruct | string, field: string, protocol: MeshProtocol, limits: UpstreamLimitsOptions): UpstreamLimits {
  const v = new ValidationPass();
  if (protocol === MeshProtocol.TCP) {
    for (const key of ['maxPendingRequests', 'maxConcurrentRequests'] as const) {
      if (limits[key] !== undefined) v.report(scope, `${field}.${key}`, limits[key], `${L7_ONLY}; the protocol is tcp`);
    }
  }
  const spec = compact<UpstreamLimits>({
    maxConnections: v.check(() => optionalCount(scope, `${field}.maxConnections`, limits.maxConnections)),
    maxPendingRequests: v.check(() => optionalCount(scope, `${field}.maxPendingRequests`, limits.maxPendingRequests)),
    maxConcurrentRequests: v.check(() => optionalCount(scope, `${field}.maxConcurrentRequests`, limits.maxConcurrentRequests)),
  });
  v.finish();
  if (!spec) invalid(scope, field, limits, 'must set at least one limit');
  return spec;
}

function passiveHealthCheckSpec(scope: IConstruct | string, field: string, check: PassiveHealthCheckOptions): PassiveHealthCheck {
  const v = new ValidationPass();
  const spec = compact<PassiveHealthCheck>({
    interval: v.check(() => optionalGoDuration(scope, `${field}.interval`, check.interval)),
    maxFailures: v.check(() => optionalCount(scope, `${field}.maxFailures`, check.maxFailures)),
    enforcingConsecutive5xx: v.check(() => optionalPercent(scope, `${field}.enforcingConsecutive5xx`, check.enforcingConsecutive5xx)),
    maxEjectionPercent: v.check(() => optionalPercent(scope, `${field}.maxEjectionPercent`, check.maxEjectionPercent)),
    baseEjectionTime: v.check(() => optionalGoDuration(scope, `${field}.baseEjectionTime`, check.baseEjectionTime)),
  });
  v.finish();
  if (!spec) invalid(scope, field, check, 'must set at least one field');
  return spec;
}

function failoverSpec(scope: IConstruct | string, field: string, failover: FailoverOptions): ServiceResolverFailover {
  const { datacenters, targets } = failover;
  if (datacenters && targets) {
    invalid(scope, field, failover, 'must set datacenters or targets, not both (the consul-k8s webhook rejects both)');
  }
  if (!datacenters?.length && !targets?.length) invalid(scope, field, failover, 'must list at least one datacenter or target');
  if (datacenters) {
    datacenters.forEach((dc, i) => checkDns1123Label(scope, `${field}.datacenters[${i}]`, dc));
    checkUnique(scope, `${field}.datacenters`, datacenters);
    return { datacenters: [...datacenters] };
  }
  return { targets: targets!.map((target, i) => failoverTargetSpec(scope, `${field}.targets[${i}]`, target)) };
}

function failoverTargetSpec(scope: IConstruct | string, field: string, target: FailoverTargetOptions): ServiceResolverFailoverTarget {
  if (target.datacenter !== undefined && target.peer !== undefined) {
    invalid(scope, field, target, 'must set datacenter or peer, not both (the consul-k8s webhook rejects both)');
  }
  const spec = compact<ServiceResolverFailoverTarget>({
    service: target.service === undefined ? undefined : checkDns1035Label(scope, `${field}.service`, target.service),
    datacenter: target.datacenter === undefined ? undefined : checkDns1123Label(scope, `${field}.datacenter`, target.datacenter),
    peer: target.peer === undefined ? undefined : checkDns1123Label(scope, `${field}.peer`, target.peer),
  });
  if (!spec) invalid(scope, field, target, 'must set at least one of service, datacenter or peer');
  return spec;
}

function checkProtocol(scope: IConstruct | string, field: string, protocol: MeshProtocol): MeshProtocol {
  if (!Object.values(MeshProtocol).includes(protocol)) {
    invalid(scope, field, protocol, `must be one of ${Object.values(MeshProtocol).join(', ')}`);
  }
  return protocol;
}

/** A positive cdk8s Duration in whole milliseconds (what Consul's `*Ms` fields and Go durations carry). */
function checkMillis(scope: IConstruct | string, field: string, value: Duration): number {
  return checkDuration(scope, field, value, 1, INT32_MAX);
}

function optionalGoDuration(scope: IConstruct | string, field: string, value: Duration | undefined): string | undefined {
  return value === undefined ? undefined : formatMs(checkMillis(scope, field, value));
}

function optionalCount(scope: IConstruct | string, field: string, value: number | undefined): number | undefined {
  return value === undefined ? undefined : checkInteger(scope, field, value, 1, INT32_MAX);
}

function optionalPercent(scope: IConstruct | string, field: string, value: number | undefined): number | undefined {
  return value === undefined ? undefined : checkInteger(scope, field, value, 0, 100);
}

/** The object without undefined values, or undefined when nothing is left. */
function compact<T extends object>(values: T): T | undefined {
  const entries = Object.entries(values).filter(([, v]) => v !== undefined);
  return entries.length ? Object.fromEntries(entries) as T : undefined;
}

function join(prefix: string, field: string): string {
  return prefix ? `${prefix}.${field}` : field;
}
