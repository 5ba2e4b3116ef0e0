import { Chart, Duration } from 'cdk8s';
import { k8s } from 'cdk8s-plus-27';
import { Construct, IConstruct } from 'constructs';
import { restrictedContainerSecurityContext } from '../core/security-context';
import { HealthSpec, ResolvedHealth } from '../core/health';
import { recommendedLabels, selectorLabels } from '../core/labels';
import { claimServiceNames } from '../core/name-claims';
import { podDnsConfig } from '../core/dns-config';
import { clusterDnsEgress, ETCD_CLIENT_LABEL, PodNetworkPolicy, policyPort } from '../core/network-policy';
import { quantityValue, ResolvedResources, ResourceRequirements, resolveResources } from '../core/resources';
import {
  checkDns1035Label, checkDns1123Label, checkDns1123Subdomain, checkInteger, checkLabels, checkPinnedImage,
  checkQuantity, checkSecretKey, checkUnique, checkWholeSeconds, formatMs, invalid, warn,
} from '../core/validation';

/**
 * The etcd project's own release image (distroless: no shell, etcd at /usr/local/bin/etcd).
 * Preferred over registry.k8s.io/etcd, which is kubeadm's control-plane build with a
 * migration wrapper and lagging tags. 3.5.21 is past 3.5.12, the first 3.5 release with the
 * /livez and /readyz endpoints the probes use.
 */
export const DEFAULT_ETCD_IMAGE = 'gcr.io/etcd-development/etcd:v3.5.21';

/** Largest supported cluster: every write waits for a majority, so more members only add latency. */
export const MAX_ETCD_MEMBERS = 7;

const CLIENT_PORT = 2379;
const PEER_PORT = 2380;
const METRICS_PORT = 8080;
const MIN_ETCD_VERSION = [3, 5, 12];
const MIB = 2 ** 20;
const GIB = 2 ** 30;
/** etcd warns above 8 GiB (its MaxQuotaBytes); below 64 MiB a unit was most likely forgotten. */
const QUOTA_RANGE = { min: 64 * MIB, max: 8 * GIB };
const DATA_MOUNT = '/var/lib/etcd';
const TLS_MOUNT = '/etc/etcd/tls';

/** Defaults sized for a service registry: a small keyspace, latency-sensitive heartbeats. */
const ETCD_RESOURCES: ResolvedResources = {
  requests: { cpu: '250m', memory: '512Mi' },
  // A generous CPU limit: throttling delays raft heartbeats and triggers needless elections.
  limits: { cpu: '2', memory: '1Gi' },
};

/**
 * TLS material in a Secret of the cluster's namespace, mounted as files. The default keys are
 * those of a cert-manager Certificate's Secret.
 */
export interface EtcdTlsOptions {
  /** Name of the Secret. */
  readonly secretName: string;
  /** Key of the CA certificate that client (or peer) certificates must be signed by. @default 'ca.crt' */
  readonly caKey?: string;
  /** Key of the certificate this member presents. @default 'tls.crt' */
  readonly certKey?: string;
  /** Key of the certificate's private key. @default 'tls.key' */
  readonly keyKey?: string;
}

