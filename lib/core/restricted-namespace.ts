import { ApiObject, Chart, JsonPatch } from 'cdk8s';
import { k8s } from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import { MANAGED_BY } from './labels';
import { kubeObject } from './kube-object';
import { checkDns1123Label, checkLabels, ValidationPass } from './validation';

/** Pod Security Standards levels. */
export enum PodSecurityLevel {
  RESTRICTED = 'restricted',
  BASELINE = 'baseline',
  PRIVILEGED = 'privileged',
}

/** Props of {@link RestrictedNamespace}. */
export interface RestrictedNamespaceProps {
  /** Namespace name (RFC 1123 label). @default - the construct id */
  readonly name?: string;
  /** Level the admission controller enforces. @default PodSecurityLevel.RESTRICTED */
  readonly enforce?: PodSecurityLevel;
  /** Extra labels. @default - none */
  readonly labels?: Record<string, string>;
}

/**
 * A Namespace whose Pod Security admission enforces, audits and warns at one level
 * ("restricted" by default), so a pod that would weaken the defaults is refused.
 */
export class RestrictedNamespace extends Construct {
  public readonly name: string;
  public readonly namespace: ApiObject;

  constructor(scope: Construct, id: string, props: RestrictedNamespaceProps = {}) {
    super(scope, id);
    const v = new ValidationPass();
    this.name = v.check(() => checkDns1123Label(this, 'name', props.name ?? id), '');
    const labels = v.check(() => checkLabels(this, 'labels', props.labels ?? {}), {});
    v.finish();
    const level = props.enforce ?? PodSecurityLevel.RESTRICTED;
    this.namespace = kubeObject(this, 'namespace', k8s.KubeNamespace, {
      metadata: {
        name: this.name,
        labels: {
          ...labels,
          'app.kubernetes.io/managed-by': MANAGED_BY,
          'pod-security.kubernetes.io/enforce': level,
          'pod-security.kubernetes.io/audit': level,
          'pod-security.kubernetes.io/warn': level,
        },
      },
    });
    // Namespaces are cluster-scoped; the chart's default namespace must not leak onto this one.
    if (Chart.of(this).namespace) this.namespace.addJsonPatch(JsonPatch.remove('/metadata/namespace'));
  }
}
