import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';

/** Where a stack's Kubernetes objects go. */
export interface KubernetesTarget {
  /** Path to, or contents of, a kubeconfig. @default - the ambient kubeconfig ($KUBECONFIG, else ~/.kube/config) */
  readonly kubeconfig?: pulumi.Input<string>;
  /** The kubeconfig context to use. @default - the kubeconfig's current context */
  readonly context?: string;
  /**
   * Write the manifests to this directory instead of applying them, for users without a
   * cluster (a beta feature of the Kubernetes provider). Secret data is written in plain text.
   * The provider rejects it together with `kubeconfig` or `context`.
   * @default - apply to the cluster
   */
  readonly renderYamlToDirectory?: string;
}

/**
 * The explicit Kubernetes provider of a stack. Pass it to each component (`{ provider }`);
 * the children inherit it. Warns when rendering, because rendered Secrets are plain text.
 */
export function kubernetesProvider(name: string, target: KubernetesTarget, opts?: pulumi.CustomResourceOptions): k8s.Provider {
  if (target.renderYamlToDirectory) {
    pulumi.log.warn(`Rendering manifests to ${target.renderYamlToDirectory} instead of applying them: `
      + 'Secret data is written there in plain text. Keep the directory out of version control and delete it after use.');
  }
  return new k8s.Provider(name, {
    kubeconfig: target.kubeconfig,
    context: target.context,
    renderYamlToDirectory: target.renderYamlToDirectory,
  }, opts);
}
