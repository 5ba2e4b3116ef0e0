import { k8s } from 'cdk8s-plus-27';
import { ResolvedConsulCluster, Role, agentPorts, clientPorts, configFile, objectName, serverPorts } from './cluster-spec';
import { CONSUL_ENTRYPOINT_SCRIPT, CONSUL_PATHS, CONSUL_PORTS, configChecksum, leaderProbeCommand } from './config';
import { dirOf, secretVolumes } from './tls';
import { secretKeyEnv } from '../core/secret';
import { restrictedContainerSecurityContext } from '../core/security-context';

export const READINESS_PERIOD_SECONDS = 3;

/** What differs between the servers' and the agents' pods besides their role. */
export type PodExtras = Pick<k8s.PodSpec, 'affinity' | 'topologySpreadConstraints' | 'volumes' | 'tolerations' | 'nodeSelector' | 'priorityClassName'>;

/** The pod template of a role: one Consul container, its config, entrypoint and Secrets. */
export function podTemplate(spec: ResolvedConsulCluster, role: Role, extra: PodExtras): k8s.PodTemplateSpec {
  const { runAsUser, runAsGroup } = spec;
  const secrets = secretVolumes(spec, role);
  return {
    metadata: {
      labels: spec.labels[role],
      // A config or entrypoint change changes the pod template, so the pods roll.
      annotations: { 'discovery-kit.io/config-checksum': configChecksum(configFile(spec, role) + CONSUL_ENTRYPOINT_SCRIPT) },
    },
    spec: {
      serviceAccountName: objectName(spec, role),
      // Consul joins through DNS, not the Kubernetes API: no pod needs a token.
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      // retry_join names an FQDN: look it up absolute first.
      dnsConfig: spec.dnsConfig,
      terminationGracePeriodSeconds: 30,
      securityContext: { runAsNonRoot: true, runAsUser, runAsGroup, fsGroup: runAsGroup, seccompProfile: { type: 'RuntimeDefault' } },
      affinity: extra.affinity,
      topologySpreadConstraints: extra.topologySpreadConstraints,
      tolerations: extra.tolerations,
      nodeSelector: extra.nodeSelector,
      priorityClassName: extra.priorityClassName,
      containers: [container(spec, role, secrets.map((v) => v.mount))],
      volumes: [
        { name: 'config', configMap: { name: objectName(spec, `${role}-config`) } },
        { name: 'entrypoint', configMap: { name: objectName(spec, 'entrypoint') } },
        ...(extra.volumes ?? []),
        ...secrets.map((v) => v.volume),
      ],
    },
  };
}

function container(spec: ResolvedConsulCluster, role: Role, secretMounts: k8s.VolumeMount[]): k8s.Container {
  const { image, gossipSecret, aclTokensSecret, tls } = spec;
  const ports = role === 'server' ? serverPorts(spec) : agentPorts(spec);
  const hostPorts = new Set(role === 'agent' && spec.agentHostPorts ? clientPorts(spec).map((p) => p.name) : []);
  const reloadDirs = secretMounts.map((m) => m.mountPath);
  return {
    name: 'consul',
    image,
    imagePullPolicy: 'IfNotPresent',
    // The entrypoint runs `consul <args>` as PID 1 (instead of the image's dumb-init) and
    // reloads it when a mounted Secret changes; kubelet expands $(VAR) from env.
    command: ['/bin/sh', CONSUL_PATHS.entrypoint],
    args: [
      'agent', `-config-dir=${CONSUL_PATHS.config}`, '-advertise=$(POD_IP)',
      ...(gossipSecret ? ['-encrypt=$(CONSUL_GOSSIP_KEY)'] : []),
      ...(aclTokensSecret ? [`-config-dir=${CONSUL_PATHS.aclDir}`] : []),
    ],
    env: [
      { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
      ...(reloadDirs.length > 0 ? [{ name: 'RELOAD_WATCH_DIRS', value: reloadDirs.join(' ') }] : []),
      // auto_encrypt's certificate request needs the agent token, which a reload cannot add before the agent started.
      ...(role === 'agent' && tls?.autoEncrypt && aclTokensSecret ? [{ name: 'WAIT_FOR_FILE', value: CONSUL_PATHS.aclTokensFile }] : []),
      // The pod already runs as its user: no chown or su-exec in the entrypoint.
      { name: 'CONSUL_DISABLE_PERM_MGMT', value: 'true' },
      ...(gossipSecret ? [secretKeyEnv('CONSUL_GOSSIP_KEY', gossipSecret)] : []),
      // For `kubectl exec ... consul <command>` (ACL bootstrap, snapshots).
      { name: 'CONSUL_HTTP_ADDR', value: tls ? `https://localhost:${CONSUL_PORTS.https}` : `http://127.0.0.1:${CONSUL_PORTS.http}` },
      ...(tls ? [{ name: 'CONSUL_CACERT', value: CONSUL_PATHS.caFile }] : []),
    ],
    ports: ports.map((p) => ({ name: p.name, containerPort: p.port, protocol: p.protocol, ...(hostPorts.has(p.name) ? { hostPort: p.port } : {}) })),
    resources: spec.resources[role],
    // Readiness only: a follower waiting for quorum must not be restarted by a liveness probe.
    readinessProbe: readinessProbe(spec, role),
    securityContext: restrictedContainerSecurityContext(),
    volumeMounts: [
      { name: 'data', mountPath: CONSUL_PATHS.data },
      { name: 'config', mountPath: CONSUL_PATHS.config, readOnly: true },
      { name: 'entrypoint', mountPath: dirOf(CONSUL_PATHS.entrypoint), readOnly: true },
      ...(role === 'server' ? [{ name: 'tmp', mountPath: CONSUL_PATHS.tmp }] : []),
      ...secretMounts,
    ],
  };
}

/**
 * Servers are Ready when a leader exists (the official chart's check). Agents are Ready
 * when their API accepts connections: local registration and health checks work without
 * a leader, and behind a node-local Service an unready agent cuts its whole node off, so
 * a leader election must not empty every node's agent Service.
 */
function readinessProbe(spec: ResolvedConsulCluster, role: Role): k8s.Probe {
  const tls = spec.tls !== undefined;
  const handler = role === 'server'
    ? { exec: { command: leaderProbeCommand(tls) } }
    : { tcpSocket: { port: k8s.IntOrString.fromString(tls ? 'https' : 'http') } };
  return { ...handler, initialDelaySeconds: 5, periodSeconds: READINESS_PERIOD_SECONDS, timeoutSeconds: 2, failureThreshold: 2, successThreshold: 1 };
}
