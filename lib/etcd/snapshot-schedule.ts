import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ApiObject } from 'cdk8s';
import { Construct } from 'constructs';
import type { EtcdTlsOptions } from './cluster-props';
import { DEFAULT_ETCD_SIDECAR_IMAGE, EtcdClusterAddress, checkEtcdAddress } from './lease-registration';
import { resolveEtcdTls } from './tls';
import { ETCD_CLIENT_LABEL, PodNetworkPolicy, podsIn, policyPort } from '../core/network-policy';
import { SNAPSHOT_PATHS, SnapshotScheduleProps, renderSnapshotSchedule, resolveSnapshotSchedule } from '../core/snapshot-schedule';
import { ValidationPass, invalid } from '../core/validation';

/** The script the CronJob runs (lib/etcd/snapshot.sh), next to lib/core/snapshot-lib.sh. */
export const ETCD_SNAPSHOT_SCRIPT = readFileSync(join(__dirname, 'snapshot.sh'), 'utf8');

/** Props of {@link EtcdSnapshotSchedule}. */
export interface EtcdSnapshotScheduleProps extends SnapshotScheduleProps {
  /** The cluster: an `EtcdCluster`, or its address as another program publishes it. */
  readonly cluster: EtcdClusterAddress;
  /**
   * Client certificate, key and CA (one Secret of the schedule's namespace) for a cluster
   * with client TLS.
   * @default - none; required when the cluster has client TLS
   */
  readonly clientTls?: EtcdTlsOptions;
  /**
   * Pinned image with a POSIX sh and etcdctl (and etcdutl, which the script prefers for
   * `snapshot status` and the trial restore; etcdctl's own commands serve up to 3.5).
   * @default DEFAULT_ETCD_SIDECAR_IMAGE (etcdctl and etcdutl 3.5)
   */
  readonly image?: string;
}

const TLS_VOLUME = 'etcd-client-tls';

/**
 * Scheduled etcd snapshots: a CronJob that runs `etcdctl snapshot save` against one member
 * (through the first client endpoint, with client certificates when the cluster requires
 * them), verifies the file with `snapshot status` and a trial `snapshot restore`, keeps the
 * newest `retain` snapshots on its own PersistentVolumeClaim (and optionally copies them to a
 * sink volume), and never rotates a good snapshot away for a failed or corrupt one. Its pods
 * carry `ETCD_CLIENT_LABEL: <cluster>`, which the members' NetworkPolicy admits to the client
 * port; their own NetworkPolicy allows only that port and cluster DNS. The README's "Backup
 * and restore" section has the restore procedure.
 */
export class EtcdSnapshotSchedule extends Construct {
  /** Name of the CronJob (and of its PVC, ServiceAccount and NetworkPolicy). */
  public readonly name: string;
  public readonly namespace: string;
  /** The client URL the snapshots are taken from. */
  public readonly endpoint: string;
  public readonly cronJob: ApiObject;
  public readonly persistentVolumeClaim: ApiObject;
  public readonly scriptConfigMap: ApiObject;
  public readonly serviceAccount: ApiObject;
  public readonly networkPolicy: PodNetworkPolicy;

  constructor(scope: Construct, id: string, props: EtcdSnapshotScheduleProps) {
    super(scope, id);
    const v = new ValidationPass();
    const cluster = v.check(() => checkEtcdAddress(this, 'cluster', props?.cluster));
    const tls = v.check(() => {
      const resolved = resolveEtcdTls(this, 'clientTls', props.clientTls);
      if (cluster?.tls?.client && !resolved) {
        invalid(this, 'clientTls', undefined, `must be set: etcd cluster '${cluster.clusterName}' requires client certificates`);
      }
      // The snapshot talks to the first endpoint: certificates over plain HTTP would go unused.
      if (resolved && cluster && cluster.clientEndpoints[0].toLowerCase().startsWith('http:')) {
        invalid(this, 'cluster.clientEndpoints[0]', cluster.clientEndpoints[0], 'must use https:// with clientTls: the client certificate goes over TLS only');
      }
      return resolved;
    });
    const schedule = cluster && resolveSnapshotSchedule(this, v, props, {
      app: 'etcd', clusterName: cluster.clusterName, clusterNamespace: cluster.namespace, defaultImage: DEFAULT_ETCD_SIDECAR_IMAGE,
    });
    v.finish();

    this.name = schedule!.name;
    this.namespace = schedule!.namespace;
    // The client Service hands the connection to one Ready member; a snapshot needs exactly one.
    this.endpoint = cluster!.clientEndpoints[0];
    const tlsDir = `${SNAPSHOT_PATHS.secrets}/${TLS_VOLUME}`;
    ({
      cronJob: this.cronJob, persistentVolumeClaim: this.persistentVolumeClaim, scriptConfigMap: this.scriptConfigMap,
      serviceAccount: this.serviceAccount, networkPolicy: this.networkPolicy,
    } = renderSnapshotSchedule(this, schedule!, {
      scriptName: 'etcd-snapshot.sh',
      script: ETCD_SNAPSHOT_SCRIPT,
      env: [
        { name: 'ETCDCTL_ENDPOINTS', value: this.endpoint },
        ...(tls ? [
          { name: 'ETCDCTL_CACERT', value: `${tlsDir}/ca.crt` },
          { name: 'ETCDCTL_CERT', value: `${tlsDir}/tls.crt` },
          { name: 'ETCDCTL_KEY', value: `${tlsDir}/tls.key` },
        ] : []),
        { name: 'ETCDCTL_DIAL_TIMEOUT', value: '5s' },
        // `snapshot save` waits for an unreachable member until the command timeout: each
        // attempt gets an equal share of the Job's deadline, so the retries still run.
        { name: 'ETCDCTL_COMMAND_TIMEOUT', value: `${Math.floor(schedule!.activeDeadlineSeconds / (schedule!.backoffLimit + 1))}s` },
      ],
      secretVolumes: tls ? [{
        name: TLS_VOLUME,
        secret: {
          secretName: tls.secretName,
          items: [{ key: tls.caKey, path: 'ca.crt' }, { key: tls.certKey, path: 'tls.crt' }, { key: tls.keyKey, path: 'tls.key' }],
          // The pod's fsGroup reads the key; nobody else.
          defaultMode: 0o440,
        },
      }] : [],
      clientLabels: { [ETCD_CLIENT_LABEL]: cluster!.clusterName },
      egress: { to: [podsIn(cluster!.namespace, cluster!.podSelector)], ports: [policyPort(cluster!.clientPort)] },
    }));
  }
}
