import { Duration } from 'cdk8s';
import { k8s } from 'cdk8s-plus-27';
import { IConstruct } from 'constructs';
import { CONSUL_PORTS, DEFAULT_CONSUL_IMAGE } from '../config';
import { ConsulBootstrapProps, ConsulBootstrapSecrets, consulBootstrapSecrets } from './props';
import { recommendedLabels, selectorLabels } from '../../core/labels';
import { podDnsConfig } from '../../core/dns-config';
import { checkPeers } from '../../core/network-policy';
import { ResolvedResources, resolveResources } from '../../core/resources';
import { SecretKeyReference, checkSecretKeyReference, checkTlsSecretReference } from '../../core/secret';
import {
  checkDns1035Label, checkDns1123Label, checkDns1123Subdomain, checkDuration, checkInteger, checkLabels, checkPinnedImage, checkPodSelector,
  checkPort, checkPresent, ValidationPass,
} from '../../core/validation';

/** Everything the renderers need, validated. */
export interface ResolvedConsulBootstrap {
  readonly clusterName: string;
  readonly namespace: string;
  /** `<cluster>-bootstrap`: ServiceAccount, Role, RoleBinding, ConfigMap, CronJob and policy names. */
  readonly name: string;
  readonly labels: Record<string, string>;
  /** Labels that select the bootstrap's pods. */
  readonly podSelector: Record<string, string>;
  readonly image: string;
  readonly resources: k8s.ResourceRequirements;
  readonly runAsUser: number;
  readonly runAsGroup: number;
  readonly apiServer: k8s.NetworkPolicyPeer[];
  readonly apiServerPort: number;
  readonly serverPodSelector: Record<string, string>;
  readonly httpPort: number;
  /** `http(s)://<cluster>-server.<ns>.svc.<domain>:<port>`: the servers' headless Service. */
  readonly consulAddress: string;
  /** The CA the job verifies the servers with, when they serve HTTPS and TLS is not generated. */
  readonly caCert?: SecretKeyReference;
  readonly secrets: ConsulBootstrapSecrets;
  readonly gossipKey: boolean;
  readonly tls?: {
    readonly caDays: number;
    readonly serverDays: number;
    readonly renewDays: number;
    readonly datacenter: string;
    readonly domain: string;
    readonly dnsNames: readonly string[];
  };
  readonly acl: boolean;
  readonly snapshotToken: boolean;
  /** The pods' resolver settings: the servers' FQDN is looked up absolute first. */
  readonly dnsConfig: k8s.PodDnsConfig;
  readonly anonymousDnsRead: boolean;
  /** The CronJob's schedule. */
  readonly schedule: string;
  readonly consulWaitSeconds: number;
}

const JOB_RESOURCES: ResolvedResources = { requests: { cpu: '10m', memory: '32Mi' }, limits: { cpu: '200m', memory: '128Mi' } };
const DAY_MS = 86_400_000;