/** Props of {@link EtcdCluster}. */
export interface EtcdClusterProps {
  /** Cluster name: metadata.name of the StatefulSet and headless Service. @default 'etcd' */
  readonly name?: string;
  /** Namespace. @default - the chart's namespace, else 'default' */
  readonly namespace?: string;
  /**
   * Number of members: odd, 1 to 7 (3 tolerates one failure, 5 two). Fixed at creation:
   * the members bootstrap from `--initial-cluster`, so resizing a running cluster needs
   * `etcdctl member add/remove` alongside the change.
   * @default 3
   */
  readonly members?: number;
  /** Allow `members: 1`, which tolerates no failure. Development only; synthesis warns. @default false */
  readonly allowSingleMember?: boolean;
  /**
   * Pinned etcd image, etcd ≥ 3.5.12 (for /livez and /readyz) with the binary at
   * /usr/local/bin/etcd. Tags that name no version (digests, custom tags) are not checked.
   * @default DEFAULT_ETCD_IMAGE
   */
  readonly image?: string;
  /**
   * Size of each member's volume. Must hold the backend quota twice (defragmentation
   * writes a full copy) plus 1Gi for the WAL and snapshots. StatefulSet volume templates
   * are immutable: growing a live cluster means expanding each PVC.
   * @default '8Gi'
   */
  readonly storageSize?: string;
  /** StorageClass of the volumes. @default - the cluster's default StorageClass */
  readonly storageClassName?: string;
  /** Backend database quota (`--quota-backend-bytes`), 64Mi to 8Gi. @default '2Gi' */
  readonly backendQuota?: string;
  /** Revision history kept by periodic compaction (`--auto-compaction-retention`), at least 1 minute. @default Duration.hours(1) */
  readonly autoCompactionRetention?: Duration;
  /** The slowest start (WAL replay, joining peers) tolerated before a restart, 30s to 1h. @default Duration.minutes(5) */
  readonly maxStartupTime?: Duration;
  /**
   * Client TLS: HTTPS client URLs and `--client-cert-auth`, so only clients with a
   * certificate signed by the CA may connect. The server certificate must cover
   * {@link EtcdCluster.serverDnsNames}. (`--auto-tls` is not offered: it encrypts without
   * authenticating anyone.)
   * @default - plain HTTP, no client authentication
   */
  readonly clientTls?: EtcdTlsOptions;
  /** Peer TLS: HTTPS peer URLs and `--peer-client-cert-auth`. @default - plain HTTP between members */
  readonly peerTls?: EtcdTlsOptions;
  /** @default - requests 250m CPU / 512Mi, limits 2 CPU / 1Gi */
  readonly resources?: ResourceRequirements;
  /** UID and GID etcd runs as; non-root, ≥ 10000 by default. @default 10001 */
  readonly runAsUser?: number;
  /** Extra labels on every object (never used in selectors). @default - none */
  readonly labels?: Record<string, string>;
  /** `app.kubernetes.io/part-of`. @default - none */
  readonly partOf?: string;
  /** Kubernetes cluster DNS domain. @default 'cluster.local' */
  readonly clusterDomain?: string;
}

/** Which halves of the cluster use TLS. */
export interface EtcdTlsFlags {
  readonly client: boolean;
  readonly peer: boolean;
}

/** The label a pod carries to be admitted as a client by the cluster's NetworkPolicy. */
export interface EtcdClientLabel {
  readonly key: string;
  readonly value: string;
}

export interface ResolvedEtcdTls {
  readonly secretName: string;
  readonly caKey: string;
  readonly certKey: string;
  readonly keyKey: string;
}

