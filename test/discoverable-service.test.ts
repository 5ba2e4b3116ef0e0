import { Duration } from 'cdk8s';
import { describe, expect, it } from 'vitest';
import { DiscoverableService } from '../lib';
import { EVERY_SERVICE_PROP } from './support/every-prop';
import { qualityViolations } from './support/quality';
import { envOf, findContainer, findObject, synthChart, testChart } from './support/synth';

const IMAGE = 'ghcr.io/acme/payment-service:1.8.2';

describe('DiscoverableService with defaults', () => {
  const chart = testChart();
  const service = new DiscoverableService(chart, 'payment-service', { image: IMAGE });
  const objects = synthChart(chart);
  const deployment = findObject(objects, 'Deployment', 'payment-service');
  const app = findContainer(deployment, 'payment-service');

  it('creates exactly the discovery objects, with stable human names', () => {
    expect(objects.map((o) => `${o.kind}/${o.metadata.name}`).sort()).toEqual([
      'Deployment/payment-service', 'NetworkPolicy/payment-service', 'PodDisruptionBudget/payment-service', 'Service/payment-service',
      'Service/payment-service-headless', 'ServiceAccount/payment-service',
    ]);
    for (const o of objects) expect(o.metadata.namespace).toBe('production');
  });

  it('selects on the recommended labels, never on the construct path', () => {
    const selector = { 'app.kubernetes.io/name': 'payment-service', 'app.kubernetes.io/instance': 'payment-service' };
    expect(deployment.spec.selector.matchLabels).toEqual(selector);
    expect(findObject(objects, 'Service', 'payment-service').spec.selector).toEqual(selector);
    expect(findObject(objects, 'Service', 'payment-service-headless').spec.selector).toEqual(selector);
    expect(findObject(objects, 'PodDisruptionBudget', 'payment-service').spec.selector.matchLabels).toEqual(selector);
    expect(deployment.spec.template.metadata.labels).toMatchObject({ ...selector, 'app.kubernetes.io/version': '1.8.2', 'app.kubernetes.io/managed-by': 'discovery-kit' });
    expect(JSON.stringify(objects)).not.toContain('cdk8s.io/metadata.addr');
  });

  it('exposes a ClusterIP Service and a headless Service with the named port', () => {
    const clusterIp = findObject(objects, 'Service', 'payment-service');
    const headless = findObject(objects, 'Service', 'payment-service-headless');
    expect(clusterIp.spec.type).toBe('ClusterIP');
    expect(clusterIp.spec.clusterIP).toBeUndefined();
    expect(headless.spec.clusterIP).toBe('None');
    expect(headless.spec.publishNotReadyAddresses).toBe(false);
    for (const svc of [clusterIp, headless]) {
      expect(svc.spec.ports).toEqual([{ name: 'http', port: 8080, targetPort: 'http', protocol: 'TCP', appProtocol: 'http' }]);
    }
    expect(app.ports).toEqual([{ name: 'http', containerPort: 8080, protocol: 'TCP' }]);
  });

  it('probes /health/live and /health/ready on the named port, with a startup window', () => {
    expect(app.livenessProbe.httpGet).toEqual({ path: '/health/live', port: 'http', scheme: 'HTTP' });
    expect(app.readinessProbe.httpGet).toEqual({ path: '/health/ready', port: 'http', scheme: 'HTTP' });
    expect(app.startupProbe.httpGet.path).toBe('/health/live');
    for (const probe of [app.livenessProbe, app.readinessProbe, app.startupProbe]) {
      expect(probe.timeoutSeconds).toBeLessThan(probe.periodSeconds);
    }
    expect(app.startupProbe.periodSeconds * app.startupProbe.failureThreshold).toBeGreaterThanOrEqual(120);
  });

  it('shuts down gracefully: preStop sleep shorter than the grace period', () => {
    expect(app.lifecycle.preStop.exec.command).toEqual(['sleep', '5']);
    expect(deployment.spec.template.spec.terminationGracePeriodSeconds).toBe(30);
  });

  it('is highly available and disruption-safe', () => {
    expect(deployment.spec.replicas).toBe(2);
    expect(deployment.spec.strategy).toEqual({ type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: 0 } });
    const term = deployment.spec.template.spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].podAffinityTerm;
    expect(term.topologyKey).toBe('kubernetes.io/hostname');
    const pdb = findObject(objects, 'PodDisruptionBudget', 'payment-service');
    expect(pdb.spec.maxUnavailable).toBe(1);
    expect(pdb.spec.unhealthyPodEvictionPolicy).toBe('AlwaysAllow');
  });

  it('is Pod Security restricted with a read-only root and a writable /tmp', () => {
    const pod = deployment.spec.template.spec;
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 10001, seccompProfile: { type: 'RuntimeDefault' } });
    expect(app.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
    expect(pod.volumes).toEqual([{ name: 'tmp', emptyDir: { sizeLimit: '64Mi' } }]);
    expect(app.volumeMounts).toEqual([{ name: 'tmp', mountPath: '/tmp' }]);
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(pod.serviceAccountName).toBe('payment-service');
    expect(pod.enableServiceLinks).toBe(false);
  });

  it('sets requests and limits', () => {
    expect(app.resources).toEqual({ requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '500m', memory: '256Mi' } });
  });

  it('isolates its pods: no ingress until a binding asks, egress only to cluster DNS', () => {
    const policy = findObject(objects, 'NetworkPolicy', 'payment-service');
    expect(policy.spec.podSelector.matchLabels).toEqual(deployment.spec.selector.matchLabels);
    expect(policy.spec.policyTypes).toEqual(['Ingress', 'Egress']);
    expect(policy.spec.ingress).toEqual([]);
    expect(policy.spec.egress).toEqual([{
      to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } }, podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } } }],
      ports: [{ port: 53, protocol: 'UDP' }, { port: 53, protocol: 'TCP' }],
    }]);
  });

  it('passes the manifest-quality suite', () => {
    expect(qualityViolations(objects)).toEqual([]);
  });

  it('exposes typed discovery endpoints', () => {
    expect(service.endpoint()).toEqual({
      portName: 'http',
      port: 8080,
      host: 'payment-service.production.svc.cluster.local',
      url: 'http://payment-service.production.svc.cluster.local:8080',
      headlessHost: 'payment-service-headless.production.svc.cluster.local',
      srv: '_http._tcp.payment-service-headless.production.svc.cluster.local',
    });
  });
});

