import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ApiObject } from 'cdk8s';
import { Construct } from 'constructs';
import type { ConsulAgentEndpoint } from './endpoints';
import { CONSUL_SNAPSHOT_POLICY_RULES, DEFAULT_CONSUL_IMAGE } from './config';
import { ConsulMeshControlPlane, checkMeshControlPlane } from '../mesh/circuit-breaker';
import { PodNetworkPolicy, podsIn, policyPort } from '../core/network-policy';
import { SecretKeyReference, checkSecretKeyReference, secretKeyEnv } from '../core/secret';
import {
  SNAPSHOT_PATHS, SnapshotScheduleProps, renderSnapshotSchedule, resolveSnapshotSchedule,
} from '../core/snapshot-schedule';
import { ValidationPass, checkPresent, invalid } from '../core/validation';

/** The script the CronJob runs (lib/consul/snapshot.sh), next to lib/core/snapshot-lib.sh. */
export const CONSUL_SNAPSHOT_SCRIPT = readFileSync(join(__dirname, 'snapshot.sh'), 'utf8');

/**
 * What a {@link ConsulSnapshotSchedule} reads of its cluster: a `ConsulCluster` and
 * `ConsulCluster.fromAttributes(...)` (a `ConsulClusterReference`) both are one.
 */
export interface ConsulSnapshotCluster {
  /** The agent endpoint: its Service FQDN carries the namespace and cluster domain, its scheme whether the API is HTTPS. */
  readonly agent: Pick<ConsulAgentEndpoint, 'host' | 'scheme'>;
  /** The servers: cluster name, namespace, pod selector and HTTP(S) API port. */
  readonly meshControlPlane: ConsulMeshControlPlane;
}

/** Props of {@link ConsulSnapshotSchedule}. */
export interface ConsulSnapshotScheduleProps extends SnapshotScheduleProps {
  /** The cluster: a `ConsulCluster`, or `ConsulCluster.fromAttributes(...)` for one defined elsewhere. */
  readonly cluster: ConsulSnapshotCluster;
  /**
   * The ACL token the snapshot is taken with (`CONSUL_HTTP_TOKEN`), in a Secret of the
   * schedule's namespace: a token of a policy with {@link CONSUL_SNAPSHOT_POLICY_RULES}.
   * A cluster with ACLs disabled ignores it.
   */
  readonly aclToken: SecretKeyReference;
  /**
   * The CA certificate that signed the servers' certificate (`CONSUL_CACERT`), for a cluster
   * with TLS; a Secret of the schedule's namespace.
   * @default - none; required when the cluster has TLS
   */
  readonly caCertificate?: SecretKeyReference;
  /** Pinned image with a POSIX sh and the consul CLI. @default DEFAULT_CONSUL_IMAGE */
  readonly image?: string;
}

/**
 * Scheduled Consul snapshots: a CronJob that runs `consul snapshot save` against the servers'
 * HTTP(S) API with a least-privilege token, verifies the file with `consul snapshot inspect`,
 * keeps the newest `retain` snapshots on its own PersistentVolumeClaim (and optionally copies
 * them to a sink volume), and never rotates a good snapshot away for a failed or corrupt
 * one. An ingress-only NetworkPolicy next to the servers, `<name>-to-server`, admits its pods to
 * the servers' API port alone; their own NetworkPolicy allows only that port and cluster DNS.
 * The README's "Backup and restore" section has the restore procedure.
 */
export class ConsulSnapshotSchedule extends Construct {
  /** Name of the CronJob (and of its PVC, ServiceAccount and NetworkPolicy). */
  public readonly name: string;
  public readonly namespace: string;
  /** The servers' API URL the snapshots are taken from. */
  public readonly serverUrl: string;
  public readonly cronJob: ApiObject;
  public readonly persistentVolumeClaim: ApiObject;
  public readonly scriptConfigMap: ApiObject;
  public readonly serviceAccount: ApiObject;
  public readonly networkPolicy: PodNetworkPolicy;
  /** Admits the snapshot pods to the servers' API port, in the servers' namespace. */
  public readonly serverNetworkPolicy: PodNetworkPolicy;

