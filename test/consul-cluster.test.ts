import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Testing } from 'cdk8s';
import { describe, expect, it } from 'vitest';
import { consulClusterOf, buildExampleApp } from '../examples/discovery-setup';
import { CONSUL_CLIENT_LABEL, CONSUL_MESH_LABEL, ConsulCluster, ConsulClusterProps, GossipEncryption, KUBE_DNS_PEER } from '../lib';
import { invalidDurations, unknownConfigKeys } from './support/consul-config-keys';
import { qualityViolations } from './support/quality';
import type { KubeObject } from './support/schema';
import { envOf, findContainer, findObject, synthChart, testChart } from './support/synth';
import { EVERY_CONSUL_PROP } from './support/every-prop';

const GOSSIP = GossipEncryption.fromSecret({ secretName: 'consul-gossip-key', key: 'key' });
const OPERATORS = { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'operations' } } };
const PROMETHEUS = { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } }, podSelector: { matchLabels: { 'app.kubernetes.io/name': 'prometheus' } } };
const TLS = {
  ca: { secretName: 'consul-ca', key: 'ca.crt' },
  serverCertificate: { secretName: 'consul-server-tls' },
  agentCertificate: { secretName: 'consul-agent-tls' },
};

interface Built {
  readonly cluster: ConsulCluster;
  readonly objects: KubeObject[];
}

function build(props: Partial<ConsulClusterProps> = {}, id = 'consul'): Built {
  const chart = testChart('consul');
  const cluster = new ConsulCluster(chart, id, { gossipEncryption: GOSSIP, ...props });
  return { cluster, objects: synthChart(chart) };
}

function configOf(objects: KubeObject[], role: 'server' | 'agent', name = 'consul'): any {
  return JSON.parse(findObject(objects, 'ConfigMap', `${name}-${role}-config`).data[`${role}.json`]);
}

function consulContainer(objects: KubeObject[], kind: 'StatefulSet' | 'DaemonSet', name: string): any {
  return findContainer(findObject(objects, kind, name), 'consul');
}

function warningsOf(cluster: ConsulCluster): string[] {
  return cluster.node.metadata.filter((m) => m.type === 'warning').map((m) => String(m.data));
}

/** A NetworkPolicy's rules as peers plus `port/PROTOCOL` strings. */
function rulesOf(objects: KubeObject[], name: string, direction: 'ingress' | 'egress'): { peers: unknown; ports: string[] }[] {
  return findObject(objects, 'NetworkPolicy', name).spec[direction].map((rule: any) => ({
    peers: rule.from ?? rule.to,
    ports: (rule.ports ?? []).map((p: any) => `${p.port}/${p.protocol}`),
  }));
}

function portsOf(list: any[]): string[] {
  return list.map((p) => `${p.name}:${p.port ?? p.containerPort}/${p.protocol}`);
}

describe('ConsulCluster UI and metrics opt-ins', () => {
  const { cluster, objects } = build({ uiAccess: [OPERATORS], metricsScrapers: [PROMETHEUS] });
  const serverSelector = { 'app.kubernetes.io/name': 'consul', 'app.kubernetes.io/instance': 'consul', 'app.kubernetes.io/component': 'server' };

  it('serves the UI and API from the servers on consul-ui, to exactly the peers named', () => {
    const ui = findObject(objects, 'Service', 'consul-ui');
    expect(ui.spec).toMatchObject({ type: 'ClusterIP', selector: serverSelector });
    expect(portsOf(ui.spec.ports)).toEqual(['http:8500/TCP']);
    expect(cluster.http?.url).toBe('http://consul-ui.consul.svc.cluster.local:8500');
    expect(rulesOf(objects, 'consul-server', 'ingress')).toContainEqual({ peers: [OPERATORS], ports: ['8500/TCP'] });
    expect(rulesOf(objects, 'consul-agent', 'ingress')).not.toContainEqual({ peers: [OPERATORS], ports: ['8500/TCP'] });
  });

  it('keeps Prometheus metrics on servers and agents and lets exactly the scrapers reach them', () => {
    for (const role of ['server', 'agent'] as const) {
      expect(configOf(objects, role).telemetry).toEqual({ prometheus_retention_time: '60s', disable_hostname: true });
      expect(rulesOf(objects, `consul-${role}`, 'ingress')).toContainEqual({ peers: [PROMETHEUS], ports: ['8500/TCP'] });
    }
  });

  it.each([
    ['an empty list', { uiAccess: [] }, 'uiAccess', /at least one peer/],
    ['an empty peer, which would admit everyone', { metricsScrapers: [{}] }, 'metricsScrapers[0]', /empty peer admits every pod/],
  ])('rejects %s', (_title, props, field, message) => {
    expect(() => build(props as Partial<ConsulClusterProps>)).toThrow(new RegExp(`${field.replace(/[[\]]/g, '\\$&')} = .* is invalid: .*${message.source}`));
  });
});

