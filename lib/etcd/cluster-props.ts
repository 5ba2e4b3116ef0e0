import { k8s } from 'cdk8s-plus-27';
import { Duration } from 'cdk8s';
import type { ResourceRequirements } from '../core/resources';
import { PodPlacement, StatefulUpgradeOptions } from '../core/placement';

/**
 * The etcd project's own release image (distroless: no shell, etcd at /usr/local/bin/etcd).
 * Preferred over registry.k8s.io/etcd, which is kubeadm's control-plane build with a
 * migration wrapper and lagging tags. 3.5.21 is past 3.5.12, the first 3.5 release with the
 * /livez and /readyz endpoints the probes use.
 */
export const DEFAULT_ETCD_IMAGE = 'gcr.io/etcd-development/etcd:v3.5.21';

/** Largest supported cluster: every write waits for a majority, so more members only add latency. */
export const MAX_ETCD_REPLICAS = 7;

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
  readonly replicas?: number;
  /** Node selection, tolerations and priority of the members. @default - any node, no tolerations, the default priority */
  readonly placement?: PodPlacement;
  /**
   * Staged upgrades (`updatePartition`) and what happens to the members' data volumes. The
   * roll itself is quorum-safe by default: one member at a time, each Ready before the next.
   * @default - every member rolls; volumes are kept
   */
  readonly upgrade?: StatefulUpgradeOptions;
  /**
   * Who may scrape the members' Prometheus metrics (plain HTTP `/metrics` on the `metrics`
   * port, which also serves the kubelet's probes).
   * @default - nobody
   */
  readonly metricsScrapers?: k8s.NetworkPolicyPeer[];
  /**
   * Annotate the members' pods with `prometheus.io/scrape`, `port` and `path`, for a Prometheus
   * that discovers targets by annotation (`metricsScrapers` must admit it). Changing it rolls the members.
   * @default false
   */
  readonly prometheusAnnotations?: boolean;
  /** Allow `replicas: 1`, which tolerates no failure. Development only; synthesis warns. @default false */
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
  /** Revision history kept by periodic compaction (`--auto-compaction-retention`), whole seconds, at least 1 minute. @default Duration.hours(1) */
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
  /** Resources of each member. @default - requests 250m CPU / 512Mi, limits 2 CPU / 1Gi */
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
