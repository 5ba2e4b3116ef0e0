import { ApiObject } from 'cdk8s';
import { k8s } from 'cdk8s-plus-27';
import { Construct, IConstruct } from 'constructs';
import { kubeObject } from './kube-object';
import { checkDns1123Label, checkDns1123Subdomain, checkLabels, checkPresent, invalid, ValidationPass } from './validation';

/**
 * Pods label themselves as clients of a registry with `<label>: <cluster name>`; the
 * registry's NetworkPolicies admit exactly those pods, from any namespace.
 */
export const CONSUL_CLIENT_LABEL = 'discovery-kit.io/consul-client';
export const ETCD_CLIENT_LABEL = 'discovery-kit.io/etcd-client';
/** Mesh pods carry `<label>: <Consul cluster name>`; the servers admit them to gRPC and the HTTP(S) API. */
export const CONSUL_MESH_LABEL = 'discovery-kit.io/consul-mesh';

/** Selects the pods matching `podSelector` in one namespace (by its immutable name label). */
export function podsIn(namespace: string, podSelector: Record<string, string>): k8s.NetworkPolicyPeer {
  return {
    namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': namespace } },
    podSelector: { matchLabels: podSelector },
  };
}

/** Selects the cluster DNS pods (CoreDNS / kube-dns) in kube-system. */
export const KUBE_DNS_PEER: k8s.NetworkPolicyPeer = podsIn('kube-system', { 'k8s-app': 'kube-dns' });

/** A user-given list of NetworkPolicy peers: at least one, none empty (an empty peer admits everyone). */
export function checkPeers(scope: IConstruct, field: string, peers: k8s.NetworkPolicyPeer[]): k8s.NetworkPolicyPeer[] {
  if (!Array.isArray(peers) || peers.length === 0) {
    invalid(scope, field, peers, 'must list at least one peer ({ podSelector, namespaceSelector } or { ipBlock }); leave it out to admit nobody');
  }
  peers.forEach((peer, i) => {
    if (peer === null || typeof peer !== 'object' || Object.keys(peer).length === 0) {
      invalid(scope, `${field}[${i}]`, peer, 'must select pods, namespaces or an ipBlock: an empty peer admits every pod of every namespace');
    }
  });
  return peers;
}

/** Port helper for NetworkPolicy rules. */
export function policyPort(port: number | string, protocol: 'TCP' | 'UDP' = 'TCP'): k8s.NetworkPolicyPort {
  return { port: typeof port === 'number' ? k8s.IntOrString.fromNumber(port) : k8s.IntOrString.fromString(port), protocol };
}

const CLUSTER_DNS_CONTEXT = 'discovery-kit:clusterDns';

/** Where cluster DNS runs, for every NetworkPolicy rule about DNS. */
export interface ClusterDnsOptions {
  /**
   * The DNS servers pods query (egress on 53) and that forward `.consul` to Consul DNS.
   * For NodeLocal DNSCache add its link-local address: `{ ipBlock: { cidr: '169.254.20.10/32' } }`.
   */
  readonly peers: k8s.NetworkPolicyPeer[];
}

/**
 * Sets where cluster DNS runs for every construct under `scope`. Call it on the App before
 * adding charts (construct context cannot change once children exist).
 * @default - the `k8s-app: kube-dns` pods in kube-system ({@link KUBE_DNS_PEER})
 */
export function setClusterDns(scope: IConstruct, options: ClusterDnsOptions): void {
  if (!Array.isArray(options.peers) || options.peers.length === 0) {
    invalid(scope, 'clusterDns.peers', options.peers, 'must name at least one DNS peer (pod selector or ipBlock)');
  }
  scope.node.setContext(CLUSTER_DNS_CONTEXT, options);
}

/** The cluster DNS peers in effect for `scope`. */
export function clusterDnsPeers(scope: IConstruct): k8s.NetworkPolicyPeer[] {
  return (scope.node.tryGetContext(CLUSTER_DNS_CONTEXT) as ClusterDnsOptions | undefined)?.peers ?? [KUBE_DNS_PEER];
}

/** Why a rule of {@link clusterDnsEgress} exists, in the connectivity report. */
export const DNS_REASON = 'DNS: cluster DNS';

/** Egress to cluster DNS, which every pod needs to discover anything. */
export function clusterDnsEgress(scope: IConstruct): k8s.NetworkPolicyEgressRule {
  return { to: clusterDnsPeers(scope), ports: [policyPort(53, 'UDP'), policyPort(53, 'TCP')] };
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
  /**
   * The directions it isolates. A policy that only adds egress to pods another policy
   * isolates names just `Egress`, so it leaves their inbound traffic alone.
   * @default ['Ingress', 'Egress']
   */
  readonly policyTypes?: ('Ingress' | 'Egress')[];
  /**
   * Why each rule exists, for the connectivity report: per direction, one reason per rule in
   * the same order, read at synthesis like the rules.
   * @default - cluster DNS rules say so; others name the policy
   */
  readonly reasons?: { readonly ingress?: () => readonly string[]; readonly egress?: () => readonly string[] };
}

/**
 * A NetworkPolicy that isolates its pods (for both Ingress and Egress by default) and allows
 * exactly the listed rules: anything no rule names is denied.
 */
export class PodNetworkPolicy extends Construct {
  public readonly policy: ApiObject;
  /** Why each rule exists (see {@link PodNetworkPolicyProps.reasons}). */
  public readonly reasons: NonNullable<PodNetworkPolicyProps['reasons']>;

  constructor(scope: Construct, id: string, props: PodNetworkPolicyProps) {
    super(scope, id);
    const v = new ValidationPass();
    v.check(() => checkDns1123Subdomain(this, 'name', props.name));
    v.check(() => checkDns1123Label(this, 'namespace', props.namespace));
    v.check(() => checkLabels(this, 'labels', checkPresent(this, 'labels', props.labels, 'the recommended labels of the pods it isolates')));
    v.check(() => checkLabels(this, 'podSelector', checkPresent(this, 'podSelector', props.podSelector, 'the pods it isolates ({} selects every pod of the namespace)')));
    v.finish();
    this.reasons = props.reasons ?? {};
    this.policy = kubeObject(this, 'policy', k8s.KubeNetworkPolicy, {
      metadata: { name: props.name, namespace: props.namespace, labels: props.labels },
      spec: {
        podSelector: { matchLabels: props.podSelector },
        policyTypes: props.policyTypes ?? ['Ingress', 'Egress'],
        ...(props.policyTypes && !props.policyTypes.includes('Ingress') ? {} : { ingress: props.ingress ?? [] }),
        ...(props.policyTypes && !props.policyTypes.includes('Egress') ? {} : { egress: props.egress ?? [] }),
      },
    });
  }
}