describe('ConsulCluster with defaults', () => {
  const { cluster, objects } = build();
  const statefulSet = findObject(objects, 'StatefulSet', 'consul-server');
  const daemonSet = findObject(objects, 'DaemonSet', 'consul-agent');
  const server = consulContainer(objects, 'StatefulSet', 'consul-server');
  const agent = consulContainer(objects, 'DaemonSet', 'consul-agent');
  const serverSelector = { 'app.kubernetes.io/name': 'consul', 'app.kubernetes.io/instance': 'consul', 'app.kubernetes.io/component': 'server' };
  const agentSelector = { ...serverSelector, 'app.kubernetes.io/component': 'agent' };

  it('creates exactly the cluster objects, with stable human names in one namespace', () => {
    expect(objects.map((o) => `${o.kind}/${o.metadata.name}`).sort()).toEqual([
      'ConfigMap/consul-agent-config', 'ConfigMap/consul-entrypoint', 'ConfigMap/consul-server-config', 'DaemonSet/consul-agent',
      'NetworkPolicy/consul-agent', 'NetworkPolicy/consul-server', 'PodDisruptionBudget/consul-server',
      'Service/consul-agent', 'Service/consul-dns', 'Service/consul-server',
      'ServiceAccount/consul-agent', 'ServiceAccount/consul-server', 'StatefulSet/consul-server',
    ]);
    for (const o of objects) expect(o.metadata.namespace).toBe('consul');
  });

  it('runs 3 servers in parallel with bootstrap_expect 3, a quorum of 2 and required hostname anti-affinity', () => {
    expect(statefulSet.spec).toMatchObject({ replicas: 3, podManagementPolicy: 'Parallel', serviceName: 'consul-server' });
    expect(statefulSet.spec.selector.matchLabels).toEqual(serverSelector);
    expect(statefulSet.spec.template.spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution).toEqual([
      { topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: serverSelector } },
    ]);
    expect(statefulSet.spec.template.spec.topologySpreadConstraints).toBeUndefined();
    expect(configOf(objects, 'server')).toMatchObject({ bootstrap_expect: 3, autopilot: { min_quorum: 2 } });
  });

  it('keeps Raft state on a 10Gi ReadWriteOnce claim per server', () => {
    expect(statefulSet.spec.volumeClaimTemplates).toHaveLength(1);
    expect(statefulSet.spec.volumeClaimTemplates[0].metadata.name).toBe('data');
    expect(statefulSet.spec.volumeClaimTemplates[0].spec).toEqual({ accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '10Gi' } } });
    expect(server.volumeMounts).toContainEqual({ name: 'data', mountPath: '/consul/data' });
  });

  it('publishes every server port on the headless Service, before the pods are Ready', () => {
    const headless = findObject(objects, 'Service', 'consul-server');
    expect(headless.spec).toMatchObject({ clusterIP: 'None', publishNotReadyAddresses: true, selector: serverSelector });
    const expected = [
      'server:8300/TCP', 'serflan-tcp:8301/TCP', 'serflan-udp:8301/UDP', 'serfwan-tcp:8302/TCP', 'serfwan-udp:8302/UDP',
      'http:8500/TCP', 'grpc:8502/TCP', 'dns-tcp:8600/TCP', 'dns-udp:8600/UDP',
    ];
    expect(portsOf(headless.spec.ports)).toEqual(expected);
    expect(portsOf(server.ports)).toEqual(expected);
    expect(headless.spec.ports.every((p: any) => p.targetPort === p.name)).toBe(true);
  });

  it('is Ready only when a leader exists, and has no liveness probe', () => {
    expect(server.readinessProbe.exec.command).toEqual(['/bin/sh', '-ec', `curl -s http://127.0.0.1:8500/v1/status/leader | grep -E '".+"'`]);
    expect(server.readinessProbe).toMatchObject({ periodSeconds: 3, failureThreshold: 2, initialDelaySeconds: 5 });
    for (const container of [server, agent]) {
      expect(container.readinessProbe.timeoutSeconds).toBeLessThan(container.readinessProbe.periodSeconds);
      expect(container.livenessProbe).toBeUndefined();
      expect(container.startupProbe).toBeUndefined();
    }
  });

  it('keeps agents in their node-local Service while their API is up, leader or not', () => {
    expect(agent.readinessProbe.tcpSocket).toEqual({ port: 'http' });
    expect(agent.readinessProbe.exec).toBeUndefined();
  });

  it('allows one server down at a time and holds drains while there is no quorum', () => {
    expect(findObject(objects, 'PodDisruptionBudget', 'consul-server').spec).toEqual({
      maxUnavailable: 1, selector: { matchLabels: serverSelector }, unhealthyPodEvictionPolicy: 'IfHealthyBudget',
    });
  });

  it('generates a server config of documented keys with the chart settings', () => {
    const config = configOf(objects, 'server');
    expect(unknownConfigKeys(config)).toEqual([]);
    expect(invalidDurations(config)).toEqual([]);
    expect(config).toEqual({
      server: true,
      bootstrap_expect: 3,
      datacenter: 'dc1',
      domain: 'consul',
      data_dir: '/consul/data',
      bind_addr: '0.0.0.0',
      client_addr: '0.0.0.0',
      retry_join: ['consul-server.consul.svc.cluster.local:8301'],
      leave_on_terminate: true,
      reconnect_timeout: '72h',
      disable_update_check: true,
      acl: { enabled: true, default_policy: 'deny', down_policy: 'extend-cache', enable_token_persistence: true },
      ports: { http: 8500, https: -1, grpc: 8502, grpc_tls: -1, dns: 8600, server: 8300, serf_lan: 8301, serf_wan: 8302 },
      autopilot: { min_quorum: 2, cleanup_dead_servers: true, last_contact_threshold: '200ms', server_stabilization_time: '10s' },
      performance: { raft_multiplier: 1 },
      ui_config: { enabled: true },
      connect: { enabled: true },
    });
  });

  it('generates an agent config of documented keys, joined to the servers, with DNS off', () => {
    const config = configOf(objects, 'agent');
    expect(unknownConfigKeys(config)).toEqual([]);
    expect(invalidDurations(config)).toEqual([]);
    expect(config).toMatchObject({
      server: false,
      retry_join: ['consul-server.consul.svc.cluster.local:8301'],
      acl: { enabled: true, default_policy: 'deny' },
      ports: { http: 8500, grpc: 8502, dns: -1, serf_lan: 8301 },
    });
    for (const serverOnly of ['bootstrap_expect', 'autopilot', 'ui_config', 'connect', 'performance']) expect(config).not.toHaveProperty(serverOnly);
  });

  it('annotates each pod template with the sha256 of its config file and the entrypoint', () => {
    const script = findObject(objects, 'ConfigMap', 'consul-entrypoint').data['consul-entrypoint.sh'];
    for (const [workload, role] of [[statefulSet, 'server'], [daemonSet, 'agent']] as const) {
      const file = findObject(objects, 'ConfigMap', `consul-${role}-config`).data[`${role}.json`];
      expect(workload.spec.template.metadata.annotations['discovery-kit.io/config-checksum']).toBe(createHash('sha256').update(file + script).digest('hex'));
      expect(workload.spec.template.spec.volumes).toContainEqual({ name: 'config', configMap: { name: `consul-${role}-config` } });
    }
  });

  it('runs Consul under the entrypoint script from lib/consul/entrypoint.sh, as PID 1', () => {
    const script = findObject(objects, 'ConfigMap', 'consul-entrypoint').data['consul-entrypoint.sh'];
    expect(script).toBe(readFileSync(join(__dirname, '..', 'lib', 'consul', 'entrypoint.sh'), 'utf8'));
    for (const [workload, container] of [[statefulSet, server], [daemonSet, agent]] as const) {
      expect(container.command).toEqual(['/bin/sh', '/consul/entrypoint/consul-entrypoint.sh']);
      expect(container.volumeMounts).toContainEqual({ name: 'entrypoint', mountPath: '/consul/entrypoint', readOnly: true });
      expect(workload.spec.template.spec.volumes).toContainEqual({ name: 'entrypoint', configMap: { name: 'consul-entrypoint' } });
    }
  });

  it('gives the servers a writable /tmp (read-only root): a server writes a snapshot there first', () => {
    expect(server.volumeMounts).toContainEqual({ name: 'tmp', mountPath: '/tmp' });
    expect(statefulSet.spec.template.spec.volumes).toContainEqual({ name: 'tmp', emptyDir: { sizeLimit: '10Gi' } });
    expect(agent.volumeMounts.map((m: any) => m.mountPath)).not.toContain('/tmp');
  });

  it('rolls the servers one at a time, each only once the restarted one can vote', () => {
    // server_stabilization_time 10s + autopilot's 10s reconcile + one readiness period (3s).
    expect(statefulSet.spec.minReadySeconds).toBe(23);
    expect(statefulSet.spec.updateStrategy).toEqual({ type: 'RollingUpdate' });
  });

  it('reads the gossip key from the Secret into -encrypt, never into a ConfigMap', () => {
    for (const container of [server, agent]) {
      expect(envOf(container, 'CONSUL_GOSSIP_KEY')).toEqual({ name: 'CONSUL_GOSSIP_KEY', valueFrom: { secretKeyRef: { name: 'consul-gossip-key', key: 'key' } } });
      expect(container.args).toEqual(['agent', '-config-dir=/consul/config', '-advertise=$(POD_IP)', '-encrypt=$(CONSUL_GOSSIP_KEY)']);
      expect(envOf(container, 'POD_IP').valueFrom.fieldRef.fieldPath).toBe('status.podIP');
      expect(envOf(container, 'CONSUL_DISABLE_PERM_MGMT').value).toBe('true');
    }
    for (const role of ['server', 'agent'] as const) expect(configOf(objects, role)).not.toHaveProperty('encrypt');
  });

  it("runs as the image's consul user and is otherwise Pod Security restricted", () => {
    for (const workload of [statefulSet, daemonSet]) {
      const pod = workload.spec.template.spec;
      expect(pod.securityContext).toEqual({ runAsNonRoot: true, runAsUser: 100, runAsGroup: 1000, fsGroup: 1000, seccompProfile: { type: 'RuntimeDefault' } });
      expect(pod.automountServiceAccountToken).toBe(false);
      expect(pod.enableServiceLinks).toBe(false);
      const container = pod.containers[0];
      expect(container.securityContext).toEqual({
        allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, runAsNonRoot: true,
        capabilities: { drop: ['ALL'] }, seccompProfile: { type: 'RuntimeDefault' },
      });
      expect(container.image).toBe('hashicorp/consul:1.20.6');
    }
    for (const sa of ['consul-server', 'consul-agent']) expect(findObject(objects, 'ServiceAccount', sa).automountServiceAccountToken).toBe(false);
  });

  it('sets requests and limits', () => {
    expect(server.resources).toEqual({ requests: { cpu: '250m', memory: '256Mi' }, limits: { cpu: '1', memory: '512Mi' } });
    expect(agent.resources).toEqual({ requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '500m', memory: '256Mi' } });
  });

  it('reaches agents through a node-local Service, with no hostPort anywhere', () => {
    const service = findObject(objects, 'Service', 'consul-agent');
    expect(service.spec).toMatchObject({ type: 'ClusterIP', internalTrafficPolicy: 'Local', selector: agentSelector });
    expect(portsOf(service.spec.ports)).toEqual(['http:8500/TCP', 'grpc:8502/TCP']);
    expect(portsOf(agent.ports)).toEqual(['serflan-tcp:8301/TCP', 'serflan-udp:8301/UDP', 'http:8500/TCP', 'grpc:8502/TCP']);
    expect(JSON.stringify(objects)).not.toContain('hostPort');
    expect(daemonSet.spec.template.spec.volumes).toContainEqual({ name: 'data', emptyDir: { sizeLimit: '128Mi' } });
  });

  it('serves DNS on 53 from the servers and explains the missing ClusterIP', () => {
    const dns = findObject(objects, 'Service', 'consul-dns');
    expect(dns.spec.selector).toEqual(serverSelector);
    expect(dns.spec.clusterIP).toBeUndefined();
    expect(dns.spec.ports).toEqual([
      { name: 'dns-tcp', port: 53, targetPort: 'dns-tcp', protocol: 'TCP' },
      { name: 'dns-udp', port: 53, targetPort: 'dns-udp', protocol: 'UDP' },
    ]);
    expect(cluster.coreDnsServerBlock).toBe([
      'consul:53 {',
      '    errors',
      '    cache 30',
      "    # replace <CONSUL_DNS_CLUSTER_IP> with the output of: kubectl -n consul get service consul-dns -o jsonpath='{.spec.clusterIP}'",
      '    forward . <CONSUL_DNS_CLUSTER_IP>',
      '}',
      '',
    ].join('\n'));
    expect(cluster.coreDnsConfigMap).toBeUndefined();
    expect(warningsOf(cluster)).toEqual([
      expect.stringMatching(/ACLs deny by default but acl.tokensSecret is not set: agents cannot register their node/),
      expect.stringMatching(/dnsClusterIp is not pinned.*consul\/consul-dns/),
    ]);
  });

  it('creates no UI Service and no Prometheus telemetry that no policy would let anyone use', () => {
    expect(objects.filter((o) => o.metadata.name === 'consul-ui')).toEqual([]);
    expect(cluster.http).toBeUndefined();
    expect(configOf(objects, 'server').telemetry).toBeUndefined();
    expect(configOf(objects, 'agent').telemetry).toBeUndefined();
  });

  it('isolates servers, allowing only Consul traffic, CoreDNS and labelled clients', () => {
    const servers = { podSelector: { matchLabels: serverSelector } };
    const agents = { podSelector: { matchLabels: agentSelector } };
    const clients = { namespaceSelector: {}, podSelector: { matchLabels: { [CONSUL_CLIENT_LABEL]: 'consul' } } };
    const rpcAndLan = ['8300/TCP', '8301/TCP', '8301/UDP'];
    expect(findObject(objects, 'NetworkPolicy', 'consul-server').spec.podSelector.matchLabels).toEqual(serverSelector);
    expect(rulesOf(objects, 'consul-server', 'ingress')).toEqual([
      { peers: [servers], ports: [...rpcAndLan, '8302/TCP', '8302/UDP'] },
      { peers: [agents], ports: rpcAndLan },
      { peers: [KUBE_DNS_PEER], ports: ['8600/TCP', '8600/UDP'] },
      // Mesh pods only: registering clients reach their node's agent, never the servers.
      { peers: [{ namespaceSelector: {}, podSelector: { matchLabels: { [CONSUL_MESH_LABEL]: 'consul' } } }], ports: ['8502/TCP', '8500/TCP'] },
    ]);
    expect(rulesOf(objects, 'consul-server', 'egress')).toEqual([
      { peers: [servers], ports: [...rpcAndLan, '8302/TCP', '8302/UDP'] },
      { peers: [agents], ports: ['8301/TCP', '8301/UDP'] },
      { peers: [KUBE_DNS_PEER], ports: ['53/UDP', '53/TCP'] },
    ]);
    expect(rulesOf(objects, 'consul-agent', 'ingress')).toEqual([
      { peers: [servers, agents], ports: ['8301/TCP', '8301/UDP'] },
      { peers: [clients], ports: ['8500/TCP', '8502/TCP'] },
    ]);
    expect(rulesOf(objects, 'consul-agent', 'egress')).toEqual([
      { peers: [servers], ports: rpcAndLan },
      { peers: [agents], ports: ['8301/TCP', '8301/UDP'] },
      { peers: [KUBE_DNS_PEER], ports: ['53/UDP', '53/TCP'] },
    ]);
    for (const name of ['consul-server', 'consul-agent']) {
      expect(findObject(objects, 'NetworkPolicy', name).spec.policyTypes).toEqual(['Ingress', 'Egress']);
    }
  });

  it('passes the manifest-quality suite', () => {
    expect(qualityViolations(objects)).toEqual([]);
  });

  it('runs an agent on every node, tainted ones included, and no server on them unless allowed', () => {
    expect(findObject(objects, 'DaemonSet', 'consul-agent').spec.template.spec.tolerations).toEqual([{ operator: 'Exists' }]);
    expect(findObject(objects, 'StatefulSet', 'consul-server').spec.template.spec.tolerations).toBeUndefined();
    const custom = build({ agentTolerations: [{ key: 'dedicated', operator: 'Equal', value: 'gpu', effect: 'NoSchedule' }] });
    expect(findObject(custom.objects, 'DaemonSet', 'consul-agent').spec.template.spec.tolerations)
      .toEqual([{ key: 'dedicated', operator: 'Equal', value: 'gpu', effect: 'NoSchedule' }]);
  });

  it('exposes typed addresses', () => {
    expect(cluster.agent).toEqual({
      host: 'consul-agent.consul.svc.cluster.local',
      port: 8500,
      scheme: 'http',
      address: 'consul-agent.consul.svc.cluster.local:8500',
      url: 'http://consul-agent.consul.svc.cluster.local:8500',
      clusterName: 'consul',
      datacenter: 'dc1',
      domain: 'consul',
      namespace: 'consul',
      podSelector: agentSelector,
    });
    expect(cluster.dns).toEqual({ serviceName: 'consul-dns', host: 'consul-dns.consul.svc.cluster.local', port: 53 });
    expect(cluster.serverAddresses).toEqual([0, 1, 2].map((i) => `consul-server-${i}.consul-server.consul.svc.cluster.local`));
    expect(cluster.clientLabels).toEqual({ [CONSUL_CLIENT_LABEL]: 'consul' });
    expect(cluster.serverPodSelector).toEqual(serverSelector);
    expect(cluster.agentPodSelector).toEqual(agentSelector);
    expect(cluster.tlsDnsNames.server).toContain('server.dc1.consul');
  });
});

