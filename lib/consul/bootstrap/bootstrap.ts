import { ApiObject } from 'cdk8s';
import { k8s } from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import { ConsulBootstrapProps, ConsulBootstrapReference, ConsulBootstrapSecrets } from './props';
import { ResolvedConsulBootstrap, resolveConsulBootstrap } from './resolve';
import { CONSUL_BOOTSTRAP_SCRIPT, cronJob, job, podTemplate, role, roleBinding, scriptConfigMap, serviceAccount } from './render';
import { kubeObject } from '../../core/kube-object';
import { DNS_REASON, PodNetworkPolicy, clusterDnsEgress, policyPort } from '../../core/network-policy';
import { checkDns1035Label, checkDns1123Label, checkPresent, ValidationPass } from '../../core/validation';

/**
 * Makes a {@link ConsulCluster} secure without a manual step, as consul-k8s's gossip-key
 * job, TLS init and server-acl-init do: a Job at deploy and a CronJob that reconciles run
 * one idempotent script (lib/consul/bootstrap/bootstrap.sh) in the Consul image that
 *
 * - generates the gossip key into its Secret when it is missing (the servers wait for it);
 * - with `tls`, generates a CA and the servers' certificate, and issues that again before
 *   it expires (the servers' entrypoint reloads Consul when the Secret changes);
 * - bootstraps ACLs once and stores the management token in a Secret, creates the agent and
 *   DNS policies and tokens and writes them into the tokens Secret the servers and agents
 *   read (`acl.tokensSecret`), and one token per {@link ConsulServiceToken} declaration, with
 *   that service's identity, into the Secret its pods mount.
 *
 * A second run changes nothing; a deleted token Secret (not the bootstrap token's) is written again with the same token
 * (Consul is the source of truth; tokens are found by their description); a new
 * declaration gets its token on the next run, and the token of a removed one is revoked. The job may touch only its own Secrets by
 * name, reaches only the servers' API, the Kubernetes API and cluster DNS, and runs under
 * Pod Security "restricted".
 */
export class ConsulBootstrap extends Construct implements ConsulBootstrapReference {
  /** A bootstrap defined in another program, for an app team's {@link ConsulServiceToken}s. */
  public static fromAttributes(attributes: { readonly clusterName: string; readonly namespace: string }): ConsulBootstrapReference {
    const scope = 'ConsulBootstrap.fromAttributes';
    const v = new ValidationPass();
    const clusterName = v.check(() => checkDns1035Label(scope, 'clusterName', checkPresent(scope, 'clusterName', attributes?.clusterName, "the platform's ConsulCluster name")));
    const namespace = v.check(() => checkDns1123Label(scope, 'namespace', checkPresent(scope, 'namespace', attributes?.namespace, "the platform's ConsulCluster namespace")));
    v.finish();
    return { clusterName: clusterName!, namespace: namespace!, serviceAccountName: `${clusterName}-bootstrap` };
  }

  public readonly clusterName: string;
  public readonly namespace: string;
  public readonly serviceAccountName: string;
  /** The Secrets it writes: name them in the `ConsulCluster`. */
  public readonly secrets: ConsulBootstrapSecrets;
  /** The one-off Job (its name carries a hash of its pod template). */
  public readonly job: ApiObject;
  public readonly cronJob: ApiObject;
  private readonly spec: ResolvedConsulBootstrap;

  constructor(scope: Construct, id: string, props: ConsulBootstrapProps) {
    super(scope, id);
    const spec = resolveConsulBootstrap(this, props);
    this.spec = spec;
    this.clusterName = spec.clusterName;
    this.namespace = spec.namespace;
    this.serviceAccountName = spec.name;
    this.secrets = spec.secrets;

    kubeObject(this, 'service-account', k8s.KubeServiceAccount, serviceAccount(spec));
    kubeObject(this, 'role', k8s.KubeRole, role(spec));
    kubeObject(this, 'role-binding', k8s.KubeRoleBinding, roleBinding(spec));
    kubeObject(this, 'scripts', k8s.KubeConfigMap, scriptConfigMap(spec));
    const template = podTemplate(spec);
    this.job = kubeObject(this, 'job', k8s.KubeJob, job(spec, template, CONSUL_BOOTSTRAP_SCRIPT));
    this.cronJob = kubeObject(this, 'cron-job', k8s.KubeCronJob, cronJob(spec, template));
    this.networkPolicies();
  }

  /**
   * The job reaches the servers' HTTP(S) API, the API server and cluster DNS, and nothing
   * reaches it. The servers' own policy admits only Consul's traffic, so a second policy
   * (policies add up) admits the job to their API port.
   */
  private networkPolicies(): void {
    const { spec } = this;
    const servers: k8s.NetworkPolicyPeer = { podSelector: { matchLabels: spec.serverPodSelector } };
    new PodNetworkPolicy(this, 'network-policy', {
      name: spec.name, namespace: spec.namespace, labels: spec.labels, podSelector: spec.podSelector,
      ingress: [],
      egress: [
        ...(spec.acl ? [{ to: [servers], ports: [policyPort(spec.httpPort)] }] : []),
        { to: spec.apiServer, ports: [policyPort(spec.apiServerPort)] },
        clusterDnsEgress(this),
      ],
      reasons: {
        egress: () => [
          ...(spec.acl ? ['bootstrap: ACLs and tokens over the servers\' API'] : []),
          'bootstrap: writes Secrets and reads token declarations through the API server', DNS_REASON,
        ],
      },
    });
    if (spec.acl) {
      new PodNetworkPolicy(this, 'server-ingress', {
        name: `${spec.clusterName}-server-from-bootstrap`, namespace: spec.namespace, labels: spec.labels, podSelector: spec.serverPodSelector,
        policyTypes: ['Ingress'],
        ingress: [{ from: [{ podSelector: { matchLabels: spec.podSelector } }], ports: [policyPort(spec.httpPort)] }],
        reasons: { ingress: () => ['bootstrap: ACLs and tokens over the servers\' API'] },
      });
    }
  }
}