/** One validation pass over the props: every problem is reported at once. */
export function resolveConsulBootstrap(scope: IConstruct, props: ConsulBootstrapProps): ResolvedConsulBootstrap {
  const v = new ValidationPass();
  const cluster = checkPresent(scope, 'cluster', props?.cluster, 'the ConsulCluster to bootstrap');
  const clusterName = v.check(() => checkDns1035Label(scope, 'cluster.clusterName', cluster.clusterName), 'invalid');
  const namespace = v.check(() => checkDns1123Label(scope, 'cluster.namespace', cluster.namespace), 'invalid');
  const clusterDomain = v.check(() => checkDns1123Subdomain(scope, 'cluster.clusterDomain', cluster.clusterDomain), 'invalid');
  const serverPodSelector = v.check(() => checkPodSelector(scope, 'cluster.serverPodSelector', cluster.serverPodSelector, 'the Consul server pods'), {});
  const httpPort = v.check(() => checkPort(scope, 'cluster.meshControlPlane.httpPort',
    checkPresent(scope, 'cluster.meshControlPlane', cluster.meshControlPlane, "the servers' API port").httpPort), CONSUL_PORTS.http);
  const apiServer = v.check(() => checkPeers(scope, 'apiServer',
    checkPresent(scope, 'apiServer', props.apiServer, "the Kubernetes API server's endpoints, for the bootstrap's egress")), []);
  const apiServerPort = v.check(() => checkPort(scope, 'apiServerPort', props.apiServerPort ?? 6443), 6443);
  const image = props.image ?? DEFAULT_CONSUL_IMAGE;
  v.check(() => checkPinnedImage(scope, 'image', image));
  const resources = v.check(() => resolveResources(scope, 'resources', props.resources, JOB_RESOURCES), {});
  const runAsUser = v.check(() => checkInteger(scope, 'runAsUser', props.runAsUser ?? 100, 1, 2_147_483_647), 100);
  const runAsGroup = v.check(() => checkInteger(scope, 'runAsGroup', props.runAsGroup ?? 1000, 1, 2_147_483_647), 1000);
  const userLabels = v.check(() => checkLabels(scope, 'labels', props.labels ?? {}), {});
  const reconcileMinutes = v.check(() => checkDuration(scope, 'reconcileInterval', props.reconcileInterval ?? Duration.minutes(5), 60_000, 3_600_000) / 60_000, 5);
  if (!Number.isInteger(reconcileMinutes)) v.report(scope, 'reconcileInterval', props.reconcileInterval, 'must be whole minutes from 1 to 60 (a cron schedule)');
  const consulWaitSeconds = v.check(() => checkDuration(scope, 'consulWait', props.consulWait ?? Duration.minutes(10), 10_000, DAY_MS) / 1000, 600);
  const days = (field: string, value: Duration | undefined, fallback: number) =>
    v.check(() => Math.ceil(checkDuration(scope, field, value ?? Duration.days(fallback), DAY_MS) / DAY_MS), fallback);
  const caDays = days('caValidity', props.caValidity, 1825);
  const serverDays = days('serverCertificateValidity', props.serverCertificateValidity, 365);
  const renewDays = days('renewBefore', props.renewBefore, 30);
  // The certificates' timing matters only when the job makes them.
  if ((props.tls ?? false) && renewDays >= serverDays) {
    const field = props.renewBefore === undefined ? 'serverCertificateValidity' : 'renewBefore';
    v.report(scope, field, field === 'renewBefore' ? props.renewBefore : props.serverCertificateValidity,
      `must leave renewBefore (${renewDays} days) shorter than serverCertificateValidity (${serverDays} days), or every run would issue a new certificate`);
  }
  const secrets = resolveSecrets(v, scope, clusterName, props.secrets ?? {});
  const https = httpPort === CONSUL_PORTS.https;
  const tls = props.tls ?? false;
  const datacenter = tls ? v.check(() => checkDns1123Label(scope, 'cluster.datacenter', cluster.datacenter), 'invalid') : cluster.datacenter;
  const domain = tls ? v.check(() => checkDns1123Label(scope, 'cluster.domain', cluster.domain), 'invalid') : cluster.domain;
  const dnsNames = tls ? v.check(() => checkPresent(scope, 'cluster.tlsDnsNames.server',
    checkPresent(scope, 'cluster.tlsDnsNames', cluster.tlsDnsNames, 'the DNS names of the server certificate').server, 'the DNS names of the server certificate'), []) : [];
  const caCert = props.caCert && v.check(() => checkSecretKeyReference(scope, 'caCert', props.caCert!));
  if (https && !tls && !caCert) v.report(scope, 'caCert', undefined, 'must be set: the cluster serves HTTPS and the job must verify the servers with their CA (or set tls: true to generate it)');
  if (props.anonymousDnsRead && props.acl === false) v.report(scope, 'anonymousDnsRead', true, 'needs acl (the DNS policy is made by the ACL bootstrap)');
  v.finish();

  const name = `${clusterName}-bootstrap`;
  return {
    clusterName,
    namespace,
    name,
    labels: { ...userLabels, ...recommendedLabels({ name: 'consul', instance: clusterName, component: 'bootstrap', partOf: props.partOf }) },
    podSelector: selectorLabels({ name: 'consul', instance: clusterName, component: 'bootstrap' }),
    image,
    resources,
    runAsUser,
    runAsGroup,
    apiServer,
    apiServerPort,
    serverPodSelector,
    httpPort,
    consulAddress: `${https ? 'https' : 'http'}://${clusterName}-server.${namespace}.svc.${clusterDomain}:${httpPort}`,
    caCert: tls ? undefined : caCert,
    secrets,
    gossipKey: props.gossipKey ?? true,
    tls: tls ? { caDays, serverDays, renewDays, datacenter, domain, dnsNames } : undefined,
    acl: props.acl ?? true,
    snapshotToken: (props.acl ?? true) && (props.snapshotToken ?? false),
    dnsConfig: podDnsConfig(scope, 'ndots'),
    anonymousDnsRead: props.anonymousDnsRead ?? false,
    schedule: reconcileMinutes === 60 ? '0 * * * *' : `*/${reconcileMinutes} * * * *`,
    consulWaitSeconds,
  };
}

function resolveSecrets(v: ValidationPass, scope: IConstruct, clusterName: string, given: Partial<ConsulBootstrapSecrets>): ConsulBootstrapSecrets {
  const secrets = { ...consulBootstrapSecrets(clusterName), ...given };
  for (const field of ['gossipKey', 'bootstrapToken', 'aclTokens', 'ca', 'snapshotToken'] as const) {
    v.check(() => checkSecretKeyReference(scope, `secrets.${field}`, secrets[field]));
  }
  for (const field of ['caKey', 'serverCertificate'] as const) {
    v.check(() => checkTlsSecretReference(scope, `secrets.${field}`, secrets[field]));
  }
  const names = Object.values(secrets).map((s) => s.secretName);
  const twice = names.find((n, i) => names.indexOf(n) !== i);
  // The CA key must stay out of every Secret a pod mounts.
  if (twice !== undefined) v.report(scope, 'secrets', given, `must name a different Secret each: ${twice} is named twice`);
  return secrets;
}