describe.each([3, 5, 7])('ConsulCluster with %i servers', (replicas) => {
  const { cluster, objects } = build({ replicas });
  const statefulSet = findObject(objects, 'StatefulSet', 'consul-server');
  const config = configOf(objects, 'server');

  it('expects exactly its servers and keeps a majority quorum', () => {
    expect(statefulSet.spec.replicas).toBe(replicas);
    expect(config.bootstrap_expect).toBe(replicas);
    expect(config.autopilot.min_quorum).toBe(Math.floor(replicas / 2) + 1);
    expect(config.retry_join).toEqual(['consul-server.consul.svc.cluster.local:8301']);
    expect(cluster.serverAddresses).toHaveLength(replicas);
    expect(cluster.serverAddresses[replicas - 1]).toBe(`consul-server-${replicas - 1}.consul-server.consul.svc.cluster.local`);
  });

  it('disrupts one server at a time, never two on a node', () => {
    expect(findObject(objects, 'PodDisruptionBudget', 'consul-server').spec.maxUnavailable).toBe(1);
    expect(statefulSet.spec.template.spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey).toBe('kubernetes.io/hostname');
  });

  it('keeps the ports and the leader probe', () => {
    const server = consulContainer(objects, 'StatefulSet', 'consul-server');
    expect(server.ports.map((p: any) => p.containerPort)).toEqual([8300, 8301, 8301, 8302, 8302, 8500, 8502, 8600, 8600]);
    expect(server.readinessProbe.exec.command[2]).toContain('/v1/status/leader');
    expect(server.livenessProbe).toBeUndefined();
  });

  it('passes the manifest-quality suite', () => {
    expect(qualityViolations(objects)).toEqual([]);
  });
});

