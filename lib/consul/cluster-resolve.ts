import { Chart, Duration } from 'cdk8s';
import { IConstruct } from 'constructs';
import { ConsulClusterProps, ConsulTlsOptions, GossipEncryption } from './cluster-props';
import { ResolvedConsulCluster, ResolvedConsulClusterTls, Role, objectName } from './cluster-spec';
import { DEFAULT_CONSUL_IMAGE, checkIpv4Address } from './config';
import { podDnsConfig } from '../core/dns-config';
import { resolvePlacement, resolveStatefulUpgrade } from '../core/placement';
import { recommendedLabels, selectorLabels } from '../core/labels';
import { claimServiceNames } from '../core/name-claims';
import { CONSUL_CLIENT_LABEL, checkPeers, clusterDnsEgress, clusterDnsPeers } from '../core/network-policy';
import { ResolvedResources, SMALL_SERVICE_RESOURCES, quantityValue, resolveResources } from '../core/resources';
import { SecretKeyReference, checkSecretKeyReference, checkTlsSecretReference } from '../core/secret';
import {
  ValidationPass, checkDns1035Label, checkDns1123Label, checkDns1123Subdomain, checkDuration, checkInteger, checkLabels,
  checkPinnedImage, checkQuantity, invalid,
} from '../core/validation';
import { resolveConsulK8s } from '../mesh/consul-k8s';

/** `<name>-server` and the 10-character controller-revision-hash suffix must fit a 63-character label. */
const MAX_NAME_LENGTH = 45;

const SERVER_RESOURCES: ResolvedResources = {
  requests: { cpu: '250m', memory: '256Mi' },
  limits: { cpu: '1', memory: '512Mi' },
};

const HOUR_MS = 3_600_000;
const ROLES: readonly Role[] = ['server', 'agent'];
/** The Services whose names the cluster claims in its namespace. */
const SERVICE_SUFFIXES = ['server', 'ui', 'dns', 'agent'];

/**
 * The one validation pass over a {@link ConsulCluster}'s props: every bad value is reported
 * at once, each naming the construct, the field, the value and what is allowed. It creates
 * nothing; the construct renders its objects from the result.
 */
