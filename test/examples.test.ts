import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App, Testing, Yaml } from 'cdk8s';
import { describe, expect, it } from 'vitest';
import { buildExampleApp, consulClusterOf } from '../examples/discovery-setup';
import { connectivityReports } from '../lib';
import { platformHandoffFiles } from '../examples/handoff';
import { qualityViolations } from './support/quality';
import { envOf, findContainer, findObject, synthApp } from './support/synth';

const app = buildExampleApp(Testing.app());
const objects = synthApp(app);
const SERVICES = ['payment-service', 'order-service', 'user-service'];

describe('the example discovery setup', () => {
  it('matches the committed dist/ byte for byte (reviewers diff dist/, so it must not drift)', () => {
    for (const chart of app.charts) {
      const committed = readFileSync(join(__dirname, '..', 'dist', `${chart.node.id}.k8s.yaml`), 'utf8');
      expect(Yaml.stringify(...chart.toJson()), `dist/${chart.node.id}.k8s.yaml is stale: run npm run synth`).toBe(committed);
    }
  });

  it('matches the committed platform hand-off files (CoreDNS block, consul-k8s values) byte for byte', () => {
    const files = platformHandoffFiles(consulClusterOf(app));
    expect(Object.keys(files).sort()).toEqual(['consul-k8s.values.yaml', 'consul.coredns']);
    for (const [name, content] of Object.entries(files)) {
      expect(readFileSync(join(__dirname, '..', 'dist', name), 'utf8'), `dist/${name} is stale: run npm run synth`).toBe(content);
    }
    expect(files['consul.coredns']).toBe('consul:53 {\n    errors\n    cache 30\n    forward . 10.96.0.53\n}\n');
  });

  it('matches the committed connectivity reports byte for byte, one per chart', () => {
    const reports = connectivityReports(app);
    expect(Object.keys(reports).sort()).toEqual(app.charts.map((c) => `${c.node.id}.connectivity.md`).sort());
    for (const [name, content] of Object.entries(reports)) {
      expect(readFileSync(join(__dirname, '..', 'dist', name), 'utf8'), `dist/${name} is stale: run npm run synth`).toBe(content);
    }
    const production = reports['production.connectivity.md'].split('\n');
    expect(production).toContain('| production/order-service | production/payment-service | 8080/TCP | binding: order-service discovers payment-service (http) |');
    expect(production).toContain('| envoy-gateway-system/gateway.envoyproxy.io/owning-gateway-name=edge | production/payment-service | 8080/TCP | gateway: HTTPRoute production/payment-service-http via gateway/edge |');
    expect(production).toContain('| production/order-service | ipBlock 192.0.2.20/32 | 5432/TCP | external binding: order-service discovers ledger-db (postgres) |');
  });

  it.each(SERVICES)('%s has every discovery object in production', (name) => {
    const deployment = findObject(objects, 'Deployment', name, 'production');
    const app = findContainer(deployment, name);
    expect(findObject(objects, 'Service', name, 'production').spec.type).toBe('ClusterIP');
    const headless = findObject(objects, 'Service', `${name}-headless`, 'production');
    expect(headless.spec.clusterIP).toBe('None');
    expect(headless.spec.ports.every((p: any) => typeof p.name === 'string' && p.targetPort === p.name)).toBe(true);
    expect(app.livenessProbe.httpGet.path).not.toBe(app.readinessProbe.httpGet.path);
    expect(app.startupProbe).toBeDefined();
    expect(app.lifecycle.preStop.exec.command[0]).toBe('sleep');
    expect(findObject(objects, 'PodDisruptionBudget', name, 'production').spec.maxUnavailable).toBe(1);
  });

  it("gives order-service payment-service's discovery settings", () => {
    const order = findContainer(findObject(objects, 'Deployment', 'order-service'), 'order-service');
    expect(envOf(order, 'PAYMENT_SERVICE_URL').value).toBe('http://payment-service.production.svc.cluster.local:8080');
    expect(envOf(order, 'PAYMENT_SERVICE_SRV').value).toBe('_http._tcp.payment-service-headless.production.svc.cluster.local');
    expect(envOf(order, 'POD_NAMESPACE').valueFrom.fieldRef.fieldPath).toBe('metadata.namespace');
  });

  it.each(['production', 'consul', 'etcd', 'mesh'])('runs %s in a namespace that enforces Pod Security restricted', (namespace) => {
    expect(findObject(objects, 'Namespace', namespace).metadata.labels?.['pod-security.kubernetes.io/enforce']).toBe('restricted');
  });

  it('isolates every pod for ingress and egress', () => {
    const workloads = objects.filter((o) => ['Deployment', 'StatefulSet', 'DaemonSet', 'CronJob', 'Job'].includes(o.kind));
    expect(workloads.map((w) => `${w.metadata.namespace}/${w.kind === 'Job' ? w.metadata.name.replace(/-[0-9a-f]{8}$/, '-<hash>') : w.metadata.name}`).sort()).toEqual([
      'consul/consul-agent', 'consul/consul-bootstrap', 'consul/consul-bootstrap-<hash>', 'consul/consul-server', 'consul/consul-snapshot', 'etcd/etcd', 'etcd/etcd-snapshot', 'mesh/checkout-service', 'mesh/inventory-service',
      'production/order-service', 'production/payment-service', 'production/user-service',
    ]);
    for (const workload of workloads) {
      const labels = (workload.kind === 'CronJob' ? workload.spec.jobTemplate.spec : workload.spec).template.metadata.labels;
      const policies = objects.filter((o) => o.kind === 'NetworkPolicy' && o.metadata.namespace === workload.metadata.namespace
        && Object.entries(o.spec.podSelector.matchLabels ?? {}).every(([k, v]) => labels[k] === v));
      // One policy isolates both directions; others only add one direction: the agents'
      // per-service check egress, or a backup Job's admission to the servers' API port.
      const name = `${workload.kind}/${workload.metadata.name}`;
      expect(policies.filter((p) => p.spec.policyTypes.includes('Ingress') && p.spec.policyTypes.includes('Egress')), name).toHaveLength(1);
      expect(policies.filter((p) => p.spec.policyTypes.length !== 1 && !(p.spec.policyTypes.includes('Ingress') && p.spec.policyTypes.includes('Egress'))), name).toEqual([]);
    }
  });

  it('runs a quorum-safe Consul cluster with node-local agents and no hostPort', () => {
    const servers = findObject(objects, 'StatefulSet', 'consul-server', 'consul');
    expect(servers.spec.replicas).toBe(3);
    expect(servers.spec.podManagementPolicy).toBe('Parallel');
    expect(findObject(objects, 'PodDisruptionBudget', 'consul-server', 'consul').spec.maxUnavailable).toBe(1);
    expect(findObject(objects, 'Service', 'consul-server', 'consul').spec.publishNotReadyAddresses).toBe(true);
    expect(findObject(objects, 'Service', 'consul-agent', 'consul').spec.internalTrafficPolicy).toBe('Local');
    const serverPorts = servers.spec.template.spec.containers.flatMap((c: any) => c.ports ?? []);
    const containerPort = (name: string) => serverPorts.find((p: any) => p.name === name)?.containerPort;
    expect(findObject(objects, 'Service', 'consul-dns', 'consul').spec.ports.map((p: any) => `${p.port}->${containerPort(p.targetPort)}/${p.protocol}`).sort())
      .toEqual(['53->8600/TCP', '53->8600/UDP']);
    findObject(objects, 'DaemonSet', 'consul-agent', 'consul');
    expect(JSON.stringify(objects)).not.toMatch(/"hostPort"/);
  });

  it.each(['payment-service', 'order-service'])('registers %s with the node-local Consul agent', (name) => {
    const deployment = findObject(objects, 'Deployment', name, 'production');
    const sidecar = findContainer(deployment, 'consul-registration');
    expect(envOf(sidecar, 'CONSUL_HTTP_ADDR').value).toBe('http://consul-agent.consul.svc.cluster.local:8500');
    expect(envOf(sidecar, 'CONSUL_HTTP_TOKEN_FILE').value).toBe('/consul-registration-token/token');
    expect(deployment.spec.template.spec.volumes).toContainEqual({
      name: 'consul-registration-token', secret: { secretName: `${name}-consul-token`, items: [{ key: 'token', path: 'token' }], defaultMode: 0o440, optional: true },
    });
    expect(deployment.spec.template.metadata.labels['discovery-kit.io/consul-client']).toBe('consul');
  });

  it('registers user-service in the TLS etcd cluster', () => {
    const deployment = findObject(objects, 'Deployment', 'user-service', 'production');
    const sidecar = findContainer(deployment, 'etcd-registration');
    expect(envOf(sidecar, 'ETCDCTL_ENDPOINTS').value).toBe('https://etcd-client.etcd.svc.cluster.local:2379');
    expect(envOf(sidecar, 'ETCDCTL_CERT').value).toBe('/etcd-client-tls/tls.crt');
    expect(sidecar.volumeMounts).toContainEqual({ name: 'etcd-client-tls', mountPath: '/etcd-client-tls', readOnly: true });
    expect(deployment.spec.template.spec.volumes).toContainEqual(expect.objectContaining({ name: 'etcd-client-tls', secret: expect.objectContaining({ secretName: 'user-service-etcd-client' }) }));
    expect(deployment.spec.template.metadata.labels['discovery-kit.io/etcd-client']).toBe('etcd');
  });

  it('breaks circuits on the mesh call from checkout-service to inventory-service', () => {
    const override = findObject(objects, 'ServiceDefaults', 'checkout-service', 'mesh').spec.upstreamConfig.overrides
      .find((o: any) => o.name === 'inventory-service');
    expect(override.passiveHealthCheck).toMatchObject({ maxFailures: 5, maxEjectionPercent: 50, baseEjectionTime: '30s' });
    expect(override.limits).toEqual({ maxConnections: 200, maxPendingRequests: 100, maxConcurrentRequests: 100 });
    for (const name of ['checkout-service', 'inventory-service']) {
      const deployment = findObject(objects, 'Deployment', name, 'mesh');
      expect(deployment.spec.template.metadata.annotations['consul.hashicorp.com/connect-inject']).toBe('true');
      expect(deployment.spec.template.spec.containers.map((c: any) => c.name)).toEqual([name]);
      expect(findObject(objects, 'NetworkPolicy', name, 'mesh').spec.egress).toContainEqual(expect.objectContaining({ ports: [{ port: 8502, protocol: 'TCP' }, { port: 8500, protocol: 'TCP' }] }));
    }
    expect(findObject(objects, 'NetworkPolicy', 'inventory-service', 'mesh').spec.ingress.map((r: any) => r.ports))
      .toEqual([[{ port: 20000, protocol: 'TCP' }]]);
  });

  it('passes the manifest-quality suite', () => {
    expect(qualityViolations(objects)).toEqual([]);
  });

  it('synthesizes the same YAML twice (stable names, no hashes)', () => {
    const again = buildExampleApp(new App({ outdir: '/nonexistent' }));
    expect(again.charts.map((c) => Yaml.stringify(...c.toJson()))).toEqual(app.charts.map((c) => Yaml.stringify(...c.toJson())));
  });
});