describe('ConsulCluster as a development single server', () => {
  const { cluster, objects } = build({ developmentSingleServer: true });

  it('runs one server that bootstraps alone, without a disruption budget, and warns', () => {
    expect(findObject(objects, 'StatefulSet', 'consul-server').spec.replicas).toBe(1);
    expect(configOf(objects, 'server')).toMatchObject({ bootstrap_expect: 1, autopilot: { min_quorum: 1 } });
    expect(objects.filter((o) => o.kind === 'PodDisruptionBudget')).toEqual([]);
    expect(cluster.podDisruptionBudget).toBeUndefined();
    expect(warningsOf(cluster)).toContainEqual(expect.stringMatching(/developmentSingleServer: one Consul server has no fault tolerance/));
  });

  it('passes the manifest-quality suite', () => {
    expect(qualityViolations(objects)).toEqual([]);
  });
});

describe('ConsulCluster with TLS', () => {
  const { cluster, objects } = build({ tls: TLS, uiAccess: [OPERATORS] });
  const server = consulContainer(objects, 'StatefulSet', 'consul-server');
  const agent = consulContainer(objects, 'DaemonSet', 'consul-agent');

  it('serves HTTPS and gRPC-TLS only, with verification on', () => {
    for (const role of ['server', 'agent'] as const) {
      const config = configOf(objects, role);
      expect(unknownConfigKeys(config)).toEqual([]);
      expect(config.ports).toMatchObject({ http: -1, https: 8501, grpc: -1, grpc_tls: 8502 });
      expect(config.tls).toEqual({
        defaults: { ca_file: '/consul/tls/ca/ca.crt', cert_file: '/consul/tls/cert/tls.crt', key_file: '/consul/tls/cert/tls.key', verify_outgoing: true },
        internal_rpc: { verify_incoming: true, verify_server_hostname: true },
        https: { verify_incoming: false },
        grpc: { verify_incoming: false },
      });
    }
  });

  it('mounts the CA and each role its own certificate from Secrets', () => {
    const volumesOf = (kind: string, name: string) => findObject(objects, kind, name).spec.template.spec.volumes;
    const ca = { name: 'tls-ca', secret: { secretName: 'consul-ca', items: [{ key: 'ca.crt', path: 'ca.crt' }], defaultMode: 0o440 } };
    const cert = (secretName: string) => ({ name: 'tls-cert', secret: { secretName, items: [{ key: 'tls.crt', path: 'tls.crt' }, { key: 'tls.key', path: 'tls.key' }], defaultMode: 0o440 } });
    expect(volumesOf('StatefulSet', 'consul-server')).toEqual(expect.arrayContaining([ca, cert('consul-server-tls')]));
    expect(volumesOf('DaemonSet', 'consul-agent')).toEqual(expect.arrayContaining([ca, cert('consul-agent-tls')]));
    for (const container of [server, agent]) {
      expect(container.volumeMounts).toEqual(expect.arrayContaining([
        { name: 'tls-ca', mountPath: '/consul/tls/ca', readOnly: true },
        { name: 'tls-cert', mountPath: '/consul/tls/cert', readOnly: true },
      ]));
      expect(envOf(container, 'CONSUL_HTTP_ADDR').value).toBe('https://localhost:8501');
      expect(envOf(container, 'CONSUL_CACERT').value).toBe('/consul/tls/ca/ca.crt');
      // Rotated certificates are reloaded by the entrypoint (test/real/consul-tls.test.ts).
      expect(envOf(container, 'RELOAD_WATCH_DIRS').value).toBe('/consul/tls/ca /consul/tls/cert');
    }
    expect(server.readinessProbe.exec.command[2]).toBe(`curl -s -k https://127.0.0.1:8501/v1/status/leader | grep -E '".+"'`);
    expect(agent.readinessProbe.tcpSocket).toEqual({ port: 'https' });
  });

  it('exposes https instead of http on every Service, policy and endpoint', () => {
    expect(portsOf(findObject(objects, 'Service', 'consul-agent').spec.ports)).toEqual(['https:8501/TCP', 'grpc:8502/TCP']);
    expect(portsOf(findObject(objects, 'Service', 'consul-ui').spec.ports)).toEqual(['https:8501/TCP']);
    expect(rulesOf(objects, 'consul-agent', 'ingress')[1].ports).toEqual(['8501/TCP', '8502/TCP']);
    expect(rulesOf(objects, 'consul-server', 'ingress')[3].ports).toEqual(['8502/TCP', '8501/TCP']);
    expect(cluster.agent).toMatchObject({ scheme: 'https', port: 8501, url: 'https://consul-agent.consul.svc.cluster.local:8501' });
    expect(cluster.http?.url).toBe('https://consul-ui.consul.svc.cluster.local:8501');
    expect(cluster.tlsDnsNames).toEqual({
      server: ['server.dc1.consul', 'localhost', 'consul-server.consul.svc.cluster.local', '*.consul-server.consul.svc.cluster.local', 'consul-ui.consul.svc.cluster.local'],
      agent: ['consul-agent.consul.svc.cluster.local', 'localhost'],
    });
  });

  it('keeps plain HTTP beside HTTPS when httpsOnly is off', () => {
    const built = build({ tls: { ...TLS, httpsOnly: false, verifyIncoming: false }, uiAccess: [OPERATORS] });
    expect(configOf(built.objects, 'server').ports).toMatchObject({ http: 8500, https: 8501 });
    expect(configOf(built.objects, 'server').tls.internal_rpc.verify_incoming).toBe(false);
    expect(portsOf(findObject(built.objects, 'Service', 'consul-ui').spec.ports)).toEqual(['http:8500/TCP', 'https:8501/TCP']);
  });

  it('passes the manifest-quality suite', () => {
    expect(qualityViolations(objects)).toEqual([]);
  });
});