describe('DiscoverableService with every prop set', () => {
  const chart = testChart('default');
  const service = new DiscoverableService(chart, 'construct-id', { ...EVERY_SERVICE_PROP, namespace: 'finance', clusterDomain: 'corp.example' });
  const objects = synthChart(chart);
  const deployment = findObject(objects, 'Deployment', 'billing', 'finance');
  const app = findContainer(deployment, 'billing');

  it('matches the reviewed manifests', () => {
    expect(objects).toMatchSnapshot();
  });

  it('uses the given name and namespace everywhere', () => {
    expect(objects.map((o) => `${o.kind}/${o.metadata.namespace}/${o.metadata.name}`).sort()).toEqual([
      'Deployment/finance/billing', 'NetworkPolicy/finance/billing', 'PodDisruptionBudget/finance/billing', 'Service/finance/billing',
      'Service/finance/billing-headless', 'ServiceAccount/finance/billing',
    ]);
    expect(deployment.metadata.labels).toMatchObject({ team: 'payments', 'app.kubernetes.io/part-of': 'finance-suite', 'app.kubernetes.io/version': '3.1.0' });
  });

  it('maps each named port to its container port, per protocol', () => {
    const svc = findObject(objects, 'Service', 'billing');
    expect(svc.spec.ports.map((p: any) => [p.name, p.port, p.targetPort, p.protocol])).toEqual([
      ['https', 443, 'https', 'TCP'], ['grpc', 9000, 'grpc', 'TCP'], ['stats', 8125, 'stats', 'UDP'],
    ]);
    expect(app.ports.map((p: any) => [p.name, p.containerPort])).toEqual([['https', 8443], ['grpc', 9000], ['stats', 8125]]);
    expect(findObject(objects, 'Service', 'billing-headless').spec.publishNotReadyAddresses).toBe(true);
  });

  it('derives the probes from the health spec', () => {
    expect(app.livenessProbe).toEqual({ httpGet: { path: '/livez', port: 'https', scheme: 'HTTPS' }, periodSeconds: 20, timeoutSeconds: 5, failureThreshold: 4, successThreshold: 1 });
    expect(app.readinessProbe).toEqual({ httpGet: { path: '/readyz', port: 'https', scheme: 'HTTPS' }, periodSeconds: 10, timeoutSeconds: 3, failureThreshold: 2, successThreshold: 1 });
    expect(app.startupProbe).toMatchObject({ httpGet: { path: '/startz' }, periodSeconds: 10, failureThreshold: 60 });
  });

  it('reads secrets by reference, never as literals', () => {
    expect(envOf(app, 'DB_PASSWORD')).toEqual({ name: 'DB_PASSWORD', valueFrom: { secretKeyRef: { name: 'billing-db', key: 'password' } } });
    expect(envOf(app, 'LOG_LEVEL')).toEqual({ name: 'LOG_LEVEL', value: 'debug' });
  });

  it('applies shutdown, resources, identity and command', () => {
    expect(app.lifecycle.preStop.exec.command).toEqual(['sleep', '15']);
    expect(deployment.spec.template.spec.terminationGracePeriodSeconds).toBe(60);
    expect(app.resources).toEqual({ requests: { cpu: '250m', memory: '512Mi' }, limits: { cpu: '1', memory: '1Gi' } });
    expect(deployment.spec.template.spec.securityContext).toMatchObject({ runAsUser: 20000, runAsGroup: 20000, fsGroup: 20000 });
    expect(app.command).toEqual(['/app/billing']);
    expect(app.args).toEqual(['--serve']);
    expect(deployment.spec.template.spec.volumes[0].emptyDir.sizeLimit).toBe('256Mi');
  });

  it('builds endpoints from the cluster domain and app protocol', () => {
    expect(service.endpoint('grpc').url).toBe('grpc://billing.finance.svc.corp.example:9000');
    expect(service.endpoint('stats').srv).toBe('_stats._udp.billing-headless.finance.svc.corp.example');
    expect(service.endpoints.map((e) => e.portName)).toEqual(['https', 'grpc', 'stats']);
  });

  it('passes the manifest-quality suite', () => {
    expect(qualityViolations(objects)).toEqual([]);
  });
});