export function resolveConsulCluster(scope: IConstruct, id: string, props: ConsulClusterProps): ResolvedConsulCluster {
  const v = new ValidationPass();
  const name = props.name ?? id;
  const nameOk = v.check(() => checkClusterName(scope, name)) !== undefined;
  const namespace = props.namespace ?? Chart.of(scope).namespace ?? 'default';
  v.check(() => checkDns1123Label(scope, 'namespace', namespace));
  const clusterDomain = props.clusterDomain ?? 'cluster.local';
  v.check(() => checkDns1123Subdomain(scope, 'clusterDomain', clusterDomain));
  const datacenter = props.datacenter ?? 'dc1';
  v.check(() => checkDns1123Label(scope, 'datacenter', datacenter));
  const domain = props.domain ?? 'consul';
  v.check(() => checkDns1123Label(scope, 'domain', domain));
  const replicas = v.check(() => checkServerCount(scope, props), 0);
  const image = props.image ?? DEFAULT_CONSUL_IMAGE;
  v.check(() => checkPinnedImage(scope, 'image', image));
  const gossipSecret = v.check(() => checkGossipEncryption(scope, props.gossipEncryption));
  const acl = props.acl ?? {};
  const aclTokensSecret = acl.tokensSecret && v.check(() => checkSecretKeyReference(scope, 'acl.tokensSecret', acl.tokensSecret!));
  const tls = props.tls && resolveTls(v, scope, props.tls);
  if (tls?.autoEncrypt && props.connect === false) {
    v.report(scope, 'connect', false, "must stay on without tls.agentCertificate: the agents' own certificates (auto_encrypt) come from the Connect CA");
  }
  const uiAccess = props.uiAccess && v.check(() => checkPeers(scope, 'uiAccess', props.uiAccess!));
  const metricsScrapers = props.metricsScrapers && v.check(() => checkPeers(scope, 'metricsScrapers', props.metricsScrapers!));
  const consulK8s = props.consulK8s && v.check(() => resolveConsulK8s(scope, 'consulK8s', props.consulK8s!, name));
  const storageSize = props.storageSize ?? '10Gi';
  v.check(() => checkStorageSize(scope, storageSize));
  const storageClassName = props.storageClassName;
  if (storageClassName !== undefined) v.check(() => checkDns1123Subdomain(scope, 'storageClassName', storageClassName));
  const reconnectTimeoutMs = v.check(() => checkDuration(scope, 'reconnectTimeout', props.reconnectTimeout ?? Duration.hours(72), 8 * HOUR_MS), 0);
  const lastContactThresholdMs = v.check(() => checkDuration(scope, 'autopilot.lastContactThreshold', props.autopilot?.lastContactThreshold ?? Duration.millis(200), 1), 0);
  const serverStabilizationTimeMs = v.check(() => checkDuration(scope, 'autopilot.serverStabilizationTime', props.autopilot?.serverStabilizationTime ?? Duration.seconds(10)), 0);
  const dnsClusterIp = props.dnsClusterIp;
  if (dnsClusterIp !== undefined) v.check(() => checkIpv4Address(scope, 'dnsClusterIp', dnsClusterIp));
  const runAsUser = props.runAsUser ?? 100;
  v.check(() => checkInteger(scope, 'runAsUser', runAsUser, 1, 2_147_483_647));
  const runAsGroup = props.runAsGroup ?? 1000;
  v.check(() => checkInteger(scope, 'runAsGroup', runAsGroup, 1, 2_147_483_647));
  const resources = {
    server: v.check(() => resolveResources(scope, 'serverResources', props.serverResources, SERVER_RESOURCES), {}),
    agent: v.check(() => resolveResources(scope, 'agentResources', props.agentResources, SMALL_SERVICE_RESOURCES), {}),
  };
  const serverPlacement = v.check(() => resolvePlacement(scope, 'serverPlacement', props.serverPlacement), {});
  const serverUpgrade = v.check(() => resolveStatefulUpgrade(scope, 'serverUpgrade', props.serverUpgrade ?? {}, replicas), {});
  const userLabels = props.labels ?? {};
  v.check(() => checkLabels(scope, 'labels', userLabels));
  const labelsOf = (role: Role) => recommendedLabels({ name: 'consul', instance: name, component: role, partOf: props.partOf });
  // The recommended labels hold the name (valid once it is) and part-of.
  if (nameOk) v.check(() => checkLabels(scope, 'labels', labelsOf('server')));
  // Claimed last, so that a rejected cluster holds no names.
  if (v.ok) v.check(() => claimServiceNames(scope, namespace, SERVICE_SUFFIXES.map((suffix) => `${name}-${suffix}`)));
  v.finish();

  const byRole = <T>(f: (role: Role) => T) => Object.fromEntries(ROLES.map((role) => [role, f(role)])) as Record<Role, T>;
  return {
    name, namespace, datacenter, domain, clusterDomain, replicas, image, gossipSecret,
    acl: (acl.enabled ?? true) ? { enableTokenPersistence: acl.enableTokenPersistence ?? true } : undefined,
    aclTokensSecret, tls,
    ui: props.ui ?? true,
    connect: props.connect ?? true,
    reconnectTimeoutMs,
    autopilot: { cleanupDeadServers: props.autopilot?.cleanupDeadServers ?? true, lastContactThresholdMs, serverStabilizationTimeMs },
    storageSize, storageClassName,
    spreadAcrossZones: props.spreadAcrossZones ?? false,
    serverPlacement, serverUpgrade,
    agentHostPorts: props.agentHostPorts ?? false,
    agentTolerations: props.agentTolerations ?? [{ operator: 'Exists' }],
    runAsUser, runAsGroup, resources, uiAccess, metricsScrapers, consulK8s, dnsClusterIp,
    labels: byRole((role) => ({ ...userLabels, ...labelsOf(role) })),
    podSelectors: byRole((role) => selectorLabels({ name: 'consul', instance: name, component: role })),
    clientLabels: { [CONSUL_CLIENT_LABEL]: name },
    dnsConfig: podDnsConfig(scope, 'ndots'),
    clusterDns: { peers: clusterDnsPeers(scope), egress: clusterDnsEgress(scope) },
  };
}

