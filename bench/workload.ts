/**
 * The benchmark's workload: N services spread over a fixed number of namespaces (one chart
 * per namespace), each with two named ports and a Consul agent registration, where service i
 * discovers service i-1. Everything here is plain data shared by the three implementations;
 * the values the construct derives (labels, env, the registration sidecar) are written out by
 * hand for the two baselines, which must produce the construct's manifests exactly.
 */
import { CONSUL_REGISTRATION_SCRIPT } from '../lib/consul/agent-registration';
import { SCRIPT_CHECKSUM_ANNOTATION, scriptChecksum } from '../lib/registration/scripts';

/** One service of the workload. */
export interface ServiceSpec {
  readonly index: number;
  readonly name: string;
  readonly namespace: string;
  readonly image: string;
  /** The image tag, which becomes `app.kubernetes.io/version`. */
  readonly version: string;
}

/** One chart: the services of one namespace. */
export interface ChartSpec {
  readonly id: string;
  readonly namespace: string;
  readonly services: readonly ServiceSpec[];
}

export interface Workload {
  readonly services: readonly ServiceSpec[];
  readonly charts: readonly ChartSpec[];
}

/**
 * Services are spread over this many namespaces (one chart each) at every N, so the number
 * of charts stays fixed: cdk8s walks the whole app once per `chart.toJson()`, and a chart
 * count that grew with N would measure that walk rather than the constructs.
 */
export const NAMESPACES = 10;

export const CLUSTER_DOMAIN = 'cluster.local';

/** The node-local Consul agent every service registers with (a `ConsulAgentAddress`). */
export const AGENT = {
  url: 'http://consul-agent.consul.svc:8500',
  port: 8500,
  clusterName: 'consul',
  namespace: 'consul',
  podSelector: { 'app.kubernetes.io/name': 'consul', 'app.kubernetes.io/component': 'agent' },
} as const;

/** The registration sidecar's image, pinned here so the workload does not follow the package default. */
export const SIDECAR_IMAGE = 'hashicorp/consul:1.20.2';

/** The two named ports of every service; the first serves the health endpoints. */
export const PORTS = [
  { name: 'http', port: 8080, appProtocol: 'http' },
  { name: 'grpc', port: 9090, appProtocol: 'grpc' },
] as const;

/** N services over `namespaces` namespaces in contiguous blocks: most bindings stay in a namespace, some cross. */
export function workload(n: number, namespaces = NAMESPACES): Workload {
  const chartCount = Math.min(n, namespaces);
  const services = Array.from({ length: n }, (_, index): ServiceSpec => {
    const version = `1.${index % 7}.0`;
    return {
      index,
      name: `svc-${index}`,
      namespace: `team-${Math.floor((index * chartCount) / n)}`,
      image: `ghcr.io/acme/svc-${index}:${version}`,
      version,
    };
  });
  const charts = Array.from({ length: chartCount }, (_, k): ChartSpec => {
    const namespace = `team-${k}`;
    return { id: namespace, namespace, services: services.filter((s) => s.namespace === namespace) };
  });
  return { services, charts };
}

/** The service that `s` discovers (i-1), if any. */
export function targetOf(w: Workload, s: ServiceSpec): ServiceSpec | undefined {
  return w.services[s.index - 1];
}

/** The service that discovers `s` (i+1), if any. */
export function consumerOf(w: Workload, s: ServiceSpec): ServiceSpec | undefined {
  return w.services[s.index + 1];
}

// ---- What the construct derives, written out by hand for the baselines. ----

/** The default HealthSpec's probes: all HTTP GET on the `http` port with a 2s timeout. */
export const PROBES = {
  startupProbe: { path: '/health/live', periodSeconds: 5, failureThreshold: 24 },
  livenessProbe: { path: '/health/live', periodSeconds: 10, failureThreshold: 3 },
  readinessProbe: { path: '/health/ready', periodSeconds: 5, failureThreshold: 3 },
} as const;

/** Requests and limits of the app container and of the registration sidecar: millicores and MiB. */
export const RESOURCES = {
  app: { cpu: { request: 100, limit: 500 }, memory: { request: 128, limit: 256 } },
  sidecar: { cpu: { request: 10, limit: 100 }, memory: { request: 32, limit: 64 } },
} as const;

export function selectorOf(s: ServiceSpec): Record<string, string> {
  return { 'app.kubernetes.io/name': s.name, 'app.kubernetes.io/instance': s.name };
}

export function labelsOf(s: ServiceSpec): Record<string, string> {
  return { ...selectorOf(s), 'app.kubernetes.io/version': s.version, 'app.kubernetes.io/managed-by': 'discovery-kit' };
}

/** Pod template labels: the recommended labels plus the Consul client label. */
export function podLabelsOf(s: ServiceSpec): Record<string, string> {
  return { 'discovery-kit.io/consul-client': AGENT.clusterName, ...labelsOf(s) };
}

