/**
 * The in-house remainder of the manifest-quality checks: only what neither real tool of
 * `npm run test:e2e` checks. The real kube-score (test/e2e/kube-score.test.ts) judges
 * resources, probes, Service and workload selectors, replicas, rollout strategy,
 * anti-affinity, PodDisruptionBudget presence, StatefulSet Services, NetworkPolicy
 * coverage, read-only root filesystems, user and group ids; the real kube-apiserver
 * (test/e2e/apply-dist.test.ts) enforces Pod Security "restricted" and port-name syntax.
 * Both run over the example and over representative charts of every construct variant.
 * `qualityViolations` returns one line per violation; an empty list is a pass.
 *
 * Rules are written independently of the library's own validators on purpose, so a bug
 * in a validator cannot hide the problem it should have caught.
 */
import type { KubeObject } from './schema';

/**
 * - image-pinned: kube-score reads the text after the last ':' as the tag, so an untagged
 *   image behind a registry port (`registry:5000/app`) passes it;
 * - probe-port, service-target-port: a named port must exist on the container; the API server
 *   checks only the name's syntax and kube-score not at all;
 * - pdb: budgets of 0 or 100% and an implicit unhealthyPodEvictionPolicy (kube-linter checks;
 *   kube-score checks only that a budget exists);
 * - secret-env: literal values of credential-like variables (a kube-linter check); a `_FILE`
 *   variable that names a file of a mounted Secret is a path, not a credential;
 * - recommended-labels: app.kubernetes.io/name and managed-by on every object.
 */
export type Rule = 'image-pinned' | 'probe-port' | 'service-target-port' | 'pdb' | 'secret-env' | 'recommended-labels';

const WORKLOAD_KINDS = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job']);
const SECRET_LIKE = /(PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|CREDENTIAL)/i;

interface Workload {
  readonly obj: KubeObject;
  readonly ref: string;
  readonly podLabels: Record<string, string>;
  readonly pod: any;
}

type Report = (ref: string, rule: Rule, detail: string) => void;

/** Every violation of the rules in `objects`, as `Kind/name: rule: detail` lines. */
export function qualityViolations(objects: readonly KubeObject[]): string[] {
  const violations: string[] = [];
  const report: Report = (ref, rule, detail) => violations.push(`${ref}: ${rule}: ${detail}`);
  const workloads = objects.filter((o) => WORKLOAD_KINDS.has(o.kind)).map(toWorkload);
  for (const w of workloads) checkContainers(w, report);
  checkServiceTargetPorts(objects.filter((o) => o.kind === 'Service'), workloads, report);
  checkDisruptionBudgets(objects.filter((o) => o.kind === 'PodDisruptionBudget'), workloads, report);
  for (const obj of objects) {
    if (obj.kind !== 'Namespace' && !(obj.metadata.labels?.['app.kubernetes.io/name'] && obj.metadata.labels?.['app.kubernetes.io/managed-by'])) {
      report(refOf(obj), 'recommended-labels', 'missing app.kubernetes.io/name or app.kubernetes.io/managed-by');
    }
  }
  return violations;
}

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

function checkContainers(w: Workload, report: Report): void {
  for (const c of containersOf(w.pod)) {
    const where = `container ${c.name}`;
    if (!isPinned(c.image ?? '')) {
      report(w.ref, 'image-pinned', `${where} image ${c.image} has no pinned tag or digest`);
    }
    for (const probe of [c.livenessProbe, c.readinessProbe, c.startupProbe].filter(Boolean)) {
      const port = probe.httpGet?.port ?? probe.tcpSocket?.port ?? probe.grpc?.port;
      if (port !== undefined && !(c.ports ?? []).some((p: any) => p.name === port || p.containerPort === port)) {
        report(w.ref, 'probe-port', `${where} probes port ${port}, which it does not declare`);
      }
    }
    for (const env of c.env ?? []) {
      if (env.value !== undefined && SECRET_LIKE.test(env.name) && !isSecretFilePath(w.pod, c, env)) {
        report(w.ref, 'secret-env', `${where} sets ${env.name} as a literal value`);
      }
    }
  }
}

/**
 * `<NAME>_FILE` set to a path inside one of the container's Secret volumes names where the
 * credential is mounted (kube-linter's own remedy: "mount the secret as a file"), not the credential.
 */
function isSecretFilePath(pod: any, container: any, env: { name: string; value: string }): boolean {
  if (!env.name.endsWith('_FILE')) return false;
  const secretVolumes = new Set((pod.volumes ?? []).filter((v: any) => v.secret).map((v: any) => v.name));
  return (container.volumeMounts ?? []).some((m: any) => secretVolumes.has(m.name) && env.value.startsWith(`${m.mountPath}/`));
}

function isPinned(image: string): boolean {
  if (/@sha256:[a-f0-9]{64}$/.test(image)) return true;
  const lastSegment = image.split('/').pop() ?? '';
  const tag = lastSegment.includes(':') ? lastSegment.slice(lastSegment.indexOf(':') + 1) : '';
  return tag !== '' && tag !== 'latest';
}

function selects(selector: Record<string, string> | undefined, labels: Record<string, string>, a: KubeObject, b: KubeObject): boolean {
  if (!selector || Object.keys(selector).length === 0) return false;
  if (a.metadata.namespace !== b.metadata.namespace) return false;
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

function checkServiceTargetPorts(services: readonly KubeObject[], workloads: readonly Workload[], report: Report): void {
  for (const s of services) {
    if (!s.spec?.selector) continue; // selector-less Services have manual Endpoints
    const targets = workloads.filter((w) => selects(s.spec.selector, w.podLabels, s, w.obj));
    for (const port of s.spec.ports ?? []) {
      if (typeof port.targetPort === 'string' && !targets.some((w) => containersOf(w.pod).some((c) => (c.ports ?? []).some((p: any) => p.name === port.targetPort)))) {
        report(refOf(s), 'service-target-port', `targetPort ${port.targetPort} names no container port of the selected pods`);
      }
    }
  }
}

function checkDisruptionBudgets(pdbs: readonly KubeObject[], workloads: readonly Workload[], report: Report): void {
  for (const pdb of pdbs) {
    const target = workloads.find((w) => selects(pdb.spec?.selector?.matchLabels, w.podLabels, pdb, w.obj));
    const replicas = target?.obj.spec?.replicas ?? 1;
    const budget = pdb.spec.maxUnavailable ?? pdb.spec.minAvailable;
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