describe('ConsulCluster with TLS and no shared agent certificate', () => {
  const { objects } = build({ tls: { ...TLS, agentCertificate: undefined } });

  it('lets each agent take its own certificate from the servers (auto_encrypt) and mounts only the CA into the agents', () => {
    expect(configOf(objects, 'server').auto_encrypt).toEqual({ allow_tls: true });
    const agentConfig = configOf(objects, 'agent');
    // The certificate names the agent Service, which the registration sidecars verify.
    expect(agentConfig.auto_encrypt).toEqual({ tls: true, dns_san: ['consul-agent.consul.svc.cluster.local'] });
    expect(agentConfig.tls.defaults).toEqual({ ca_file: '/consul/tls/ca/ca.crt', verify_outgoing: true });
    expect(unknownConfigKeys(agentConfig)).toEqual([]);
    expect(findObject(objects, 'DaemonSet', 'consul-agent').spec.template.spec.volumes.map((v: any) => v.name)).not.toContain('tls-cert');
    expect(findObject(objects, 'StatefulSet', 'consul-server').spec.template.spec.volumes.map((v: any) => v.name)).toContain('tls-cert');
  });

  it('starts the agents only once the ACL tokens file exists: their certificate request needs the agent token, which a reload cannot add before start', () => {
    const tokensSecret = { secretName: 'consul-acl-tokens', key: 'tokens.json' };
    const withTokens = build({ tls: { ...TLS, agentCertificate: undefined }, acl: { tokensSecret } }).objects;
    expect(envOf(consulContainer(withTokens, 'DaemonSet', 'consul-agent'), 'WAIT_FOR_FILE').value).toBe('/consul/acl/tokens.json');
    // Servers sign certificates themselves; shared agent certificates and agents without a tokens Secret need no token to start.
    expect(envOf(consulContainer(withTokens, 'StatefulSet', 'consul-server'), 'WAIT_FOR_FILE')).toBeUndefined();
    expect(envOf(consulContainer(build({ tls: TLS, acl: { tokensSecret } }).objects, 'DaemonSet', 'consul-agent'), 'WAIT_FOR_FILE')).toBeUndefined();
    expect(envOf(consulContainer(objects, 'DaemonSet', 'consul-agent'), 'WAIT_FOR_FILE')).toBeUndefined();
  });
});

