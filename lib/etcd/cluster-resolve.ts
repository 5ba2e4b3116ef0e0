import { Chart, Duration } from 'cdk8s';
import { k8s } from 'cdk8s-plus-27';
import { IConstruct } from 'constructs';
import { DEFAULT_ETCD_IMAGE, EtcdClusterProps, MAX_ETCD_REPLICAS } from './cluster-props';
import { ResolvedEtcdTls, TlsKind, resolveEtcdTls } from './tls';
import { podDnsConfig } from '../core/dns-config';
import { checkPeers } from '../core/network-policy';
import { resolvePlacement, resolveStatefulUpgrade } from '../core/placement';
import { HealthSpec, ResolvedHealth } from '../core/health';
import { recommendedLabels, selectorLabels } from '../core/labels';
import { claimServiceNames } from '../core/name-claims';
import { ETCD_CLIENT_LABEL, clusterDnsEgress } from '../core/network-policy';
import { ResolvedResources, quantityValue, resolveResources } from '../core/resources';
import {
  ValidationPass, checkDns1035Label, checkDns1123Label, checkDns1123Subdomain, checkInteger, checkLabels, checkPinnedImage,
  checkQuantity, checkWholeSeconds, invalid,
} from '../core/validation';

const MIN_ETCD_VERSION = [3, 5, 12];
const MIB = 2 ** 20;
const GIB = 2 ** 30;
/** etcd warns above 8 GiB (its MaxQuotaBytes); below 64 MiB a unit was most likely forgotten. */
const QUOTA_RANGE = { min: 64 * MIB, max: 8 * GIB };

/** Defaults sized for a service registry: a small keyspace, latency-sensitive heartbeats. */
const ETCD_RESOURCES: ResolvedResources = {
  requests: { cpu: '250m', memory: '512Mi' },
  // A generous CPU limit: throttling delays raft heartbeats and triggers needless elections.
  limits: { cpu: '2', memory: '1Gi' },
};

/**
 * An {@link EtcdCluster} after its one validation pass: every default applied, every value
 * valid. The renderers build the Kubernetes objects from this alone.
 */
export interface ResolvedEtcdCluster {
  readonly name: string;
  readonly namespace: string;
  readonly clusterDomain: string;
  readonly replicas: number;
  readonly placement: Pick<k8s.PodSpec, 'nodeSelector' | 'tolerations' | 'priorityClassName'>;
  readonly upgrade: Pick<k8s.StatefulSetSpec, 'updateStrategy' | 'persistentVolumeClaimRetentionPolicy'>;
  readonly metricsScrapers?: k8s.NetworkPolicyPeer[];
  readonly prometheusAnnotations: boolean;
  readonly image: string;
  readonly quotaBytes: number;
  readonly storageSize: string;
  readonly storageClassName?: string;
  readonly retentionSeconds: number;
  readonly health: ResolvedHealth;
  /** The enabled TLS halves and their Secrets. */
  readonly tls: Readonly<Partial<Record<TlsKind, ResolvedEtcdTls>>>;
  readonly resources: k8s.ResourceRequirements;
  readonly runAsUser: number;
  /** Every label of every object (user labels, then the recommended ones). */
  readonly labels: Record<string, string>;
  readonly podSelector: Record<string, string>;
  /** Labels a pod carries to be admitted as a client. */
  readonly clientLabels: Record<string, string>;
  readonly dnsConfig: k8s.PodDnsConfig;
  /** Egress to cluster DNS (the construct tree's `setClusterDns`). */
  readonly clusterDnsEgress: k8s.NetworkPolicyEgressRule;
}

/**
 * The one validation pass over an {@link EtcdCluster}'s props: every bad value is reported
 * at once, each naming the construct, the field, the value and what is allowed. It creates
 * nothing; the construct renders its objects from the result.
 */