type TlsKind = 'client' | 'peer';
const TLS_KINDS: readonly TlsKind[] = ['client', 'peer'];

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
  public readonly members: number;
  /** Recommended labels every object carries. */
  public readonly labels: Record<string, string>;
  /** Labels the Services, the PodDisruptionBudget and the NetworkPolicy select on. */
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
  /** Pods (in any namespace) carrying this label may reach the client port. */
  public readonly clientLabel: EtcdClientLabel;
  /** The probes' health spec. */
  public readonly health: ResolvedHealth;
  public readonly statefulSet: k8s.KubeStatefulSet;
  public readonly headlessService: k8s.KubeService;
  public readonly clientService: k8s.KubeService;
  public readonly serviceAccount: k8s.KubeServiceAccount;
  /** Absent for a single member, where any budget either blocks drains or protects nothing. */
  public readonly podDisruptionBudget?: k8s.KubePodDisruptionBudget;
  public readonly networkPolicy: PodNetworkPolicy;

  private readonly headlessHost: string;
  private readonly tlsSecrets: Partial<Record<TlsKind, ResolvedEtcdTls>>;

  constructor(scope: Construct, id: string, props: EtcdClusterProps = {}) {
    super(scope, id);
    // Everything is validated before any child is created: nothing half-synthesized.
    this.clusterName = checkClusterName(this, props.name ?? 'etcd');
    this.namespace = checkDns1123Label(this, 'namespace', props.namespace ?? Chart.of(this).namespace ?? 'default');
    this.clusterDomain = checkDns1123Subdomain(this, 'clusterDomain', props.clusterDomain ?? 'cluster.local');
    this.members = checkMembers(this, props.members ?? 3, props.allowSingleMember ?? false);
    const image = props.image ?? DEFAULT_ETCD_IMAGE;
    const version = checkEtcdImage(this, image);
    const quotaBytes = checkBackendQuota(this, props.backendQuota ?? '2Gi');
    const storageSize = checkStorageSize(this, props.storageSize ?? '8Gi', quotaBytes);
    const storageClassName = props.storageClassName === undefined
      ? undefined : checkDns1123Subdomain(this, 'storageClassName', props.storageClassName);
    const retentionSeconds = checkWholeSeconds(this, 'autoCompactionRetention', props.autoCompactionRetention ?? Duration.hours(1), 60);
    const maxStartupTime = props.maxStartupTime ?? Duration.minutes(5);
    checkWholeSeconds(this, 'maxStartupTime', maxStartupTime, 30, 3600);
    this.tlsSecrets = { client: resolveEtcdTls(this, 'clientTls', props.clientTls), peer: resolveEtcdTls(this, 'peerTls', props.peerTls) };
    const resources = resolveResources(this, 'resources', props.resources, ETCD_RESOURCES);
    const runAsUser = checkInteger(this, 'runAsUser', props.runAsUser ?? 10001, 1, 2_147_483_647);
    const userLabels = checkLabels(this, 'labels', props.labels ?? {});
    this.health = HealthSpec.http({
      port: 'metrics',
      // Liveness tolerates 50s: a defragmentation or a slow disk must not restart a voting member.
      liveness: { path: '/livez', period: Duration.seconds(10), timeout: Duration.seconds(5), failureThreshold: 5 },
      readiness: { path: '/readyz', period: Duration.seconds(5), timeout: Duration.seconds(3), failureThreshold: 3 },
      startup: { path: '/livez', period: Duration.seconds(10), maxStartupTime },
    }).resolve(this, 'probes');

    this.podSelector = selectorLabels({ name: 'etcd', instance: this.clusterName, component: 'etcd' });
    this.labels = checkLabels(this, 'labels', {
      ...userLabels,
      ...recommendedLabels({ name: 'etcd', instance: this.clusterName, component: 'etcd', partOf: props.partOf, version }),
    });
    this.tls = { client: this.tlsSecrets.client !== undefined, peer: this.tlsSecrets.peer !== undefined };
    this.clientLabel = { key: ETCD_CLIENT_LABEL, value: this.clusterName };
    this.headlessHost = `${this.clusterName}.${this.namespace}.svc.${this.clusterDomain}`;
    this.clientServiceHost = `${this.clusterName}-client.${this.namespace}.svc.${this.clusterDomain}`;
    this.clientEndpoints = [`${this.scheme('client')}://${this.clientServiceHost}:${CLIENT_PORT}`];
    this.memberEndpoints = this.memberNames().map((m) => this.memberUrl('client', m, CLIENT_PORT));
    if (this.members === 1) {
      warn(this, 'a single etcd member tolerates no failure; use it for development only');
    }
    if (!this.tls.client) {
      warn(this, `client TLS is off: any pod labelled ${ETCD_CLIENT_LABEL}=${this.clusterName} can read and overwrite every key (registrations included); set clientTls`);
    }

    claimServiceNames(this, this.namespace, [this.clusterName, `${this.clusterName}-client`]);
    this.serviceAccount = new k8s.KubeServiceAccount(this, 'service-account', {
      metadata: this.metadata(),
      automountServiceAccountToken: false,
    });
    this.headlessService = new k8s.KubeService(this, 'headless-service', {
      metadata: this.metadata(),
      spec: {
        clusterIp: 'None',
        // Members must resolve each other before any is Ready: readiness needs a quorum.
        publishNotReadyAddresses: true,
        selector: this.podSelector,
        ports: [servicePort('etcd-client', CLIENT_PORT), servicePort('etcd-server', PEER_PORT), servicePort('metrics', METRICS_PORT)],
      },
    });
    this.clientService = new k8s.KubeService(this, 'client-service', {
      metadata: this.metadata(`${this.clusterName}-client`),
      spec: { type: 'ClusterIP', selector: this.podSelector, ports: [servicePort('etcd-client', CLIENT_PORT)] },
    });
    this.statefulSet = new k8s.KubeStatefulSet(this, 'statefulset', {
      metadata: this.metadata(),
      spec: this.statefulSetSpec({ image, resources, runAsUser, storageSize, storageClassName, quotaBytes, retentionSeconds }),
    });
    if (this.members > 1) {
      this.podDisruptionBudget = new k8s.KubePodDisruptionBudget(this, 'pdb', {
        metadata: this.metadata(),
        spec: {
          // One member at a time keeps a majority of 3 or more.
          maxUnavailable: k8s.IntOrString.fromNumber(1),
          selector: { matchLabels: this.podSelector },
          // An unready member may still vote: evict it only while the rest of the budget holds.
          unhealthyPodEvictionPolicy: 'IfHealthyBudget',
        },
      });
    }
    this.networkPolicy = this.createNetworkPolicy();
  }

  /**
   * DNS names a server certificate must cover (as SANs) for the URLs this construct
   * advertises: the client Service and every member (peer and client URLs).
   */
  public get serverDnsNames(): string[] {
    return [this.clientServiceHost, `*.${this.headlessHost}`];
  }

  private metadata(name = this.clusterName): k8s.ObjectMeta {
    return { name, namespace: this.namespace, labels: this.labels };
  }

  private scheme(kind: TlsKind): string {
    return this.tls[kind] ? 'https' : 'http';
  }

  /** The enabled TLS halves with their Secrets, client first. */
  private tlsEntries(): [TlsKind, ResolvedEtcdTls][] {
    return TLS_KINDS.flatMap((kind): [TlsKind, ResolvedEtcdTls][] => {
      const tls = this.tlsSecrets[kind];
      return tls ? [[kind, tls]] : [];
    });
  }

  private memberNames(): string[] {
    return Array.from({ length: this.members }, (_, i) => `${this.clusterName}-${i}`);
  }

  /** A member's URL on its stable DNS name `<pod>.<name>.<ns>.svc.<domain>`. */
  private memberUrl(kind: TlsKind, member: string, port: number): string {
    return `${this.scheme(kind)}://${member}.${this.headlessHost}:${port}`;
  }

  private etcdArgs(quotaBytes: number, retentionSeconds: number): string[] {
    const self = '$(POD_NAME)';
    return [
      `--name=${self}`,
      `--data-dir=${DATA_MOUNT}/data`,
      `--listen-peer-urls=${this.scheme('peer')}://0.0.0.0:${PEER_PORT}`,
      `--listen-client-urls=${this.scheme('client')}://0.0.0.0:${CLIENT_PORT}`,
      // Plain HTTP on purpose: kubelet probes /livez and /readyz here without certificates.
      `--listen-metrics-urls=http://0.0.0.0:${METRICS_PORT}`,
      `--initial-advertise-peer-urls=${this.memberUrl('peer', self, PEER_PORT)}`,
      `--advertise-client-urls=${this.memberUrl('client', self, CLIENT_PORT)}`,
      `--initial-cluster=${this.memberNames().map((m) => `${m}=${this.memberUrl('peer', m, PEER_PORT)}`).join(',')}`,
      '--initial-cluster-state=new',
      // Unique per namespace and name ('.' appears in neither), so clusters never merge.
      `--initial-cluster-token=${this.clusterName}.${this.namespace}`,
      '--auto-compaction-mode=periodic',
      `--auto-compaction-retention=${formatMs(retentionSeconds * 1000)}`,
      `--quota-backend-bytes=${quotaBytes}`,
      ...this.tlsEntries().flatMap(([kind]) => tlsArgs(kind)),
    ];
  }

  private statefulSetSpec(options: StatefulSetOptions): k8s.StatefulSetSpec {
    const { runAsUser } = options;
    const tls = this.tlsEntries();
    return {
      serviceName: this.headlessService.name,
      replicas: this.members,
      // Members start together: a lone ordered first member could never reach quorum to turn Ready.
      podManagementPolicy: 'Parallel',
      // One member at a time, each Ready before the next: quorum holds through rollouts.
      updateStrategy: { type: 'RollingUpdate' },
      revisionHistoryLimit: 5,
      selector: { matchLabels: this.podSelector },
      template: {
        metadata: { labels: this.labels },
        spec: {
          serviceAccountName: this.serviceAccount.name,
          automountServiceAccountToken: false,
          // Service links would inject ETCD_* variables, which etcd reads as flags.
          enableServiceLinks: false,
          // Peer and client URLs are FQDNs: look them up absolute first.
          dnsConfig: podDnsConfig(this, 'ndots'),
          terminationGracePeriodSeconds: 30,
          securityContext: {
            runAsNonRoot: true, runAsUser, runAsGroup: runAsUser, fsGroup: runAsUser,
            fsGroupChangePolicy: 'OnRootMismatch',
            seccompProfile: { type: 'RuntimeDefault' },
          },
          affinity: this.affinity(),
          containers: [this.etcdContainer(options)],
          volumes: tls.length ? tls.map(([kind, secret]) => tlsVolume(kind, secret)) : undefined,
        },
      },
      volumeClaimTemplates: [{
        // Selector labels only: volume templates are immutable, so no version label may change here.
        metadata: { name: 'data', labels: this.podSelector },
        spec: {
          accessModes: ['ReadWriteOnce'],
          storageClassName: options.storageClassName,
          resources: { requests: { storage: k8s.Quantity.fromString(options.storageSize) } },
        },
      }],
    };
  }

  private affinity(): k8s.Affinity {
    const labelSelector = { matchLabels: this.podSelector };
    return {
      podAntiAffinity: {
        // Required: two members on one node would make a node failure a quorum failure.
        requiredDuringSchedulingIgnoredDuringExecution: [{ topologyKey: 'kubernetes.io/hostname', labelSelector }],
        preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 100, podAffinityTerm: { topologyKey: 'topology.kubernetes.io/zone', labelSelector } }],
      },
    };
  }

  private etcdContainer(options: StatefulSetOptions): k8s.Container {
    return {
      name: 'etcd',
      image: options.image,
      imagePullPolicy: 'IfNotPresent',
      // The image is distroless: no shell, so etcd runs directly and Kubernetes expands $(POD_NAME).
      command: ['/usr/local/bin/etcd'],
      args: this.etcdArgs(options.quotaBytes, options.retentionSeconds),
      env: [{ name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }],
      ports: [
        { name: 'etcd-client', containerPort: CLIENT_PORT, protocol: 'TCP' },
        { name: 'etcd-server', containerPort: PEER_PORT, protocol: 'TCP' },
        { name: 'metrics', containerPort: METRICS_PORT, protocol: 'TCP' },
      ],
      resources: options.resources,
      startupProbe: this.health.startupProbe(),
      livenessProbe: this.health.livenessProbe(),
      readinessProbe: this.health.readinessProbe(),
      securityContext: restrictedContainerSecurityContext(),
      volumeMounts: [
        { name: 'data', mountPath: DATA_MOUNT },
        ...this.tlsEntries().map(([kind]) => ({ name: `${kind}-tls`, mountPath: `${TLS_MOUNT}/${kind}`, readOnly: true })),
      ],
    };
  }

  private createNetworkPolicy(): PodNetworkPolicy {
    const members: k8s.NetworkPolicyPeer = { podSelector: { matchLabels: this.podSelector } };
    const clients: k8s.NetworkPolicyPeer = {
      namespaceSelector: {},
      podSelector: { matchLabels: { [this.clientLabel.key]: this.clientLabel.value } },
    };
    // Members reach each other's client port too, for `etcdctl --cluster` run inside a member.
    const memberPorts = [policyPort(CLIENT_PORT), policyPort(PEER_PORT)];
    return new PodNetworkPolicy(this, 'network-policy', {
      name: this.clusterName,
      namespace: this.namespace,
      labels: this.labels,
      podSelector: this.podSelector,
      ingress: [{ from: [members], ports: memberPorts }, { from: [clients], ports: [policyPort(CLIENT_PORT)] }],
      egress: [{ to: [members], ports: memberPorts }, clusterDnsEgress(this)],
    });
  }
}

