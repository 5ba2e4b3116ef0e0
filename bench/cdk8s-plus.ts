import { ApiObject, App, Chart, Duration, JsonPatch, Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import {
  AGENT, AGENT_PEER, agentCheckPolicyOf, bindingEnvOf, DNS_PEER, labelsOf, NetworkPeer, podLabelsOf, podPeerOf, PORTS, PROBES,
  REGISTRATION_SCRIPT, registrationEnvOf, registrationScriptMetadataOf, RESOURCES, selectorOf, ServiceSpec, SIDECAR_IMAGE, targetOf, Workload,
} from './workload';

const { k8s } = kplus;

/**
 * The peer: the same manifests hand-assembled from cdk8s-plus-27 L2 objects, as a careful
 * user would: `select: false` with explicit labels and selectors, explicit names, its
 * defaults overridden, and JSON patches where L2 cannot express a field. Patches on L2
 * objects apply before the TypeScript-to-JSON name mapping: paths use the TS names
 * (`setHostnameAsFqdn`) and IntOrString values are wrapped.
 */
export function buildWithCdk8sPlus(app: App, w: Workload): Chart[] {
  const built = new Map<number, BuiltService>();
  const charts = w.charts.map((c) => {
    const chart = new Chart(app, c.id, { namespace: c.namespace, disableResourceNameHashes: true });
    const peers = new ChartPeers(chart, c.namespace);
    for (const s of c.services) built.set(s.index, addService(chart, peers, w, s));
    return chart;
  });
  // The binding, once both ends exist: the consumer may reach its target, which admits it.
  for (const s of w.services) {
    const target = targetOf(w, s);
    if (!target) continue;
    const [consumer, provider] = [built.get(s.index)!, built.get(target.index)!];
    consumer.policy.addEgressRule(provider.peer, [kplus.NetworkPolicyPort.tcp(PORTS[0].port)]);
    provider.policy.addIngressRule(consumer.peer, [kplus.NetworkPolicyPort.tcp(PORTS[0].port)]);
  }
  return charts;
}

interface BuiltService {
  readonly policy: kplus.NetworkPolicy;
  /** Selects the service's pods from any namespace. */
  readonly peer: kplus.Pods;
}

/** Peers and the registration script every service of a chart uses, created once per chart (one namespace). */
class ChartPeers {
  public readonly agent: kplus.Pods;
  public readonly dns: kplus.Pods;
  public readonly registrationScript: kplus.Volume;

  constructor(chart: Chart, namespace: string) {
    this.agent = selectPods(chart, 'consul-agent', AGENT_PEER);
    this.dns = selectPods(chart, 'kube-dns', DNS_PEER);
    const configMap = new kplus.ConfigMap(chart, 'registration-script', { metadata: registrationScriptMetadataOf(namespace), data: { ...REGISTRATION_SCRIPT.files } });
    ApiObject.of(configMap).addJsonPatch(JsonPatch.remove('/immutable'));
    this.registrationScript = kplus.Volume.fromConfigMap(chart, 'registration-script-volume', configMap, { name: REGISTRATION_SCRIPT.volumeName, defaultMode: 0o444 });
  }
}

/** A peer in one named namespace (cdk8s-plus renders it as a `kubernetes.io/metadata.name` label). */
function selectPods(scope: Construct, id: string, peer: NetworkPeer): kplus.Pods {
  const names = [peer.namespaceSelector.matchLabels['kubernetes.io/metadata.name']];
  return kplus.Pods.select(scope, id, {
    labels: peer.podSelector.matchLabels,
    namespaces: kplus.Namespaces.select(scope, `${id}-namespace`, { names }),
  });
}

const SECURITY_CONTEXT: kplus.ContainerSecurityContextProps = {
  ensureNonRoot: true,
  readOnlyRootFilesystem: true,
  allowPrivilegeEscalation: false,
};

/** The probe on the port's number: L2 cannot name a port (patched below). */
function probe({ path, periodSeconds, failureThreshold }: (typeof PROBES)[keyof typeof PROBES]): kplus.Probe {
  return kplus.Probe.fromHttpGet(path, {
    port: PORTS[0].port,
    periodSeconds: Duration.seconds(periodSeconds),
    timeoutSeconds: Duration.seconds(2),
    failureThreshold,
    successThreshold: 1,
  });
}

function resources({ cpu, memory }: (typeof RESOURCES)[keyof typeof RESOURCES]): kplus.ContainerResources {
  return {
    cpu: { request: kplus.Cpu.millis(cpu.request), limit: kplus.Cpu.millis(cpu.limit) },
    memory: { request: Size.mebibytes(memory.request), limit: Size.mebibytes(memory.limit) },
  };
}

function addService(chart: Chart, peers: ChartPeers, w: Workload, s: ServiceSpec): BuiltService {
  const metadata = (name = s.name) => ({ name, namespace: s.namespace, labels: labelsOf(s) });
  const selector = selectorOf(s);
  const ownPods = kplus.Pods.select(chart, `${s.name}-pods`, { labels: selector });
  const serviceAccount = new kplus.ServiceAccount(chart, `${s.name}-service-account`, { metadata: metadata(), automountToken: false });
  const deployment = new kplus.Deployment(chart, `${s.name}-deployment`, {
    metadata: metadata(),
    select: false,
    podMetadata: { labels: podLabelsOf(s), annotations: REGISTRATION_SCRIPT.podAnnotations },
    replicas: 2,
    strategy: kplus.DeploymentStrategy.rollingUpdate({
      maxSurge: kplus.PercentOrAbsolute.percent(25), maxUnavailable: kplus.PercentOrAbsolute.absolute(0),
    }),
    serviceAccount,
    automountServiceAccountToken: false,
    terminationGracePeriod: Duration.seconds(30),
    securityContext: { ensureNonRoot: true, user: 10001, group: 10001, fsGroup: 10001 },
  });
  deployment.select(kplus.LabelSelector.of({ labels: selector }));
  deployment.scheduling.separate(ownPods, { topology: kplus.Topology.HOSTNAME, weight: 100 });
  const target = targetOf(w, s);
  const env: Record<string, kplus.EnvValue> = {};
  if (target) {
    for (const { name, value } of bindingEnvOf(target)) env[name] = kplus.EnvValue.fromValue(value);
    env.POD_NAMESPACE = kplus.EnvValue.fromFieldRef(kplus.EnvFieldPaths.POD_NAMESPACE);
  }
  const app = deployment.addContainer({
    name: s.name,
    image: s.image,
    imagePullPolicy: kplus.ImagePullPolicy.IF_NOT_PRESENT,
    ports: PORTS.map((p) => ({ name: p.name, number: p.port, protocol: kplus.Protocol.TCP })),
    envVariables: env,
    resources: resources(RESOURCES.app),
    startup: probe(PROBES.startupProbe),
    liveness: probe(PROBES.livenessProbe),
    readiness: probe(PROBES.readinessProbe),
    lifecycle: { preStop: kplus.Handler.fromCommand(['sleep', '5']) },
    securityContext: SECURITY_CONTEXT,
  });
  app.mount('/tmp', kplus.Volume.fromEmptyDir(chart, `${s.name}-tmp`, 'tmp', { sizeLimit: Size.mebibytes(64) }));
  const sidecar = deployment.addContainer({
    name: 'consul-registration',
    image: SIDECAR_IMAGE,
    imagePullPolicy: kplus.ImagePullPolicy.IF_NOT_PRESENT,
    command: [...REGISTRATION_SCRIPT.command],
    envVariables: {
      POD_NAME: kplus.EnvValue.fromFieldRef(kplus.EnvFieldPaths.POD_NAME),
      POD_IP: kplus.EnvValue.fromFieldRef(kplus.EnvFieldPaths.POD_IP),
      ...Object.fromEntries(registrationEnvOf(s).map(({ name, value }) => [name, kplus.EnvValue.fromValue(value)])),
    },
    resources: resources(RESOURCES.sidecar),
    securityContext: SECURITY_CONTEXT,
  });
  sidecar.mount(REGISTRATION_SCRIPT.mountPath, peers.registrationScript, { readOnly: true });
  sidecar.mount('/consul-registration', kplus.Volume.fromEmptyDir(chart, `${s.name}-registration`, 'consul-registration', { sizeLimit: Size.mebibytes(1) }));
  patchDeployment(deployment);

  service(chart, `${s.name}-service`, metadata(), selector);
  const headless = service(chart, `${s.name}-headless-service`, metadata(`${s.name}-headless`), selector, 'None');
  ApiObject.of(headless).addJsonPatch(
    JsonPatch.remove('/spec/type'),
    JsonPatch.add('/spec/publishNotReadyAddresses', false),
  );
  // cdk8s-plus-27 has no PodDisruptionBudget L2, so the L1 class.
  new k8s.KubePodDisruptionBudget(chart, `${s.name}-pdb`, {
    metadata: metadata(),
    spec: { maxUnavailable: k8s.IntOrString.fromNumber(1), selector: { matchLabels: selector }, unhealthyPodEvictionPolicy: 'AlwaysAllow' },
  });
  // The L2 NetworkPolicy always isolates both directions: the egress-only agent policy is L1.
  const agentCheck = agentCheckPolicyOf(s);
  new k8s.KubeNetworkPolicy(chart, `${s.name}-registry-network-policy`, {
    metadata: agentCheck.metadata,
    spec: { ...agentCheck.spec, egress: [{ to: agentCheck.spec.egress[0].to, ports: [{ port: k8s.IntOrString.fromNumber(PORTS[0].port), protocol: 'TCP' }] }] },
  });
  const policy = new kplus.NetworkPolicy(chart, `${s.name}-network-policy`, { metadata: metadata(), selector: ownPods });
  policy.addIngressRule(peers.agent, [kplus.NetworkPolicyPort.tcp(PORTS[0].port)]);
  policy.addEgressRule(peers.dns, [kplus.NetworkPolicyPort.udp(53), kplus.NetworkPolicyPort.tcp(53)]);
  policy.addEgressRule(peers.agent, [kplus.NetworkPolicyPort.tcp(AGENT.port)]);
  return { policy, peer: selectPods(chart, `${s.name}-peer`, podPeerOf(s)) };
}

/** A Service on the named ports; L2 cannot name a target port or set appProtocol. */
function service(scope: Construct, id: string, metadata: { name: string; namespace: string; labels: Record<string, string> }, selector: Record<string, string>, clusterIP?: string): kplus.Service {
  const svc = new kplus.Service(scope, id, {
    metadata,
    clusterIP,
    type: kplus.ServiceType.CLUSTER_IP,
    ports: PORTS.map((p) => ({ name: p.name, port: p.port, protocol: kplus.Protocol.TCP })),
  });
  for (const [key, value] of Object.entries(selector)) svc.selectLabel(key, value);
  ApiObject.of(svc).addJsonPatch(
    JsonPatch.remove('/spec/externalIPs'),
    ...PORTS.flatMap((p, i) => [
      JsonPatch.add(`/spec/ports/${i}/targetPort`, k8s.IntOrString.fromString(p.name)),
      JsonPatch.add(`/spec/ports/${i}/appProtocol`, p.appProtocol),
    ]),
  );
  return svc;
}

/** Removes the defaults cdk8s-plus always writes and adds what its L2 cannot express. */
function patchDeployment(deployment: kplus.Deployment): void {
  const pod = '/spec/template/spec';
  const container = (i: number) => `${pod}/containers/${i}`;
  // Its Capability enum has no 'ALL' (and spells names CAP_*), and it has no seccomp field.
  const restricted = (i: number) => [
    JsonPatch.remove(`${container(i)}/securityContext/privileged`),
    JsonPatch.add(`${container(i)}/securityContext/capabilities`, { drop: ['ALL'] }),
    JsonPatch.add(`${container(i)}/securityContext/seccompProfile`, { type: 'RuntimeDefault' }),
  ];
  ApiObject.of(deployment).addJsonPatch(
    JsonPatch.remove('/spec/minReadySeconds'),
    JsonPatch.remove('/spec/progressDeadlineSeconds'),
    JsonPatch.add('/spec/revisionHistoryLimit', 5),
    JsonPatch.remove('/spec/template/metadata/labels/cdk8s.io~1metadata.addr'),
    JsonPatch.remove(`${pod}/restartPolicy`),
    JsonPatch.remove(`${pod}/dnsPolicy`),
    JsonPatch.remove(`${pod}/hostNetwork`),
    JsonPatch.remove(`${pod}/setHostnameAsFqdn`),
    JsonPatch.add(`${pod}/enableServiceLinks`, false),
    JsonPatch.add(`${pod}/dnsConfig`, { options: [{ name: 'ndots', value: '4' }] }),
    JsonPatch.remove(`${pod}/securityContext/fsGroupChangePolicy`),
    JsonPatch.add(`${pod}/securityContext/seccompProfile`, { type: 'RuntimeDefault' }),
    // Probes on a named port: L2 takes numbers only.
    ...Object.keys(PROBES).map((p) =>
      JsonPatch.replace(`${container(0)}/${p}/httpGet/port`, k8s.IntOrString.fromString(PORTS[0].name))),
    ...restricted(0),
    ...restricted(1),
  );
}