describe('DiscoverableService sizing', () => {
  it('has no PodDisruptionBudget below two replicas (a budget of one pod would block drains)', () => {
    const chart = testChart();
    new DiscoverableService(chart, 'solo', { image: IMAGE, replicas: 1 });
    expect(synthChart(chart).filter((o) => o.kind === 'PodDisruptionBudget')).toEqual([]);
  });

  it('can leave isolation to the platform', () => {
    const chart = testChart();
    new DiscoverableService(chart, 'open', { image: IMAGE, networkPolicy: false });
    expect(synthChart(chart).filter((o) => o.kind === 'NetworkPolicy')).toEqual([]);
  });

  it('drops the preStop hook when the delay is zero (images without sleep)', () => {
    const chart = testChart();
    new DiscoverableService(chart, 'distroless', { image: IMAGE, shutdown: { preStopDelay: Duration.seconds(0) } });
    expect(findContainer(findObject(synthChart(chart), 'Deployment', 'distroless'), 'distroless').lifecycle).toBeUndefined();
  });

  it('caps a default request at a lowered limit', () => {
    const chart = testChart();
    new DiscoverableService(chart, 'tiny', { image: IMAGE, resources: { limits: { memory: '64Mi' } } });
    const app = findContainer(findObject(synthChart(chart), 'Deployment', 'tiny'), 'tiny');
    expect(app.resources.requests.memory).toBe('64Mi');
  });
});