export function resolveEtcdCluster(scope: IConstruct, props: EtcdClusterProps): ResolvedEtcdCluster {
  const v = new ValidationPass();
  const name = props.name ?? 'etcd';
  const nameOk = v.check(() => checkClusterName(scope, name)) !== undefined;
  const namespace = props.namespace ?? Chart.of(scope).namespace ?? 'default';
  v.check(() => checkDns1123Label(scope, 'namespace', namespace));
  const clusterDomain = props.clusterDomain ?? 'cluster.local';
  v.check(() => checkDns1123Subdomain(scope, 'clusterDomain', clusterDomain));
  const replicas = props.replicas ?? 3;
  v.check(() => checkReplicas(scope, replicas, props.allowSingleMember ?? false));
  const image = props.image ?? DEFAULT_ETCD_IMAGE;
  const version = v.check(() => checkEtcdImage(scope, image));
  const backendQuota = props.backendQuota ?? '2Gi';
  const quotaBytes = v.check(() => checkBackendQuota(scope, backendQuota));
  const storageSize = props.storageSize ?? '8Gi';
  // The minimum size follows the quota: checked against a valid one only.
  v.check(() => checkStorageSize(scope, storageSize, quotaBytes));
  const storageClassName = props.storageClassName;
  if (storageClassName !== undefined) v.check(() => checkDns1123Subdomain(scope, 'storageClassName', storageClassName));
  const retentionSeconds = v.check(() => checkWholeSeconds(scope, 'autoCompactionRetention', props.autoCompactionRetention ?? Duration.hours(1), 60), 0);
  const maxStartupTime = props.maxStartupTime ?? Duration.minutes(5);
  const startupOk = v.check(() => checkWholeSeconds(scope, 'maxStartupTime', maxStartupTime, 30, 3600)) !== undefined;
  const health = startupOk ? v.check(() => etcdHealth(maxStartupTime).resolve(scope, 'probes')) : undefined;
  const tls = {
    client: v.check(() => resolveEtcdTls(scope, 'clientTls', props.clientTls)),
    peer: v.check(() => resolveEtcdTls(scope, 'peerTls', props.peerTls)),
  };
  const resources = v.check(() => resolveResources(scope, 'resources', props.resources, ETCD_RESOURCES), {});
  const runAsUser = props.runAsUser ?? 10001;
  v.check(() => checkInteger(scope, 'runAsUser', runAsUser, 1, 2_147_483_647));
  const placement = v.check(() => resolvePlacement(scope, 'placement', props.placement), {});
  const upgrade = v.check(() => resolveStatefulUpgrade(scope, 'upgrade', props.upgrade ?? {}, replicas), {});
  const metricsScrapers = props.metricsScrapers && v.check(() => checkPeers(scope, 'metricsScrapers', props.metricsScrapers!));
  const userLabels = props.labels ?? {};
  v.check(() => checkLabels(scope, 'labels', userLabels));
  const recommended = recommendedLabels({ name: 'etcd', instance: name, component: 'etcd', partOf: props.partOf, version });
  // The recommended labels hold the name (valid once it is), part-of and the image tag.
  if (nameOk) v.check(() => checkLabels(scope, 'labels', recommended));
  // Claimed last, so that a rejected cluster holds no names.
  if (v.ok) v.check(() => claimServiceNames(scope, namespace, [name, `${name}-client`]));
  v.finish();

  // finish() threw unless every check passed, so the checked values are all defined.
  return {
    name, namespace, clusterDomain, replicas, placement, upgrade, metricsScrapers, prometheusAnnotations: props.prometheusAnnotations ?? false, image, storageSize, storageClassName, retentionSeconds, resources, runAsUser,
    quotaBytes: quotaBytes!,
    health: health!,
    tls: Object.fromEntries(Object.entries(tls).filter(([, t]) => t !== undefined)),
    labels: { ...userLabels, ...recommended },
    podSelector: selectorLabels({ name: 'etcd', instance: name, component: 'etcd' }),
    clientLabels: { [ETCD_CLIENT_LABEL]: name },
    dnsConfig: podDnsConfig(scope, 'ndots'),
    clusterDnsEgress: clusterDnsEgress(scope),
  };
}

