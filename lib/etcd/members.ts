import { k8s } from 'cdk8s-plus-27';
import type { ResolvedEtcdCluster } from './cluster-resolve';
import { ResolvedEtcdTls, TLS_KINDS, TlsKind, tlsArgs, tlsDir, tlsVolume } from './tls';
import { restrictedContainerSecurityContext } from '../core/security-context';

export const CLIENT_PORT = 2379;
export const PEER_PORT = 2380;
export const METRICS_PORT = 8080;
const DATA_MOUNT = '/var/lib/etcd';

/** `<name>.<ns>.svc.<domain>`: the headless Service, under which each member has its DNS name. */
export function headlessHost(spec: ResolvedEtcdCluster): string {
  return `${spec.name}.${spec.namespace}.svc.${spec.clusterDomain}`;
}

export function scheme(spec: ResolvedEtcdCluster, kind: TlsKind): 'http' | 'https' {
  return spec.tls[kind] ? 'https' : 'http';
}

export function memberNames(spec: ResolvedEtcdCluster): string[] {
  return Array.from({ length: spec.replicas }, (_, i) => `${spec.name}-${i}`);
}

/** A member's URL on its stable DNS name `<pod>.<name>.<ns>.svc.<domain>`. */
export function memberUrl(spec: ResolvedEtcdCluster, kind: TlsKind, member: string, port: number): string {
  return `${scheme(spec, kind)}://${member}.${headlessHost(spec)}:${port}`;
}

/** The enabled TLS halves with their Secrets, client first. */
function tlsEntries(spec: ResolvedEtcdCluster): [TlsKind, ResolvedEtcdTls][] {
  return TLS_KINDS.flatMap((kind): [TlsKind, ResolvedEtcdTls][] => {
    const tls = spec.tls[kind];
    return tls ? [[kind, tls]] : [];
  });
}

export function statefulSetSpec(spec: ResolvedEtcdCluster): k8s.StatefulSetSpec {
  const { runAsUser } = spec;
  const tls = tlsEntries(spec);
  return {
    serviceName: spec.name,
    replicas: spec.replicas,
    // Members start together: a lone ordered first member could never reach quorum to turn Ready.
    podManagementPolicy: 'Parallel',
    ...spec.upgrade,
    revisionHistoryLimit: 5,
    selector: { matchLabels: spec.podSelector },
    template: {
      metadata: {
        labels: spec.labels,
        ...(spec.prometheusAnnotations
          ? { annotations: { 'prometheus.io/scrape': 'true', 'prometheus.io/port': String(METRICS_PORT), 'prometheus.io/path': '/metrics' } }
          : {}),
      },
      spec: {
        serviceAccountName: spec.name,
        automountServiceAccountToken: false,
        // Service links would inject ETCD_* variables, which etcd reads as flags.
        enableServiceLinks: false,
        // Peer and client URLs are FQDNs: look them up absolute first.
        dnsConfig: spec.dnsConfig,
        terminationGracePeriodSeconds: 30,
        securityContext: {
          runAsNonRoot: true, runAsUser, runAsGroup: runAsUser, fsGroup: runAsUser,
          fsGroupChangePolicy: 'OnRootMismatch',
          seccompProfile: { type: 'RuntimeDefault' },
        },
        affinity: affinity(spec),
        ...spec.placement,
        containers: [etcdContainer(spec)],
        volumes: tls.length ? tls.map(([kind, secret]) => tlsVolume(kind, secret)) : undefined,
      },
    },
    volumeClaimTemplates: [{
      // Selector labels only: volume templates are immutable, so no version label may change here.
      metadata: { name: 'data', labels: spec.podSelector },
      spec: {
        accessModes: ['ReadWriteOnce'],
        storageClassName: spec.storageClassName,
        resources: { requests: { storage: k8s.Quantity.fromString(spec.storageSize) } },
      },
    }],
  };
}