  constructor(scope: Construct, id: string, props: ConsulSnapshotScheduleProps) {
    super(scope, id);
    const v = new ValidationPass();
    const plane = v.check(() => checkMeshControlPlane(this, 'cluster.meshControlPlane',
      checkPresent(this, 'cluster', props?.cluster, 'the Consul cluster to back up: a ConsulCluster or ConsulCluster.fromAttributes(...)').meshControlPlane));
    const agent = v.check(() => plane && checkAgent(this, props.cluster.agent, plane.clusterName));
    const tls = agent?.scheme === 'https';
    const aclToken = v.check(() => checkSecretKeyReference(this, 'aclToken', checkPresent(this, 'aclToken', props.aclToken, `a Secret key holding a token with ${JSON.stringify(CONSUL_SNAPSHOT_POLICY_RULES)}`)));
    const caCertificate = v.check(() => {
      if (tls && props.caCertificate === undefined) invalid(this, 'caCertificate', undefined, 'must name the CA certificate Secret key: the cluster serves its API over HTTPS');
      return props.caCertificate && checkSecretKeyReference(this, 'caCertificate', props.caCertificate);
    });
    const schedule = plane && resolveSnapshotSchedule(this, v, props, {
      app: 'consul', clusterName: plane.clusterName, clusterNamespace: plane.namespace, defaultImage: DEFAULT_CONSUL_IMAGE,
    });
    v.finish();

    this.name = schedule!.name;
    this.namespace = schedule!.namespace;
    this.serverUrl = `${agent!.scheme}://${agent!.serverHost}:${plane!.httpPort}`;
    const caFile = `${SNAPSHOT_PATHS.secrets}/consul-ca/ca.crt`;
    const objects = renderSnapshotSchedule(this, schedule!, {
      scriptName: 'consul-snapshot.sh',
      script: CONSUL_SNAPSHOT_SCRIPT,
      env: [
        { name: 'CONSUL_HTTP_ADDR', value: this.serverUrl },
        secretKeyEnv('CONSUL_HTTP_TOKEN', aclToken!),
        ...(caCertificate ? [{ name: 'CONSUL_CACERT', value: caFile }] : []),
      ],
      secretVolumes: caCertificate
        ? [{ name: 'consul-ca', secret: { secretName: caCertificate.secretName, items: [{ key: caCertificate.key, path: 'ca.crt' }], defaultMode: 0o444 } }]
        : [],
      egress: { to: [podsIn(plane!.namespace, plane!.podSelector)], ports: [policyPort(plane!.httpPort)] },
      // The servers' own policy admits mesh pods and consul-k8s to the API, nobody else.
      serverIngress: { namespace: plane!.namespace, podSelector: plane!.podSelector, port: plane!.httpPort },
    });
    ({
      cronJob: this.cronJob, persistentVolumeClaim: this.persistentVolumeClaim, scriptConfigMap: this.scriptConfigMap,
      serviceAccount: this.serviceAccount, networkPolicy: this.networkPolicy,
    } = objects);
    this.serverNetworkPolicy = objects.serverNetworkPolicy!;
  }
}

/**
 * The agent endpoint's scheme, and the servers' headless Service
 * `<name>-server.<namespace>.svc.<cluster domain>` (a name the server certificate carries),
 * derived from the agent Service's FQDN, which the reference builds from the same cluster domain.
 */
function checkAgent(scope: Construct, agent: ConsulSnapshotCluster['agent'], clusterName: string): { scheme: 'http' | 'https'; serverHost: string } {
  checkPresent(scope, 'cluster.agent', agent, "the cluster's agent endpoint, as ConsulCluster and ConsulCluster.fromAttributes give it");
  const agentPrefix = `${clusterName}-agent.`;
  if (typeof agent.host !== 'string' || !agent.host.startsWith(agentPrefix)) {
    invalid(scope, 'cluster.agent.host', agent.host, `must be the agent Service's FQDN '${agentPrefix}<namespace>.svc.<cluster domain>', as ConsulCluster and ConsulCluster.fromAttributes give it`);
  }
  if (agent.scheme !== 'http' && agent.scheme !== 'https') invalid(scope, 'cluster.agent.scheme', agent.scheme, "must be 'http' or 'https'");
  return { scheme: agent.scheme, serverHost: `${clusterName}-server.${agent.host.slice(agentPrefix.length)}` };
}
