import { ApiObject } from 'cdk8s';
import { k8s } from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import { kubeObject } from './kube-object';

/**
 * Pods label themselves as clients of a registry with `<label>: <cluster name>`; the
 * registry's NetworkPolicies admit exactly those pods, from any namespace.
 */
export const CONSUL_CLIENT_LABEL = 'discovery-kit.io/consul-client';
export const ETCD_CLIENT_LABEL = 'discovery-kit.io/etcd-client';

/** Selects the cluster DNS pods (CoreDNS / kube-dns) in kube-system. */
export const KUBE_DNS_PEER: k8s.NetworkPolicyPeer = {
  namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } },
  podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } },
};

/** Port helper for NetworkPolicy rules. */
export function policyPort(port: number | string, protocol: 'TCP' | 'UDP' = 'TCP'): k8s.NetworkPolicyPort {
  return { port: typeof port === 'number' ? k8s.IntOrString.fromNumber(port) : k8s.IntOrString.fromString(port), protocol };
}

/** Egress to cluster DNS, which every pod needs to discover anything. */
export function clusterDnsEgress(): k8s.NetworkPolicyEgressRule {
  return { to: [KUBE_DNS_PEER], ports: [policyPort(53, 'UDP'), policyPort(53, 'TCP')] };
}

/** Props of {@link PodNetworkPolicy}. */
export interface PodNetworkPolicyProps {
  readonly name: string;
  readonly namespace: string;
  readonly labels: Record<string, string>;
  /** The pods it isolates. */
  readonly podSelector: Record<string, string>;
  /** Allowed inbound traffic; empty denies all. @default - none */
  readonly ingress?: k8s.NetworkPolicyIngressRule[];
  /** Allowed outbound traffic; empty denies all. @default - none */
  readonly egress?: k8s.NetworkPolicyEgressRule[];
}

/**
 * A NetworkPolicy that isolates its pods for both Ingress and Egress and allows exactly the
 * listed rules: anything no rule names is denied.
 */
export class PodNetworkPolicy extends Construct {
  public readonly policy: ApiObject;

  constructor(scope: Construct, id: string, props: PodNetworkPolicyProps) {
    super(scope, id);
    this.policy = kubeObject(this, 'policy', k8s.KubeNetworkPolicy, {
      metadata: { name: props.name, namespace: props.namespace, labels: props.labels },
      spec: {
        podSelector: { matchLabels: props.podSelector },
        policyTypes: ['Ingress', 'Egress'],
        ingress: props.ingress ?? [],
        egress: props.egress ?? [],
      },
    });
  }
}