/** One member down at a time keeps a majority of 3 or more; none for a single member, where any budget either blocks drains or protects nothing. */
export function disruptionBudgetSpec(spec: ResolvedEtcdCluster): k8s.PodDisruptionBudgetSpec | undefined {
  if (spec.replicas === 1) return undefined;
  return {
    maxUnavailable: k8s.IntOrString.fromNumber(1),
    selector: { matchLabels: spec.podSelector },
    // An unready member may still vote: evict it only while the rest of the budget holds.
    unhealthyPodEvictionPolicy: 'IfHealthyBudget',
  };
}

function etcdArgs(spec: ResolvedEtcdCluster): string[] {
  const self = '$(POD_NAME)';
  return [
    `--name=${self}`,
    `--data-dir=${DATA_MOUNT}/data`,
    `--listen-peer-urls=${scheme(spec, 'peer')}://0.0.0.0:${PEER_PORT}`,
    `--listen-client-urls=${scheme(spec, 'client')}://0.0.0.0:${CLIENT_PORT}`,
    // Plain HTTP on purpose: kubelet probes /livez and /readyz here without certificates.
    `--listen-metrics-urls=http://0.0.0.0:${METRICS_PORT}`,
    `--initial-advertise-peer-urls=${memberUrl(spec, 'peer', self, PEER_PORT)}`,
    `--advertise-client-urls=${memberUrl(spec, 'client', self, CLIENT_PORT)}`,
    `--initial-cluster=${memberNames(spec).map((m) => `${m}=${memberUrl(spec, 'peer', m, PEER_PORT)}`).join(',')}`,
    '--initial-cluster-state=new',
    // Unique per namespace and name ('.' appears in neither), so clusters never merge.
    `--initial-cluster-token=${spec.name}.${spec.namespace}`,
    '--auto-compaction-mode=periodic',
    // Seconds, as released: respelling the same duration would roll every member.
    `--auto-compaction-retention=${spec.retentionSeconds}s`,
    `--quota-backend-bytes=${spec.quotaBytes}`,
    ...tlsEntries(spec).flatMap(([kind]) => tlsArgs(kind)),
  ];
}

function affinity(spec: ResolvedEtcdCluster): k8s.Affinity {
  const labelSelector = { matchLabels: spec.podSelector };
  return {
    podAntiAffinity: {
      // Required: two members on one node would make a node failure a quorum failure.
      requiredDuringSchedulingIgnoredDuringExecution: [{ topologyKey: 'kubernetes.io/hostname', labelSelector }],
      preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 100, podAffinityTerm: { topologyKey: 'topology.kubernetes.io/zone', labelSelector } }],
    },
  };
}

function etcdContainer(spec: ResolvedEtcdCluster): k8s.Container {
  return {
    name: 'etcd',
    image: spec.image,
    imagePullPolicy: 'IfNotPresent',
    // The image is distroless: no shell, so etcd runs directly and Kubernetes expands $(POD_NAME).
    command: ['/usr/local/bin/etcd'],
    args: etcdArgs(spec),
    env: [{ name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }],
    ports: [
      { name: 'etcd-client', containerPort: CLIENT_PORT, protocol: 'TCP' },
      { name: 'etcd-server', containerPort: PEER_PORT, protocol: 'TCP' },
      { name: 'metrics', containerPort: METRICS_PORT, protocol: 'TCP' },
    ],
    resources: spec.resources,
    startupProbe: spec.health.startupProbe(),
    livenessProbe: spec.health.livenessProbe(),
    readinessProbe: spec.health.readinessProbe(),
    securityContext: restrictedContainerSecurityContext(),
    volumeMounts: [
      { name: 'data', mountPath: DATA_MOUNT },
      ...tlsEntries(spec).map(([kind]) => ({ name: `${kind}-tls`, mountPath: tlsDir(kind), readOnly: true })),
    ],
  };
}
