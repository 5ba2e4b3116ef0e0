import { Lazy } from 'cdk8s';
import { k8s } from 'cdk8s-plus-27';
import { restrictedContainerSecurityContext } from '../core/security-context';
import { ServiceBindings } from './bindings';
import { TrafficDistribution } from './props';
import { ResolvedService } from './resolve';

// Renderers: a resolved spec in, cdk8s-plus-27 L1 props out. Nothing here checks anything;
// what bindings add after construction is read through Lazy values at synthesis.

function metadata(spec: ResolvedService, name = spec.name, annotations?: Record<string, string>): k8s.ObjectMeta {
  return { name, namespace: spec.namespace, labels: spec.labels, ...(annotations ? { annotations } : {}) };
}

export function serviceAccountProps(spec: ResolvedService): k8s.KubeServiceAccountProps {
  return { metadata: metadata(spec), automountServiceAccountToken: false };
}

function servicePorts(spec: ResolvedService): k8s.ServicePort[] {
  return spec.ports.map((p) => ({
    name: p.name,
    port: p.port,
    targetPort: k8s.IntOrString.fromString(p.name),
    protocol: p.protocol,
    appProtocol: p.appProtocol,
  }));
}

/** A ServiceSpec with a field newer than cdk8s-plus-27's Kubernetes 1.27 types; kubeObject passes it on. */
type ServiceSpec = k8s.ServiceSpec & { readonly trafficDistribution?: TrafficDistribution };

/** Server-side discovery: one virtual IP in front of the ready pods. */
export function serviceProps(spec: ResolvedService): k8s.KubeServiceProps & { readonly spec: ServiceSpec } {
  return {
    metadata: metadata(spec, spec.name, spec.registration?.serviceAnnotations),
    spec: { type: 'ClusterIP', selector: spec.podSelector, ports: servicePorts(spec), trafficDistribution: spec.trafficDistribution },
  };
}

/** Client-side discovery: one A record per pod and SRV records per named port. */
export function headlessServiceProps(spec: ResolvedService): k8s.KubeServiceProps {
  return {
    metadata: metadata(spec, `${spec.name}-headless`),
    spec: { clusterIp: 'None', selector: spec.podSelector, ports: servicePorts(spec), publishNotReadyAddresses: spec.publishNotReadyAddresses },
  };
}

export function podDisruptionBudgetProps(spec: ResolvedService): k8s.KubePodDisruptionBudgetProps {
  return {
    metadata: metadata(spec),
    spec: {
      maxUnavailable: k8s.IntOrString.fromNumber(1),
      selector: { matchLabels: spec.podSelector },
      // Unhealthy pods never count towards availability: evicting them must not block drains.
      unhealthyPodEvictionPolicy: 'AlwaysAllow',
    },
  };
}

export function deploymentProps(spec: ResolvedService, bindings: ServiceBindings, serviceAccountName: string): k8s.KubeDeploymentProps {
  const inMesh = spec.mesh !== undefined;
  return {
    metadata: metadata(spec),
    spec: {
      replicas: spec.replicas,
      revisionHistoryLimit: 5,
      selector: { matchLabels: spec.podSelector },
      // Surge instead of taking a pod away first: capacity never drops during a rollout.
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: k8s.IntOrString.fromString('25%'), maxUnavailable: k8s.IntOrString.fromNumber(0) } },
      template: {
        metadata: {
          labels: Lazy.any({ produce: () => ({ ...bindings.podLabels, ...spec.labels }) }),
          annotations: Lazy.any({ produce: () => (Object.keys(bindings.podAnnotations).length ? bindings.podAnnotations : undefined) }),
        },
        spec: {
          serviceAccountName,
          // consul-k8s logs mesh pods in to Consul with their service account token (Kubernetes
          // auth method) and rejects injection when no container mounts it; no other pod needs it.
          automountServiceAccountToken: inMesh,
          // Service links would inject <SVC>_PORT=tcp://... and collide with discovery variables.
          enableServiceLinks: false,
          // consul-k8s's transparent-proxy DNS redirection sets the mesh pods' DNS itself and
          // fails injection when a pod already has a dnsConfig (webhook/dns.go).
          dnsConfig: inMesh ? undefined : spec.dnsConfig,
          terminationGracePeriodSeconds: spec.shutdown.gracePeriodSeconds,
          securityContext: {
            runAsNonRoot: true, runAsUser: spec.runAsUser, runAsGroup: spec.runAsUser, fsGroup: spec.runAsUser,
            seccompProfile: { type: 'RuntimeDefault' },
          },
          affinity: { podAntiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{
            weight: 100,
            podAffinityTerm: { topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: spec.podSelector } },
          }] } },
          containers: [appContainer(spec, bindings), ...(spec.registration?.sidecars ?? [])],
          volumes: [{ name: 'tmp', emptyDir: { sizeLimit: k8s.Quantity.fromString(spec.tmpSizeLimit) } }, ...(spec.registration?.volumes ?? [])],
        },
      },
    },
  };
}

function appContainer(spec: ResolvedService, bindings: ServiceBindings): k8s.Container {
  return {
    name: spec.name,
    image: spec.image,
    imagePullPolicy: 'IfNotPresent',
    command: spec.command,
    args: spec.args,
    ports: spec.ports.map((p) => ({ name: p.name, containerPort: p.containerPort, protocol: p.protocol })),
    env: Lazy.any({ produce: () => bindings.envVars }) as unknown as k8s.EnvVar[],
    resources: spec.resources,
    startupProbe: spec.health.startupProbe(),
    livenessProbe: spec.health.livenessProbe(),
    readinessProbe: spec.health.readinessProbe(),
    lifecycle: spec.shutdown.preStopSeconds > 0
      ? { preStop: { exec: { command: ['sleep', String(spec.shutdown.preStopSeconds)] } } }
      : undefined,
    securityContext: restrictedContainerSecurityContext(),
    volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }],
  };
}