describe('ConsulCluster security switches', () => {
  it('reads ACL tokens from an optional Secret as a second config dir, which the entrypoint watches', () => {
    const { objects } = build({ acl: { tokensSecret: { secretName: 'consul-acl-tokens', key: 'tokens.json' }, enableTokenPersistence: false } });
    for (const [kind, name] of [['StatefulSet', 'consul-server'], ['DaemonSet', 'consul-agent']] as const) {
      const container = consulContainer(objects, kind, name);
      expect(container.args).toContain('-config-dir=/consul/acl');
      expect(container.volumeMounts).toContainEqual({ name: 'acl-tokens', mountPath: '/consul/acl', readOnly: true });
      // Optional: the pods start before `consul acl bootstrap` makes the tokens.
      expect(findObject(objects, kind, name).spec.template.spec.volumes).toContainEqual({
        name: 'acl-tokens', secret: { secretName: 'consul-acl-tokens', items: [{ key: 'tokens.json', path: 'tokens.json' }], defaultMode: 0o440, optional: true },
      });
      expect(envOf(container, 'RELOAD_WATCH_DIRS').value).toBe('/consul/acl');
    }
    expect(configOf(objects, 'server').acl.enable_token_persistence).toBe(false);
  });

  it('turns ACLs and gossip encryption off only when asked, with warnings', () => {
    const { cluster, objects } = build({ acl: { enabled: false }, gossipEncryption: GossipEncryption.disabled() });
    expect(configOf(objects, 'server').acl).toEqual({ enabled: false });
    const server = consulContainer(objects, 'StatefulSet', 'consul-server');
    expect(server.args).not.toContain('-encrypt=$(CONSUL_GOSSIP_KEY)');
    expect(envOf(server, 'CONSUL_GOSSIP_KEY')).toBeUndefined();
    expect(warningsOf(cluster)).toEqual(expect.arrayContaining([
      expect.stringMatching(/gossip encryption is disabled/), expect.stringMatching(/ACLs are disabled/),
    ]));
  });

  // The real API server refuses them in a restricted namespace: test/e2e/apply-dist.test.ts.
  it('publishes agent hostPorts only when opted in', () => {
    const { cluster, objects } = build({ agentHostPorts: true });
    const agent = consulContainer(objects, 'DaemonSet', 'consul-agent');
    expect(agent.ports.filter((p: any) => p.hostPort).map((p: any) => `${p.name}:${p.hostPort}`)).toEqual(['http:8500', 'grpc:8502']);
    expect(JSON.stringify(findObject(objects, 'StatefulSet', 'consul-server'))).not.toContain('hostPort');
    expect(warningsOf(cluster)).toContainEqual(expect.stringMatching(/agentHostPorts.*baseline/));
  });
});