interface StatefulSetOptions {
  readonly image: string;
  readonly resources: k8s.ResourceRequirements;
  readonly runAsUser: number;
  readonly storageSize: string;
  readonly storageClassName?: string;
  readonly quotaBytes: number;
  readonly retentionSeconds: number;
}

function servicePort(name: string, port: number): k8s.ServicePort {
  return { name, port, targetPort: k8s.IntOrString.fromString(name), protocol: 'TCP' };
}

/** The flags that point etcd at the mounted TLS files and require certificates of the other side. */
function tlsArgs(kind: TlsKind): string[] {
  const prefix = kind === 'peer' ? '--peer-' : '--';
  const dir = `${TLS_MOUNT}/${kind}`;
  return [
    `${prefix}trusted-ca-file=${dir}/ca.crt`,
    `${prefix}cert-file=${dir}/tls.crt`,
    `${prefix}key-file=${dir}/tls.key`,
    `${prefix}client-cert-auth=true`,
  ];
}

function tlsVolume(kind: TlsKind, tls: ResolvedEtcdTls): k8s.Volume {
  return {
    name: `${kind}-tls`,
    secret: {
      secretName: tls.secretName,
      items: [{ key: tls.caKey, path: 'ca.crt' }, { key: tls.certKey, path: 'tls.crt' }, { key: tls.keyKey, path: 'tls.key' }],
      // Readable by the fsGroup etcd runs in, by no one else.
      defaultMode: 0o440,
    },
  };
}

