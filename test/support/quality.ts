/**
 * The manifest-quality suite: the checks kube-score and kube-linter run, and Pod Security
 * "restricted", asserted over synthesized objects (none of those tools runs offline here).
 * `qualityViolations` returns one line per violation; an empty list is a pass.
 *
 * Rules are written independently of the library's own validators on purpose, so a bug
 * in a validator cannot hide the problem it should have caught.
 */
import type { KubeObject } from './schema';

export type Rule =
  | 'pss-restricted' | 'pss-baseline' | 'image-pinned' | 'resources' | 'readiness-probe'
  | 'liveness-differs' | 'probe-port' | 'port-name' | 'service-selector' | 'deployment-ha'
  | 'pdb' | 'statefulset-service' | 'network-policy' | 'read-only-root' | 'non-root-ids'
  | 'secret-env' | 'recommended-labels';

/** An accepted deviation, with the reason a reviewer reads. */
export interface Exemption {
  readonly rule: Rule;
  /** `Kind/name` of the object. */
  readonly object: string;
  readonly why: string;
}

export interface QualityOptions {
  readonly exemptions?: readonly Exemption[];
}

const WORKLOAD_KINDS = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job']);
const RESTRICTED_VOLUME_TYPES = new Set(['configMap', 'secret', 'projected', 'downwardAPI', 'emptyDir', 'persistentVolumeClaim', 'csi', 'ephemeral']);
const IANA_SVC_NAME = /^(?=.*[a-z])(?!.*--)[a-z0-9]([-a-z0-9]{0,13}[a-z0-9])?$/;
const SECRET_LIKE = /(PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|CREDENTIAL)/i;

interface Workload {
  readonly obj: KubeObject;
  readonly ref: string;
  readonly podLabels: Record<string, string>;
  readonly pod: any;
}

/** Every violation of the rules in `objects`, as `Kind/name: rule: detail` lines. */
export function qualityViolations(objects: readonly KubeObject[], options: QualityOptions = {}): string[] {
  const violations: string[] = [];
  const report = (ref: string, rule: Rule, detail: string) => {
    if (!options.exemptions?.some((e) => e.rule === rule && e.object === ref)) violations.push(`${ref}: ${rule}: ${detail}`);
  };
  const workloads = objects.filter((o) => WORKLOAD_KINDS.has(o.kind)).map(toWorkload);
  const services = objects.filter((o) => o.kind === 'Service');
  for (const w of workloads) {
    checkPodSecurity(w, report);
    checkContainers(w, services, report);
  }
  checkServices(services, workloads, report);
  checkDeploymentsBehindServices(workloads, services, objects, report);
  checkStatefulSets(workloads, services, report);
  checkNetworkPolicies(workloads, objects, report);
  for (const obj of objects) {
    if (obj.kind !== 'Namespace' && !(obj.metadata.labels?.['app.kubernetes.io/name'] && obj.metadata.labels?.['app.kubernetes.io/managed-by'])) {
      report(refOf(obj), 'recommended-labels', 'missing app.kubernetes.io/name or app.kubernetes.io/managed-by');
    }
  }
  return violations;
}

type Report = (ref: string, rule: Rule, detail: string) => void;

function refOf(obj: KubeObject): string {
  return `${obj.kind}/${obj.metadata.name}`;
}

function toWorkload(obj: KubeObject): Workload {
  const template = obj.spec?.template ?? obj.spec?.jobTemplate?.spec?.template;
  return { obj, ref: refOf(obj), podLabels: template?.metadata?.labels ?? {}, pod: template?.spec ?? {} };
}

function containersOf(pod: any): any[] {
  return [...(pod.initContainers ?? []), ...(pod.containers ?? [])];
}

