import { k8s } from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import type { EtcdClusterProps, EtcdTlsFlags } from './cluster-props';
import { etcdClusterWarnings, resolveEtcdCluster } from './cluster-resolve';
import { CLIENT_PORT, disruptionBudgetSpec, headlessHost, memberNames, memberUrl, scheme, statefulSetSpec } from './members';
import { clientServiceSpec, headlessServiceSpec, networkPolicy } from './network';
import type { ResolvedHealth } from '../core/health';
import { kubeObject } from '../core/kube-object';
import { PodNetworkPolicy } from '../core/network-policy';
import { warn } from '../core/validation';

/**
 * An etcd cluster for service registration: a StatefulSet of odd size with stable member
 * DNS names, a headless Service for peers, a ClusterIP client Service, readiness/liveness on
 * etcd's /readyz and /livez, a quorum-safe PodDisruptionBudget, optional client and peer
 * TLS, and a NetworkPolicy that admits only members and labelled clients. Pod Security
 * "restricted".
 *
 * Kubelet probes reach the plain-HTTP metrics port from the node, which no NetworkPolicy
 * rule allows: CNIs admit node-to-pod traffic by default, but one configured to police host
 * traffic (e.g. Cilium with host policies) needs an extra rule, or probes fail.
 */
export class EtcdCluster extends Construct {
  public readonly clusterName: string;
  public readonly namespace: string;
  public readonly clusterDomain: string;
  /** Number of members. */
  public readonly replicas: number;
  /** Recommended labels every object carries. */
  public readonly labels: Record<string, string>;
  /** Labels the Services, the PodDisruptionBudget and the NetworkPolicy select the members with. */
  public readonly podSelector: Record<string, string>;
  /** DNS name of the ClusterIP client Service. */
  public readonly clientServiceHost: string;
  /** URLs clients use: the client Service, which spreads connections over the Ready members. */
  public readonly clientEndpoints: string[];
  /** Client URLs of each member, for clients that balance across members themselves. */
  public readonly memberEndpoints: string[];
  /** Client port of the members (for NetworkPolicy rules). */
  public readonly clientPort = CLIENT_PORT;
  public readonly tls: EtcdTlsFlags;
  /** Labels a pod (in any namespace) carries to be admitted to the client port. */
  public readonly clientLabels: Record<string, string>;
  /** DNS names a server certificate must cover (as SANs): the client Service and every member (peer and client URLs). */
  public readonly serverDnsNames: string[];
  /** The probes' health spec. */
  public readonly health: ResolvedHealth;
  public readonly statefulSet: k8s.KubeStatefulSet;
  public readonly headlessService: k8s.KubeService;
  public readonly clientService: k8s.KubeService;
  public readonly serviceAccount: k8s.KubeServiceAccount;
  /** Absent for a single member, where any budget either blocks drains or protects nothing. */
  public readonly podDisruptionBudget?: k8s.KubePodDisruptionBudget;
  public readonly networkPolicy: PodNetworkPolicy;

  constructor(scope: Construct, id: string, props: EtcdClusterProps = {}) {
    super(scope, id);
    // Every prop is validated (all errors at once) before any child is created.
    const spec = resolveEtcdCluster(this, props);
    etcdClusterWarnings(spec).forEach((message) => warn(this, message));

    ({ name: this.clusterName, namespace: this.namespace, clusterDomain: this.clusterDomain, replicas: this.replicas } = spec);
    ({ labels: this.labels, podSelector: this.podSelector, clientLabels: this.clientLabels, health: this.health } = spec);
    this.tls = { client: spec.tls.client !== undefined, peer: spec.tls.peer !== undefined };
    this.clientServiceHost = `${spec.name}-client.${spec.namespace}.svc.${spec.clusterDomain}`;
    this.clientEndpoints = [`${scheme(spec, 'client')}://${this.clientServiceHost}:${CLIENT_PORT}`];
    this.memberEndpoints = memberNames(spec).map((m) => memberUrl(spec, 'client', m, CLIENT_PORT));
    this.serverDnsNames = [this.clientServiceHost, `*.${headlessHost(spec)}`];

    const metadata = (name = spec.name): k8s.ObjectMeta => ({ name, namespace: spec.namespace, labels: spec.labels });
    this.serviceAccount = kubeObject(this, 'service-account', k8s.KubeServiceAccount, { metadata: metadata(), automountServiceAccountToken: false });
    this.headlessService = kubeObject(this, 'headless-service', k8s.KubeService, { metadata: metadata(), spec: headlessServiceSpec(spec) });
    this.clientService = kubeObject(this, 'client-service', k8s.KubeService, { metadata: metadata(`${spec.name}-client`), spec: clientServiceSpec(spec) });
    this.statefulSet = kubeObject(this, 'statefulset', k8s.KubeStatefulSet, { metadata: metadata(), spec: statefulSetSpec(spec) });
    const budget = disruptionBudgetSpec(spec);
    this.podDisruptionBudget = budget && kubeObject(this, 'pdb', k8s.KubePodDisruptionBudget, { metadata: metadata(), spec: budget });
    this.networkPolicy = new PodNetworkPolicy(this, 'network-policy', networkPolicy(spec));
  }
}