/** What synthesis warns about: settings that are valid but unsafe in production. */
export function etcdClusterWarnings(spec: ResolvedEtcdCluster): string[] {
  return [
    ...(spec.replicas === 1 ? ['a single etcd member tolerates no failure; use it for development only'] : []),
    ...(spec.tls.client ? [] : [
      `client TLS is off: any pod labelled ${ETCD_CLIENT_LABEL}=${spec.name} can read and overwrite every key (registrations included); set clientTls`,
    ]),
  ];
}

/** Probes on the plain-HTTP metrics port. */
function etcdHealth(maxStartupTime: Duration): HealthSpec {
  return HealthSpec.http({
    port: 'metrics',
    // Liveness tolerates 50s: a defragmentation or a slow disk must not restart a voting member.
    liveness: { path: '/livez', period: Duration.seconds(10), timeout: Duration.seconds(5), failureThreshold: 5 },
    readiness: { path: '/readyz', period: Duration.seconds(5), timeout: Duration.seconds(3), failureThreshold: 3 },
    startup: { path: '/livez', period: Duration.seconds(10), maxStartupTime },
  });
}

function checkClusterName(scope: IConstruct, name: string): string {
  checkDns1035Label(scope, 'name', name);
  // Pods carry `controller-revision-hash: <name>-<10 characters>`, a label value of at most 63.
  if (name.length > 52) {
    invalid(scope, 'name', name, "must be at most 52 characters: the StatefulSet's controller-revision-hash label appends '-' and a 10-character hash");
  }
  return name;
}

function checkReplicas(scope: IConstruct, replicas: number, allowSingleMember: boolean): number {
  checkInteger(scope, 'replicas', replicas, 1, MAX_ETCD_REPLICAS);
  if (replicas % 2 === 0) {
    invalid(scope, 'replicas', replicas,
      `must be odd: ${replicas} members tolerate ${replicas / 2 - 1} failure(s), no more than ${replicas - 1}, and every write waits for one more`);
  }
  if (replicas === 1 && !allowSingleMember) {
    invalid(scope, 'replicas', replicas, 'a single member tolerates no failure: use 3 or 5, or set allowSingleMember: true for development');
  }
  return replicas;
}

/**
 * A pinned image; when its tag names an etcd version, one with /livez and /readyz.
 * @returns the tag when it is a version (a valid label value), else undefined
 */
function checkEtcdImage(scope: IConstruct, image: string): string | undefined {
  const tag = checkPinnedImage(scope, 'image', image);
  const version = /^v?(\d+)\.(\d+)\.(\d+)(?:-\d+)?$/.exec(tag)?.slice(1).map(Number);
  if (!version) return undefined;
  if (compareVersions(version, MIN_ETCD_VERSION) < 0) {
    invalid(scope, 'image', image, `must run etcd ${MIN_ETCD_VERSION.join('.')} or later: the probes use /livez and /readyz on the metrics port, which older releases lack`);
  }
  return tag;
}

function compareVersions(a: readonly number[], b: readonly number[]): number {
  const i = a.findIndex((part, j) => part !== b[j]);
  return i === -1 ? 0 : a[i] - b[i];
}

function checkBackendQuota(scope: IConstruct, quota: string): number {
  const bytes = quantityValue(checkQuantity(scope, 'backendQuota', quota));
  if (!Number.isInteger(bytes) || bytes < QUOTA_RANGE.min || bytes > QUOTA_RANGE.max) {
    invalid(scope, 'backendQuota', quota, "must be a whole number of bytes from 64Mi to 8Gi (etcd's suggested maximum)");
  }
  return bytes;
}

/** A quantity; with a valid quota, one that holds it twice plus 1Gi. */
function checkStorageSize(scope: IConstruct, size: string, quotaBytes: number | undefined): string {
  const bytes = quantityValue(checkQuantity(scope, 'storageSize', size));
  const needed = quotaBytes === undefined ? 0 : 2 * quotaBytes + GIB;
  if (bytes < needed) {
    const readable = needed % GIB === 0 ? `${needed / GIB}Gi` : `${Math.ceil(needed / MIB)}Mi`;
    invalid(scope, 'storageSize', size,
      `must be at least ${readable}: twice the backend quota (defragmentation writes a full copy) plus 1Gi for the WAL and snapshots`);
  }
  return size;
}