function checkPodSecurity(w: Workload, report: Report): void {
  const { pod, ref } = w;
  const podCtx = pod.securityContext ?? {};
  for (const flag of ['hostNetwork', 'hostPID', 'hostIPC']) {
    if (pod[flag]) report(ref, 'pss-baseline', `${flag} is set`);
  }
  for (const volume of pod.volumes ?? []) {
    const type = Object.keys(volume).find((k) => k !== 'name');
    if (type === 'hostPath') report(ref, 'pss-baseline', `volume ${volume.name} is a hostPath`);
    else if (!RESTRICTED_VOLUME_TYPES.has(type ?? '')) report(ref, 'pss-restricted', `volume ${volume.name} has type ${type}`);
  }
  for (const c of containersOf(pod)) {
    const ctx = c.securityContext ?? {};
    const where = `container ${c.name}`;
    if (ctx.privileged) report(ref, 'pss-baseline', `${where} is privileged`);
    for (const port of c.ports ?? []) {
      if (port.hostPort) report(ref, 'pss-baseline', `${where} uses hostPort ${port.hostPort}`);
    }
    for (const handler of handlersOf(c)) {
      if (handler.httpGet?.host || handler.tcpSocket?.host) report(ref, 'pss-baseline', `${where} probe or hook sets host`);
    }
    if (ctx.allowPrivilegeEscalation !== false) report(ref, 'pss-restricted', `${where} does not set allowPrivilegeEscalation: false`);
    if (!ctx.capabilities?.drop?.includes('ALL')) report(ref, 'pss-restricted', `${where} does not drop ALL capabilities`);
    for (const cap of ctx.capabilities?.add ?? []) {
      if (cap !== 'NET_BIND_SERVICE') report(ref, 'pss-restricted', `${where} adds capability ${cap}`);
    }
    if ((ctx.runAsNonRoot ?? podCtx.runAsNonRoot) !== true) report(ref, 'pss-restricted', `${where} does not run as non-root`);
    if ((ctx.runAsUser ?? podCtx.runAsUser) === 0) report(ref, 'pss-restricted', `${where} runs as uid 0`);
    const seccomp = ctx.seccompProfile?.type ?? podCtx.seccompProfile?.type;
    if (seccomp !== 'RuntimeDefault' && seccomp !== 'Localhost') report(ref, 'pss-restricted', `${where} has seccomp ${seccomp ?? 'unset'}`);
    if (ctx.readOnlyRootFilesystem !== true) report(ref, 'read-only-root', `${where} has a writable root filesystem`);
    const uid = ctx.runAsUser ?? podCtx.runAsUser;
    const gid = ctx.runAsGroup ?? podCtx.runAsGroup;
    if (!(uid >= 10000) || !(gid >= 10000)) report(ref, 'non-root-ids', `${where} runs as uid ${uid}, gid ${gid} (want both >= 10000)`);
  }
}

function handlersOf(c: any): any[] {
  return [c.livenessProbe, c.readinessProbe, c.startupProbe, c.lifecycle?.preStop, c.lifecycle?.postStart].filter(Boolean);
}

function checkContainers(w: Workload, services: readonly KubeObject[], report: Report): void {
  const behindService = services.some((s) => selects(s.spec?.selector, w.podLabels, s, w.obj));
  for (const c of containersOf(w.pod)) {
    const where = `container ${c.name}`;
    if (!isPinned(c.image ?? '')) {
      report(w.ref, 'image-pinned', `${where} image ${c.image} has no pinned tag or digest`);
    }
    for (const kind of ['requests', 'limits']) {
      for (const resource of ['cpu', 'memory']) {
        if (c.resources?.[kind]?.[resource] === undefined) report(w.ref, 'resources', `${where} has no ${resource} ${kind}`);
      }
    }
    for (const port of c.ports ?? []) {
      if (port.name !== undefined && !IANA_SVC_NAME.test(port.name)) report(w.ref, 'port-name', `${where} port name ${port.name} is not an IANA service name`);
    }
    if (behindService && (c.ports ?? []).length > 0 && !c.readinessProbe) report(w.ref, 'readiness-probe', `${where} serves behind a Service without a readiness probe`);
    if (c.livenessProbe && c.readinessProbe && JSON.stringify(handlerOf(c.livenessProbe)) === JSON.stringify(handlerOf(c.readinessProbe))) {
      report(w.ref, 'liveness-differs', `${where} liveness and readiness probes are identical`);
    }
    for (const probe of [c.livenessProbe, c.readinessProbe, c.startupProbe].filter(Boolean)) {
      const port = probe.httpGet?.port ?? probe.tcpSocket?.port ?? probe.grpc?.port;
      if (port !== undefined && !(c.ports ?? []).some((p: any) => p.name === port || p.containerPort === port)) {
        report(w.ref, 'probe-port', `${where} probes port ${port}, which it does not declare`);
      }
    }
    for (const env of c.env ?? []) {
      if (env.value !== undefined && SECRET_LIKE.test(env.name)) report(w.ref, 'secret-env', `${where} sets ${env.name} as a literal value`);
    }
  }
}

function isPinned(image: string): boolean {
  if (/@sha256:[a-f0-9]{64}$/.test(image)) return true;
  const lastSegment = image.split('/').pop() ?? '';
  const tag = lastSegment.includes(':') ? lastSegment.slice(lastSegment.indexOf(':') + 1) : '';
  return tag !== '' && tag !== 'latest';
}

function handlerOf(probe: any): unknown {
  return probe.httpGet ?? probe.tcpSocket ?? probe.exec ?? probe.grpc;
}

