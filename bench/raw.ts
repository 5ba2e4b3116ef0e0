import { ApiObject, App, Chart } from 'cdk8s';
import {
  AGENT, AGENT_PEER, agentCheckPolicyOf, bindingEnvOf, consumerOf, DNS_PEER, labelsOf, podLabelsOf, podPeerOf, PORTS, PROBES,
  REGISTRATION_SCRIPT, registrationEnvOf, registrationScriptMetadataOf, RESOURCES, selectorOf, ServiceSpec, SIDECAR_IMAGE, targetOf, Workload,
} from './workload';

/**
 * The baseline: the same manifests as plain JSON passed to `new ApiObject(...)`, written by
 * hand with the whole discovery graph known up front. No package code except the sidecar's
 * script file (see `REGISTRATION_SCRIPT`).
 */
export function buildRaw(app: App, w: Workload): Chart[] {
  return w.charts.map((c) => {
    const chart = new Chart(app, c.id, { namespace: c.namespace, disableResourceNameHashes: true });
    new ApiObject(chart, 'registration-script', {
      apiVersion: 'v1', kind: 'ConfigMap', metadata: registrationScriptMetadataOf(c.namespace), data: { ...REGISTRATION_SCRIPT.files },
    });
    for (const s of c.services) addService(chart, w, s);
    return chart;
  });
}

const SECURITY_CONTEXT = {
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  runAsNonRoot: true,
  capabilities: { drop: ['ALL'] },
  seccompProfile: { type: 'RuntimeDefault' },
};

function probe({ path, periodSeconds, failureThreshold }: (typeof PROBES)[keyof typeof PROBES]) {
  return { httpGet: { path, port: PORTS[0].name, scheme: 'HTTP' }, periodSeconds, timeoutSeconds: 2, failureThreshold, successThreshold: 1 };
}

function resources({ cpu, memory }: (typeof RESOURCES)[keyof typeof RESOURCES]) {
  return {
    requests: { cpu: `${cpu.request}m`, memory: `${memory.request}Mi` },
    limits: { cpu: `${cpu.limit}m`, memory: `${memory.limit}Mi` },
  };
}

function addService(chart: Chart, w: Workload, s: ServiceSpec): void {
  const metadata = (name = s.name) => ({ name, namespace: s.namespace, labels: labelsOf(s) });
  const selector = selectorOf(s);
  const target = targetOf(w, s);
  const consumer = consumerOf(w, s);
  new ApiObject(chart, `${s.name}-service-account`, {
    apiVersion: 'v1', kind: 'ServiceAccount', metadata: metadata(), automountServiceAccountToken: false,
  });
  new ApiObject(chart, `${s.name}-deployment`, {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: metadata(),
    spec: {
      replicas: 2,
      revisionHistoryLimit: 5,
      selector: { matchLabels: selector },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: 0 } },
      template: {
        metadata: { labels: podLabelsOf(s), annotations: REGISTRATION_SCRIPT.podAnnotations },
        spec: {
          serviceAccountName: s.name,
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          dnsConfig: { options: [{ name: 'ndots', value: '4' }] },
          terminationGracePeriodSeconds: 30,
          securityContext: { runAsNonRoot: true, runAsUser: 10001, runAsGroup: 10001, fsGroup: 10001, seccompProfile: { type: 'RuntimeDefault' } },
          affinity: { podAntiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{
            weight: 100, podAffinityTerm: { topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: selector } },
          }] } },
          containers: [{
            name: s.name,
            image: s.image,
            imagePullPolicy: 'IfNotPresent',
            ports: PORTS.map((p) => ({ name: p.name, containerPort: p.port, protocol: 'TCP' })),
            env: target
              ? [...bindingEnvOf(target), { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } }]
              : undefined,
            resources: resources(RESOURCES.app),
            startupProbe: probe(PROBES.startupProbe),
            livenessProbe: probe(PROBES.livenessProbe),
            readinessProbe: probe(PROBES.readinessProbe),
            lifecycle: { preStop: { exec: { command: ['sleep', '5'] } } },
            securityContext: SECURITY_CONTEXT,
            volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }],
          }, {
            name: 'consul-registration',
            image: SIDECAR_IMAGE,
            imagePullPolicy: 'IfNotPresent',
            command: REGISTRATION_SCRIPT.command,
            env: [
              { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
              { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
              ...registrationEnvOf(s),
            ],
            resources: resources(RESOURCES.sidecar),
            securityContext: SECURITY_CONTEXT,
            volumeMounts: [
              { name: REGISTRATION_SCRIPT.volumeName, mountPath: REGISTRATION_SCRIPT.mountPath, readOnly: true },
              { name: 'consul-registration', mountPath: '/consul-registration' },
            ],
          }],
          volumes: [
            { name: 'tmp', emptyDir: { sizeLimit: '64Mi' } },
            { name: REGISTRATION_SCRIPT.volumeName, configMap: { name: REGISTRATION_SCRIPT.configMapName, defaultMode: 0o444 } },
            { name: 'consul-registration', emptyDir: { sizeLimit: '1Mi' } },
          ],
        },
      },
    },
  });
  const ports = PORTS.map((p) => ({ name: p.name, port: p.port, targetPort: p.name, protocol: 'TCP', appProtocol: p.appProtocol }));
  new ApiObject(chart, `${s.name}-service`, {
    apiVersion: 'v1', kind: 'Service', metadata: metadata(), spec: { type: 'ClusterIP', selector, ports },
  });
  new ApiObject(chart, `${s.name}-headless-service`, {
    apiVersion: 'v1', kind: 'Service', metadata: metadata(`${s.name}-headless`),
    spec: { clusterIP: 'None', selector, ports, publishNotReadyAddresses: false },
  });
  new ApiObject(chart, `${s.name}-pdb`, {
    apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', metadata: metadata(),
    spec: { maxUnavailable: 1, selector: { matchLabels: selector }, unhealthyPodEvictionPolicy: 'AlwaysAllow' },
  });
  new ApiObject(chart, `${s.name}-registry-network-policy`, { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', ...agentCheckPolicyOf(s) });
  const tcp = (port: number) => ({ port, protocol: 'TCP' });
  new ApiObject(chart, `${s.name}-network-policy`, {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: metadata(),
    spec: {
      podSelector: { matchLabels: selector },
      policyTypes: ['Ingress', 'Egress'],
      ingress: [
        { from: [AGENT_PEER], ports: [tcp(PORTS[0].port)] },
        ...(consumer ? [{ from: [podPeerOf(consumer)], ports: [tcp(PORTS[0].port)] }] : []),
      ],
      egress: [
        { to: [DNS_PEER], ports: [{ port: 53, protocol: 'UDP' }, tcp(53)] },
        { to: [AGENT_PEER], ports: [tcp(AGENT.port)] },
        ...(target ? [{ to: [podPeerOf(target)], ports: [tcp(PORTS[0].port)] }] : []),
      ],
    },
  });
}