describe('ConsulCluster with every prop set', () => {
  const { cluster, objects } = build({ ...EVERY_CONSUL_PROP, namespace: 'platform', clusterDomain: 'corp.example', dnsClusterIp: '10.96.0.53' }, 'construct-id');
  const statefulSet = findObject(objects, 'StatefulSet', 'registry-server', 'platform');
  const server = consulContainer(objects, 'StatefulSet', 'registry-server');

  it('matches the reviewed manifests', () => {
    expect(objects).toMatchSnapshot();
  });

  it('derives minReadySeconds from serverStabilizationTime', () => {
    expect(statefulSet.spec.minReadySeconds).toBe(30 + 10 + 3);
  });

  it('names everything after the cluster, in its namespace', () => {
    expect(objects.map((o) => `${o.kind}/${o.metadata.namespace}/${o.metadata.name}`).sort()).toContain('Service/platform/registry-dns');
    for (const o of objects) {
      expect(o.metadata.namespace).toBe('platform');
      expect(o.metadata.name.startsWith('registry-')).toBe(true);
      expect(o.metadata.labels).toMatchObject({ team: 'platform', 'app.kubernetes.io/part-of': 'service-discovery', 'app.kubernetes.io/instance': 'registry' });
    }
  });

  it('applies datacenter, domain, timing and feature settings to the config', () => {
    const config = configOf(objects, 'server', 'registry');
    expect(unknownConfigKeys(config)).toEqual([]);
    expect(invalidDurations(config)).toEqual([]);
    expect(config).toMatchObject({
      bootstrap_expect: 5,
      datacenter: 'eu-west-1',
      domain: 'discovery',
      retry_join: ['registry-server.platform.svc.corp.example:8301'],
      reconnect_timeout: '24h',
      autopilot: { min_quorum: 3, cleanup_dead_servers: false, last_contact_threshold: '500ms', server_stabilization_time: '30s' },
      ui_config: { enabled: false },
      connect: { enabled: false },
    });
  });

  it('applies storage, zone spread, resources, identity and image', () => {
    expect(statefulSet.spec.volumeClaimTemplates[0].spec).toMatchObject({ storageClassName: 'fast-ssd', resources: { requests: { storage: '20Gi' } } });
    expect(statefulSet.spec.template.spec.topologySpreadConstraints).toEqual([{
      maxSkew: 1, topologyKey: 'topology.kubernetes.io/zone', whenUnsatisfiable: 'DoNotSchedule',
      labelSelector: { matchLabels: cluster.serverPodSelector },
    }]);
    expect(server.resources).toEqual({ requests: { cpu: '500m', memory: '1Gi' }, limits: { cpu: '2', memory: '2Gi' } });
    expect(consulContainer(objects, 'DaemonSet', 'registry-agent').resources.requests.memory).toBe('96Mi');
    expect(statefulSet.spec.template.spec.securityContext).toMatchObject({ runAsUser: 10100, runAsGroup: 10100, fsGroup: 10100 });
    expect(server.image).toBe('registry.internal:5000/hashicorp/consul@sha256:' + 'b'.repeat(64));
  });

  it('pins the DNS ClusterIP and hands out a ready CoreDNS block and ConfigMap', () => {
    expect(findObject(objects, 'Service', 'registry-dns').spec.clusterIP).toBe('10.96.0.53');
    expect(cluster.coreDnsServerBlock).toBe('discovery:53 {\n    errors\n    cache 30\n    forward . 10.96.0.53\n}\n');
    expect(cluster.coreDnsConfigMap).toEqual({
      metadata: { name: 'coredns-custom', namespace: 'kube-system', labels: expect.objectContaining({ 'app.kubernetes.io/instance': 'registry' }) },
      data: { 'registry.server': cluster.coreDnsServerBlock },
    });
    expect(cluster.dns).toEqual({ serviceName: 'registry-dns', host: 'registry-dns.platform.svc.corp.example', port: 53, clusterIp: '10.96.0.53' });
    expect(warningsOf(cluster)).toEqual([]);
  });

  it('labels clients and addresses with the cluster name and domains', () => {
    expect(cluster.agent).toMatchObject({ host: 'registry-agent.platform.svc.corp.example', clusterName: 'registry', datacenter: 'eu-west-1', domain: 'discovery' });
    expect(cluster.clientLabels).toEqual({ [CONSUL_CLIENT_LABEL]: 'registry' });
    expect(cluster.serverAddresses[4]).toBe('registry-server-4.registry-server.platform.svc.corp.example');
  });

  it('passes the manifest-quality suite', () => {
    expect(qualityViolations(objects)).toEqual([]);
  });
});