function selects(selector: Record<string, string> | undefined, labels: Record<string, string>, a: KubeObject, b: KubeObject): boolean {
  if (!selector || Object.keys(selector).length === 0) return false;
  if (a.metadata.namespace !== b.metadata.namespace) return false;
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

function matchLabelsOf(selector: any): Record<string, string> {
  return selector?.matchLabels ?? {};
}

function checkServices(services: readonly KubeObject[], workloads: readonly Workload[], report: Report): void {
  for (const s of services) {
    if (!s.spec?.selector) continue; // selector-less Services have manual Endpoints
    const targets = workloads.filter((w) => selects(s.spec.selector, w.podLabels, s, w.obj));
    if (targets.length === 0) report(refOf(s), 'service-selector', 'selector matches no pod template');
    for (const port of s.spec.ports ?? []) {
      if (typeof port.targetPort === 'string' && !targets.some((w) => containersOf(w.pod).some((c) => (c.ports ?? []).some((p: any) => p.name === port.targetPort)))) {
        report(refOf(s), 'service-selector', `targetPort ${port.targetPort} names no container port of the selected pods`);
      }
    }
  }
  for (const w of workloads) {
    const selector = matchLabelsOf(w.obj.spec?.selector);
    if (w.obj.kind !== 'Job' && !Object.entries(selector).every(([k, v]) => w.podLabels[k] === v)) {
      report(w.ref, 'service-selector', 'selector does not match the pod template labels');
    }
  }
}

function checkDeploymentsBehindServices(workloads: readonly Workload[], services: readonly KubeObject[], objects: readonly KubeObject[], report: Report): void {
  const pdbs = objects.filter((o) => o.kind === 'PodDisruptionBudget');
  for (const w of workloads) {
    if (w.obj.kind !== 'Deployment' && w.obj.kind !== 'StatefulSet') continue;
    if (!services.some((s) => selects(s.spec?.selector, w.podLabels, s, w.obj))) continue;
    const spec = w.obj.spec;
    if (w.obj.kind === 'Deployment') {
      if ((spec.replicas ?? 1) < 2) report(w.ref, 'deployment-ha', `has ${spec.replicas ?? 1} replica(s) behind a Service (want >= 2)`);
      if (spec.strategy?.type && spec.strategy.type !== 'RollingUpdate') report(w.ref, 'deployment-ha', `strategy is ${spec.strategy.type}`);
    }
    const anti = w.pod.affinity?.podAntiAffinity;
    const terms = [...(anti?.requiredDuringSchedulingIgnoredDuringExecution ?? []),
      ...(anti?.preferredDuringSchedulingIgnoredDuringExecution ?? []).map((t: any) => t.podAffinityTerm)];
    if (!terms.some((t: any) => t.topologyKey === 'kubernetes.io/hostname')) report(w.ref, 'deployment-ha', 'no pod anti-affinity on kubernetes.io/hostname');
    const pdb = pdbs.find((p) => selects(matchLabelsOf(p.spec?.selector), w.podLabels, p, w.obj));
    if (!pdb) {
      report(w.ref, 'pdb', 'no PodDisruptionBudget selects it');
      continue;
    }
    const budget = pdb.spec.maxUnavailable ?? pdb.spec.minAvailable;
    const replicas = spec.replicas ?? 1;
    const blocksAll = pdb.spec.maxUnavailable !== undefined
      ? budget === 0 || budget === '0%'
      : budget === '100%' || budget >= replicas;
    const allowsAll = pdb.spec.maxUnavailable !== undefined
      ? budget === '100%' || budget >= replicas
      : budget === 0 || budget === '0%';
    if (blocksAll) report(refOf(pdb), 'pdb', `budget ${JSON.stringify(budget)} blocks every voluntary disruption`);
    if (allowsAll) report(refOf(pdb), 'pdb', `budget ${JSON.stringify(budget)} protects nothing`);
    if (!pdb.spec.unhealthyPodEvictionPolicy) report(refOf(pdb), 'pdb', 'unhealthyPodEvictionPolicy is not explicit');
  }
}

function checkStatefulSets(workloads: readonly Workload[], services: readonly KubeObject[], report: Report): void {
  for (const w of workloads.filter((x) => x.obj.kind === 'StatefulSet')) {
    const svc = services.find((s) => s.metadata.name === w.obj.spec.serviceName && s.metadata.namespace === w.obj.metadata.namespace);
    if (!svc) report(w.ref, 'statefulset-service', `serviceName ${w.obj.spec.serviceName} names no Service`);
    else if (svc.spec.clusterIP !== 'None') report(w.ref, 'statefulset-service', `Service ${svc.metadata.name} is not headless`);
    else if (!selects(svc.spec.selector, w.podLabels, svc, w.obj)) report(w.ref, 'statefulset-service', `Service ${svc.metadata.name} does not select its pods`);
  }
}

function checkNetworkPolicies(workloads: readonly Workload[], objects: readonly KubeObject[], report: Report): void {
  const policies = objects.filter((o) => o.kind === 'NetworkPolicy');
  for (const w of workloads) {
    for (const direction of ['Ingress', 'Egress']) {
      const covered = policies.some((p) => p.metadata.namespace === w.obj.metadata.namespace
        && (p.spec.policyTypes ?? ['Ingress']).includes(direction)
        && Object.entries(matchLabelsOf(p.spec.podSelector)).every(([k, v]) => w.podLabels[k] === v));
      if (!covered) report(w.ref, 'network-policy', `no NetworkPolicy isolates its pods for ${direction}`);
    }
  }
}
