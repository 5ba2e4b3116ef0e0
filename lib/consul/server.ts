import { k8s } from 'cdk8s-plus-27';
import { NamedPort, ResolvedConsulCluster, httpPorts, objectName, serverPorts } from './cluster-spec';
import { serverMinReadySeconds } from './config';
import { READINESS_PERIOD_SECONDS, podTemplate } from './pods';

export function servicePort(p: NamedPort): k8s.ServicePort {
  return { name: p.name, port: p.port, targetPort: k8s.IntOrString.fromString(p.name), protocol: p.protocol };
}

/** The headless `<name>-server` Service that gives each server its DNS name. */
export function serverServiceSpec(spec: ResolvedConsulCluster): k8s.ServiceSpec {
  return {
    clusterIp: 'None',
    // Peers must resolve each other before any is Ready (there is no leader until they do).
    publishNotReadyAddresses: true,
    ports: serverPorts(spec).map(servicePort),
    selector: spec.podSelectors.server,
  };
}

/** The `<name>-ui` Service: the servers' HTTP(S) API and UI. */
export function uiServiceSpec(spec: ResolvedConsulCluster): k8s.ServiceSpec {
  return { type: 'ClusterIP', ports: httpPorts(spec).map(servicePort), selector: spec.podSelectors.server };
}

export function serverStatefulSetSpec(spec: ResolvedConsulCluster): k8s.StatefulSetSpec {
  const { storageSize, storageClassName, spreadAcrossZones } = spec;
  const selector = spec.podSelectors.server;
  return {
    serviceName: objectName(spec, 'server'),
    replicas: spec.replicas,
    // Start all servers at once: they need each other to elect a leader (and so to be Ready).
    podManagementPolicy: 'Parallel',
    ...spec.serverUpgrade,
    // A restarted server is Ready before it votes; the next one waits until it does.
    minReadySeconds: serverMinReadySeconds(spec.autopilot.serverStabilizationTimeMs, READINESS_PERIOD_SECONDS),
    revisionHistoryLimit: 5,
    selector: { matchLabels: selector },
    template: podTemplate(spec, 'server', {
      // The root filesystem is read-only; a server writes a snapshot to a temporary file
      // before it streams it (`consul snapshot save` fails without a writable /tmp).
      volumes: [{ name: 'tmp', emptyDir: { sizeLimit: k8s.Quantity.fromString(storageSize) } }],
      affinity: { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: selector } }] } },
      topologySpreadConstraints: spreadAcrossZones
        ? [{ maxSkew: 1, topologyKey: 'topology.kubernetes.io/zone', whenUnsatisfiable: 'DoNotSchedule', labelSelector: { matchLabels: selector } }]
        : undefined,
      ...spec.serverPlacement,
    }),
    volumeClaimTemplates: [{
      // Selector labels only: volume claim templates are immutable, so a changed label or
      // part-of would force the StatefulSet (every server at once) to be replaced.
      metadata: { name: 'data', labels: selector },
      spec: {
        accessModes: ['ReadWriteOnce'],
        resources: { requests: { storage: k8s.Quantity.fromString(storageSize) } },
        storageClassName,
      },
    }],
  };
}

/** At most one server down at a time; absent for a single server (a budget of one pod would block every drain). */
export function serverDisruptionBudgetSpec(spec: ResolvedConsulCluster): k8s.PodDisruptionBudgetSpec | undefined {
  if (spec.replicas === 1) return undefined;
  return {
    maxUnavailable: k8s.IntOrString.fromNumber(1),
    selector: { matchLabels: spec.podSelectors.server },
    // Readiness means "a leader exists", so without quorum every server is unready:
    // IfHealthyBudget then blocks drains until quorum is back instead of evicting them all.
    unhealthyPodEvictionPolicy: 'IfHealthyBudget',
  };
}