function checkClusterName(scope: IConstruct, name: string): string {
  checkDns1035Label(scope, 'name', name);
  // Pods carry `controller-revision-hash: <name>-<10 characters>`, a label value of at most 63.
  if (name.length > 52) {
    invalid(scope, 'name', name, "must be at most 52 characters: the StatefulSet's controller-revision-hash label appends '-' and a 10-character hash");
  }
  return name;
}

function checkMembers(scope: IConstruct, members: number, allowSingleMember: boolean): number {
  checkInteger(scope, 'members', members, 1, MAX_ETCD_MEMBERS);
  if (members % 2 === 0) {
    invalid(scope, 'members', members,
      `must be odd: ${members} members tolerate ${members / 2 - 1} failure(s), no more than ${members - 1}, and every write waits for one more`);
  }
  if (members === 1 && !allowSingleMember) {
    invalid(scope, 'members', members, 'a single member tolerates no failure: use 3 or 5, or set allowSingleMember: true for development');
  }
  return members;
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

function checkStorageSize(scope: IConstruct, size: string, quotaBytes: number): string {
  const needed = 2 * quotaBytes + GIB;
  if (quantityValue(checkQuantity(scope, 'storageSize', size)) < needed) {
    const readable = needed % GIB === 0 ? `${needed / GIB}Gi` : `${Math.ceil(needed / MIB)}Mi`;
    invalid(scope, 'storageSize', size,
      `must be at least ${readable}: twice the backend quota (defragmentation writes a full copy) plus 1Gi for the WAL and snapshots`);
  }
  return size;
}

/** Validates TLS Secret references (cluster members and clients alike) and fills in the key defaults. */
export function resolveEtcdTls(scope: IConstruct, field: string, options: EtcdTlsOptions | undefined): ResolvedEtcdTls | undefined {
  if (options === undefined) return undefined;
  if (!options?.secretName) {
    invalid(scope, `${field}.secretName`, options?.secretName,
      'must name the Secret with the CA certificate, certificate and key: TLS cannot be on without certificates');
  }
  const tls = {
    secretName: checkDns1123Subdomain(scope, `${field}.secretName`, options.secretName),
    caKey: checkSecretKey(scope, `${field}.caKey`, options.caKey ?? 'ca.crt'),
    certKey: checkSecretKey(scope, `${field}.certKey`, options.certKey ?? 'tls.crt'),
    keyKey: checkSecretKey(scope, `${field}.keyKey`, options.keyKey ?? 'tls.key'),
  };
  const keyFields = ['caKey', 'certKey', 'keyKey'];
  checkUnique(scope, (i) => `${field}.${keyFields[i]}`, [tls.caKey, tls.certKey, tls.keyKey]);
  return tls;
}