/** A NetworkPolicy peer: pods with these labels in the namespace with this name. */
export interface NetworkPeer {
  readonly namespaceSelector: { readonly matchLabels: Record<string, string> };
  readonly podSelector: { readonly matchLabels: Record<string, string> };
}

/** The peer selecting a service's pods in its namespace. */
export function podPeerOf(s: ServiceSpec): NetworkPeer {
  return { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': s.namespace } }, podSelector: { matchLabels: selectorOf(s) } };
}

export const AGENT_PEER: NetworkPeer = {
  namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': AGENT.namespace } },
  podSelector: { matchLabels: AGENT.podSelector },
};

/** The egress-only policy in the agents' namespace that lets them health-check a service's pods. */
export function agentCheckPolicyOf(s: ServiceSpec) {
  return {
    metadata: { name: `${AGENT.clusterName}-agent-to-${s.name}.${s.namespace}`, namespace: AGENT.namespace, labels: labelsOf(s) },
    spec: {
      podSelector: { matchLabels: AGENT.podSelector },
      policyTypes: ['Egress'],
      egress: [{ to: [podPeerOf(s)], ports: [{ port: PORTS[0].port, protocol: 'TCP' }] }],
    },
  };
}

export const DNS_PEER: NetworkPeer = {
  namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } },
  podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } },
};

/** The plain (name/value) env of the consumer binding to `target`; POD_NAMESPACE follows it. */
export function bindingEnvOf(target: ServiceSpec): { name: string; value: string }[] {
  const prefix = target.name.toUpperCase().replace(/-/g, '_');
  const host = `${target.name}.${target.namespace}.svc.${CLUSTER_DOMAIN}`;
  const [port] = PORTS;
  return [
    { name: `${prefix}_URL`, value: `${port.appProtocol}://${host}:${port.port}` },
    { name: `${prefix}_HOST`, value: host },
    { name: `${prefix}_PORT`, value: String(port.port) },
    { name: `${prefix}_SRV`, value: `_${port.name}._tcp.${target.name}-headless.${target.namespace}.svc.${CLUSTER_DOMAIN}` },
    { name: 'CONSUL_HTTP_ADDR', value: AGENT.url },
  ];
}

/**
 * The registration sidecar's script: the package's file (the only package code the baselines
 * use), in one ConfigMap per namespace that the sidecar mounts, and its checksum on the pod
 * template.
 */
export const REGISTRATION_SCRIPT = {
  configMapName: CONSUL_REGISTRATION_SCRIPT.configMapName,
  files: CONSUL_REGISTRATION_SCRIPT.files,
  command: ['/bin/sh', `/discovery-kit/${CONSUL_REGISTRATION_SCRIPT.entrypoint}`],
  mountPath: '/discovery-kit',
  volumeName: 'registration-script',
  podAnnotations: { [SCRIPT_CHECKSUM_ANNOTATION]: scriptChecksum(CONSUL_REGISTRATION_SCRIPT) },
} as const;

/** The metadata of the script's ConfigMap in `namespace`. */
export function registrationScriptMetadataOf(namespace: string) {
  const name = REGISTRATION_SCRIPT.configMapName;
  return { name, namespace, labels: { 'app.kubernetes.io/name': name, 'app.kubernetes.io/instance': name, 'app.kubernetes.io/managed-by': 'discovery-kit' } };
}

/** The sidecar's plain env after POD_NAME and POD_IP: the script's whole input. */
export function registrationEnvOf(s: ServiceSpec): { name: string; value: string }[] {
  return [
    { name: 'CONSUL_HTTP_ADDR', value: AGENT.url },
    { name: 'CONSUL_REGISTRATION_DIR', value: '/consul-registration' },
    { name: 'CONSUL_SERVICE_NAME', value: s.name },
    { name: 'CONSUL_SERVICE_PORT', value: String(PORTS[0].port) },
    { name: 'CONSUL_SERVICE_TAGS', value: '' },
    { name: 'CONSUL_SERVICE_META', value: JSON.stringify({ 'k8s-namespace': s.namespace }) },
    { name: 'CONSUL_CHECK_SCHEME', value: 'http' },
    { name: 'CONSUL_CHECK_PORT', value: String(PORTS[0].port) },
    { name: 'CONSUL_CHECK_PATH', value: PROBES.readinessProbe.path },
    { name: 'CONSUL_CHECK_INTERVAL', value: `${PROBES.readinessProbe.periodSeconds}s` },
    { name: 'CONSUL_CHECK_TIMEOUT', value: '2s' },
    { name: 'CONSUL_CHECK_FAILURES_BEFORE_CRITICAL', value: String(PROBES.readinessProbe.failureThreshold) },
    { name: 'CONSUL_DEREGISTER_CRITICAL_SERVICE_AFTER', value: '1m' },
    { name: 'CONSUL_RESYNC_SECONDS', value: '5' },
  ];
}