describe('the config checksum', () => {
  const checksums = (props: Partial<ConsulClusterProps>) => {
    const { objects } = build(props);
    return ['StatefulSet/consul-server', 'DaemonSet/consul-agent'].map((ref) => {
      const [kind, name] = ref.split('/');
      return findObject(objects, kind, name).spec.template.metadata.annotations['discovery-kit.io/config-checksum'];
    });
  };
  const base = checksums({});

  it('is stable for the same config', () => {
    expect(checksums({})).toEqual(base);
    expect(checksums({ storageSize: '20Gi', serverResources: { limits: { cpu: '2' } } })).toEqual(base);
  });

  it('changes on both roles when shared config changes', () => {
    const changed = checksums({ datacenter: 'dc2' });
    expect(changed[0]).not.toBe(base[0]);
    expect(changed[1]).not.toBe(base[1]);
  });

  it('changes only for the servers when only server config changes', () => {
    const changed = checksums({ ui: false });
    expect(changed[0]).not.toBe(base[0]);
    expect(changed[1]).toBe(base[1]);
  });
});

describe('the example Consul cluster', () => {
  const cluster = consulClusterOf(buildExampleApp(Testing.app()));

  it('runs 3 servers in the consul namespace with the gossip key from a Secret', () => {
    expect(cluster.replicas).toBe(3);
    expect(cluster.namespace).toBe('consul');
    expect(cluster.agent.url).toBe('http://consul-agent.consul.svc.cluster.local:8500');
  });
});
