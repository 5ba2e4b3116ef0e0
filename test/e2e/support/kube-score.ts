import { spawnSync } from 'node:child_process';
import { Yaml } from 'cdk8s';
import type { KubeObject } from '../../support/schema';
import { binaryPath } from './binaries';

/**
 * The kube-score run: every default check, plus the optional seccomp-profile and
 * container-ports checks; the Kubernetes version of the e2e API server. The optional
 * requests-equal-limits checks (Guaranteed QoS) stay off: burstable pods are a deliberate default.
 */
const ARGS = [
  'score', '--output-format', 'json', '--kubernetes-version', 'v1.36',
  '--enable-optional-test', 'container-seccomp-profile', '--enable-optional-test', 'container-ports-check',
];

/** kube-score's grades: CRITICAL 1, WARNING 5, ALMOST_OK 7, ALL_OK 10. */
const WARNING = 5;

/** One WARNING or CRITICAL verdict of one check on one object. */
export interface Finding {
  /** kube-score's check id, e.g. `pod-networkpolicy`. */
  readonly check: string;
  /** `Kind namespace/name`. */
  readonly object: string;
  readonly grade: 'CRITICAL' | 'WARNING';
  /** kube-score's comments, `container: summary`. */
  readonly detail: string;
}

/**
 * Runs the real kube-score over `objects` (read together, so Services, PodDisruptionBudgets and
 * NetworkPolicies are matched against the workloads) and returns every WARNING and CRITICAL.
 */
export function kubeScore(objects: readonly KubeObject[]): Finding[] {
  const result = spawnSync(binaryPath('kube-score'), [...ARGS, '-'], { input: Yaml.stringify(...objects), encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  // Exit status 1 means "found a CRITICAL"; the JSON on stdout says which.
  if (result.error || (result.status !== 0 && result.status !== 1) || !result.stdout.startsWith('[')) {
    throw new Error(`kube-score failed (${result.error?.message ?? `exit status ${result.status}`}):\n${result.stderr}${result.stdout.slice(0, 2000)}`);
  }
  const scored: any[] = JSON.parse(result.stdout);
  return scored.flatMap((o) => o.checks
    .filter((c: any) => !c.skipped && c.grade <= WARNING)
    .map((c: any): Finding => ({
      check: c.check.id,
      object: `${o.type_meta.kind} ${o.object_meta.namespace ? `${o.object_meta.namespace}/` : ''}${o.object_meta.name}`,
      grade: c.grade < WARNING ? 'CRITICAL' : 'WARNING',
      detail: (c.comments ?? []).map((comment: any) => `${comment.path ? `${comment.path}: ` : ''}${comment.summary}`).join('; '),
    })));
}
