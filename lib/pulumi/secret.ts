import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';

/** Arguments of {@link kubernetesSecret}. */
export interface KubernetesSecretArgs {
  readonly name: string;
  readonly namespace: string;
  /** The Secret's keys and values; every value is made a Pulumi secret. */
  readonly stringData: Record<string, pulumi.Input<string>>;
}

/**
 * A Kubernetes Secret created in Pulumi from (secret) Outputs, such as `config.requireSecret`:
 * its values are encrypted in the state and never appear in a manifest, which references the
 * Secret by name. It is named `<namespace>/Secret/<name>`, like the objects of a
 * {@link Cdk8sChartResource}.
 */
export function kubernetesSecret(args: KubernetesSecretArgs, opts?: pulumi.CustomResourceOptions): k8s.core.v1.Secret {
  const stringData = Object.fromEntries(Object.entries(args.stringData).map(([key, value]) => [key, pulumi.secret(value)]));
  return new k8s.core.v1.Secret(`${args.namespace}/Secret/${args.name}`, {
    metadata: { name: args.name, namespace: args.namespace },
    type: 'Opaque',
    stringData,
  }, opts);
}