/** What synthesis warns about: settings that are valid but unsafe in production. */
export function consulClusterWarnings(spec: ResolvedConsulCluster): string[] {
  return [
    ...(spec.replicas === 1 ? ['developmentSingleServer: one Consul server has no fault tolerance and no PodDisruptionBudget; use 3 or 5 servers in production'] : []),
    ...(spec.gossipSecret ? [] : ['gossip encryption is disabled: any pod that reaches port 8301 can read and join the gossip pool']),
    ...(!spec.acl ? ['ACLs are disabled: every client of the HTTP API and DNS has full access']
      : spec.aclTokensSecret ? []
        : ['ACLs deny by default but acl.tokensSecret is not set: agents cannot register their node (and so no service) until they get an agent token, and a token set with `consul acl set-agent-token` is lost when an agent pod restarts (its data dir is an emptyDir)']),
    ...(spec.agentHostPorts ? ['agentHostPorts: the agents use hostPorts, which Pod Security "baseline" forbids; their namespace must allow "privileged"'] : []),
    ...(spec.dnsClusterIp ? [] : [
      `dnsClusterIp is not pinned: coreDnsServerBlock forwards to a placeholder; set dnsClusterIp or replace the placeholder with the ClusterIP of Service ${spec.namespace}/${objectName(spec, 'dns')}`,
    ]),
  ];
}

function checkClusterName(scope: IConstruct, name: string): string {
  checkDns1035Label(scope, 'name', name);
  if (name.length > MAX_NAME_LENGTH) {
    invalid(scope, 'name', name, `must be at most ${MAX_NAME_LENGTH} characters: the StatefulSet '<name>-server' plus its controller-revision-hash suffix must fit a 63-character label`);
  }
  return name;
}

/** `replicas` and `bootstrapExpect`, which must agree. @returns replicas */
function checkServerCount(scope: IConstruct, props: ConsulClusterProps): number {
  const development = props.developmentSingleServer ?? false;
  const replicas = props.replicas ?? (development ? 1 : 3);
  if (development && replicas !== 1) {
    invalid(scope, 'replicas', replicas, 'must be 1 with developmentSingleServer: true (drop the flag for a 3, 5 or 7 server cluster)');
  }
  if (!development && ![3, 5, 7].includes(replicas)) {
    invalid(scope, 'replicas', replicas,
      'must be 3, 5 or 7: an even count tolerates no more failures than the odd count below it, more than 7 slows every Raft write, and a single server needs developmentSingleServer: true');
  }
  const bootstrapExpect = checkInteger(scope, 'bootstrapExpect', props.bootstrapExpect ?? replicas, 1);
  if (bootstrapExpect < replicas) {
    invalid(scope, 'bootstrapExpect', bootstrapExpect, `must not be below replicas (${replicas}): disjoint groups of fewer servers could each bootstrap a cluster (split brain)`);
  }
  if (bootstrapExpect > replicas) {
    invalid(scope, 'bootstrapExpect', bootstrapExpect, `must not exceed replicas (${replicas}): the servers would wait forever for peers that never start`);
  }
  return replicas;
}

function checkGossipEncryption(scope: IConstruct, gossip: GossipEncryption): SecretKeyReference | undefined {
  if (!(gossip instanceof GossipEncryption)) {
    invalid(scope, 'gossipEncryption', gossip,
      'must be chosen explicitly: GossipEncryption.fromSecret({ secretName, key }) or GossipEncryption.disabled()');
  }
  return gossip.secret && checkSecretKeyReference(scope, 'gossipEncryption', gossip.secret);
}

function checkStorageSize(scope: IConstruct, size: string): string {
  checkQuantity(scope, 'storageSize', size);
  if (!(quantityValue(size) > 0)) invalid(scope, 'storageSize', size, 'must be a positive quantity such as 10Gi');
  return size;
}

const CERTIFICATES = ['ca', 'serverCertificate'] as const;

function resolveTls(v: ValidationPass, scope: IConstruct, tls: ConsulTlsOptions): ResolvedConsulClusterTls {
  for (const field of CERTIFICATES.filter((f) => !tls[f])) {
    v.report(scope, `tls.${field}`, tls[field],
      'TLS needs certificates: set tls.ca ({ secretName, key }) and tls.serverCertificate ({ secretName } of a kubernetes.io/tls Secret)');
  }
  if (tls.ca) v.check(() => checkSecretKeyReference(scope, 'tls.ca', tls.ca));
  if (tls.serverCertificate) v.check(() => checkTlsSecretReference(scope, 'tls.serverCertificate', tls.serverCertificate));
  if (tls.agentCertificate) v.check(() => checkTlsSecretReference(scope, 'tls.agentCertificate', tls.agentCertificate!));
  return {
    ca: tls.ca,
    serverCertificate: tls.serverCertificate,
    agentCertificate: tls.agentCertificate,
    autoEncrypt: tls.agentCertificate === undefined,
    verifyIncoming: tls.verifyIncoming ?? true,
    verifyOutgoing: tls.verifyOutgoing ?? true,
    verifyServerHostname: tls.verifyServerHostname ?? true,
    httpsOnly: tls.httpsOnly ?? true,
  };
}
