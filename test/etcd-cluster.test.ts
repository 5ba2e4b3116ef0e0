import { ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { AddressInfo, createServer, Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { DEFAULT_ETCD_IMAGE, ETCD_CLIENT_LABEL, EtcdCluster, EtcdClusterProps } from '../lib';
import { qualityViolations } from './support/quality';
import { KubeObject } from './support/schema';
import { findContainer, findObject, synthChart, testChart } from './support/synth';
import { EVERY_ETCD_PROP } from './support/every-prop';

const SELECTOR = { 'app.kubernetes.io/name': 'etcd', 'app.kubernetes.io/instance': 'etcd', 'app.kubernetes.io/component': 'etcd' };

/** Synthesizes one cluster in namespace `production` and returns its objects and pieces. */
function synthCluster(props: EtcdClusterProps = {}, namespace = 'production') {
  const chart = testChart(namespace);
  const cluster = new EtcdCluster(chart, 'etcd-cluster', props);
  const objects = synthChart(chart);
  const statefulSet = findObject(objects, 'StatefulSet', cluster.clusterName);
  const container = findContainer(statefulSet, 'etcd');
  return { cluster, objects, statefulSet, container, flags: flagsOf(container) };
}

/** The container's `--flag=value` args as a map; fails on a repeated flag. */
function flagsOf(container: any): Map<string, string> {
  const flags = new Map<string, string>(container.args.map((arg: string) => {
    const eq = arg.indexOf('=');
    return [arg.slice(2, eq), arg.slice(eq + 1)];
  }));
  expect(flags.size).toBe(container.args.length);
  return flags;
}

function kinds(objects: readonly KubeObject[]): string[] {
  return objects.map((o) => `${o.kind}/${o.metadata.name}`).sort();
}

describe('EtcdCluster with defaults', () => {
  const { cluster, objects, statefulSet, container, flags } = synthCluster();
  const pod = statefulSet.spec.template.spec;

  it('creates exactly the cluster objects, named after the cluster, in its namespace', () => {
    expect(kinds(objects)).toEqual([
      'NetworkPolicy/etcd', 'PodDisruptionBudget/etcd', 'Service/etcd', 'Service/etcd-client', 'ServiceAccount/etcd', 'StatefulSet/etcd',
    ]);
    for (const o of objects) {
      expect(o.metadata.namespace).toBe('production');
      expect(o.metadata.labels).toMatchObject({ ...SELECTOR, 'app.kubernetes.io/managed-by': 'discovery-kit' });
    }
  });

  it('runs a pinned etcd new enough for /livez and /readyz, directly (the image has no shell)', () => {
    const [major, minor, patch] = /:v(\d+)\.(\d+)\.(\d+)$/.exec(container.image)!.slice(1).map(Number);
    expect(container.image).toBe(DEFAULT_ETCD_IMAGE);
    expect(major === 3 && (minor > 5 || (minor === 5 && patch >= 12))).toBe(true);
    expect(container.command).toEqual(['/usr/local/bin/etcd']);
    expect(statefulSet.spec.template.metadata.labels['app.kubernetes.io/version']).toBe(container.image.split(':')[1]);
  });

  it('names each member after its pod and advertises the stable per-pod DNS name', () => {
    expect(container.env).toEqual([{ name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }]);
    expect(flags.get('name')).toBe('$(POD_NAME)');
    expect(flags.get('initial-advertise-peer-urls')).toBe('http://$(POD_NAME).etcd.production.svc.cluster.local:2380');
    expect(flags.get('advertise-client-urls')).toBe('http://$(POD_NAME).etcd.production.svc.cluster.local:2379');
    expect(flags.get('listen-peer-urls')).toBe('http://0.0.0.0:2380');
    expect(flags.get('listen-client-urls')).toBe('http://0.0.0.0:2379');
    expect(flags.get('listen-metrics-urls')).toBe('http://0.0.0.0:8080');
    expect(flags.get('initial-cluster-state')).toBe('new');
    expect(pod.enableServiceLinks).toBe(false);
  });

  it('keeps its data on the claimed volume, with compaction and a backend quota', () => {
    const [claim] = statefulSet.spec.volumeClaimTemplates;
    const mount = container.volumeMounts.find((m: any) => m.name === claim.metadata.name);
    expect(flags.get('data-dir')!.startsWith(`${mount.mountPath}/`)).toBe(true);
    expect(claim.spec).toEqual({ accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '8Gi' } } });
    expect(claim.metadata.labels).toEqual(SELECTOR);
    expect(flags.get('quota-backend-bytes')).toBe(String(2 * 1024 ** 3));
    expect(flags.get('auto-compaction-mode')).toBe('periodic');
    expect(flags.get('auto-compaction-retention')).toBe('3600s');
  });

  it('exposes peers on a headless Service that publishes unready members, clients on a ClusterIP Service', () => {
    const headless = findObject(objects, 'Service', 'etcd');
    const client = findObject(objects, 'Service', 'etcd-client');
    expect(statefulSet.spec.serviceName).toBe('etcd');
    expect(headless.spec).toMatchObject({ clusterIP: 'None', publishNotReadyAddresses: true, selector: SELECTOR });
    expect(headless.spec.ports.map((p: any) => [p.name, p.port, p.targetPort])).toEqual([
      ['etcd-client', 2379, 'etcd-client'], ['etcd-server', 2380, 'etcd-server'], ['metrics', 8080, 'metrics'],
    ]);
    expect(client.spec).toMatchObject({ type: 'ClusterIP', selector: SELECTOR });
    expect(client.spec.publishNotReadyAddresses).toBeUndefined();
    expect(client.spec.ports.map((p: any) => [p.name, p.port, p.targetPort])).toEqual([['etcd-client', 2379, 'etcd-client']]);
    expect(container.ports.map((p: any) => [p.name, p.containerPort])).toEqual([['etcd-client', 2379], ['etcd-server', 2380], ['metrics', 8080]]);
  });

  it('probes /readyz and /livez over plain HTTP on the metrics port, with a generous startup window', () => {
    expect(container.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'metrics', scheme: 'HTTP' });
    expect(container.livenessProbe.httpGet).toEqual({ path: '/livez', port: 'metrics', scheme: 'HTTP' });
    expect(container.startupProbe.httpGet).toEqual({ path: '/livez', port: 'metrics', scheme: 'HTTP' });
    expect(container.startupProbe.periodSeconds * container.startupProbe.failureThreshold).toBe(300);
    for (const probe of [container.livenessProbe, container.readinessProbe, container.startupProbe]) {
      expect(probe.timeoutSeconds).toBeLessThan(probe.periodSeconds);
    }
  });

  it('is Pod Security restricted, with its own ServiceAccount and no token', () => {
    expect(pod.securityContext).toEqual({
      runAsNonRoot: true, runAsUser: 10001, runAsGroup: 10001, fsGroup: 10001,
      fsGroupChangePolicy: 'OnRootMismatch', seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(container.securityContext).toEqual({
      allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, runAsNonRoot: true,
      capabilities: { drop: ['ALL'] }, seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(pod.serviceAccountName).toBe('etcd');
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(findObject(objects, 'ServiceAccount', 'etcd').automountServiceAccountToken).toBe(false);
    expect(container.resources).toEqual({ requests: { cpu: '250m', memory: '512Mi' }, limits: { cpu: '2', memory: '1Gi' } });
  });

  it('admits members and labelled clients from any namespace, and allows only peers and DNS out', () => {
    const spec = findObject(objects, 'NetworkPolicy', 'etcd').spec;
    const ports = (rule: any) => rule.ports.map((p: any) => `${p.port}/${p.protocol}`);
    expect(spec.podSelector.matchLabels).toEqual(SELECTOR);
    expect(spec.policyTypes).toEqual(['Ingress', 'Egress']);
    expect(spec.ingress.map((r: any) => [r.from, ports(r)])).toEqual([
      [[{ podSelector: { matchLabels: SELECTOR } }], ['2379/TCP', '2380/TCP']],
      [[{ namespaceSelector: {}, podSelector: { matchLabels: { [ETCD_CLIENT_LABEL]: 'etcd' } } }], ['2379/TCP']],
    ]);
    expect(spec.egress.map((r: any) => [r.to[0].podSelector.matchLabels, ports(r)])).toEqual([
      [SELECTOR, ['2379/TCP', '2380/TCP']],
      [{ 'k8s-app': 'kube-dns' }, ['53/UDP', '53/TCP']],
    ]);
  });

  it('has typed outputs', () => {
    expect(cluster.clusterName).toBe('etcd');
    expect(cluster.namespace).toBe('production');
    expect(cluster.clientServiceHost).toBe('etcd-client.production.svc.cluster.local');
    expect(cluster.clientEndpoints).toEqual(['http://etcd-client.production.svc.cluster.local:2379']);
    expect(cluster.memberEndpoints).toEqual([0, 1, 2].map((i) => `http://etcd-${i}.etcd.production.svc.cluster.local:2379`));
    expect(cluster.tls).toEqual({ client: false, peer: false });
    expect(cluster.clientLabels).toEqual({ [ETCD_CLIENT_LABEL]: 'etcd' });
    expect(cluster.podSelector).toEqual(SELECTOR);
    expect(cluster.replicas).toBe(3);
    expect(cluster.serverDnsNames).toEqual(['etcd-client.production.svc.cluster.local', '*.etcd.production.svc.cluster.local']);
  });

  it('passes the manifest-quality suite, NetworkPolicy isolation included', () => {
    expect(qualityViolations(objects)).toEqual([]);
  });
});

describe.each([3, 5, 7])('EtcdCluster with %i members', (members) => {
  const { cluster, objects, statefulSet, container, flags } = synthCluster({ replicas: members });
  const names = Array.from({ length: members }, (_, i) => `etcd-${i}`);
  const peerUrl = (member: string) => `http://${member}.etcd.production.svc.cluster.local:2380`;

  it('runs that many members, started in parallel', () => {
    expect(statefulSet.spec.replicas).toBe(members);
    expect(statefulSet.spec.podManagementPolicy).toBe('Parallel');
    expect(cluster.memberEndpoints).toHaveLength(members);
  });

  it('bootstraps from an --initial-cluster listing exactly its members at their peer URLs', () => {
    expect(flags.get('initial-cluster')!.split(',')).toEqual(names.map((m) => `${m}=${peerUrl(m)}`));
    // Each pod's own advertised peer URL is its entry in --initial-cluster.
    for (const m of names) {
      expect(flags.get('initial-advertise-peer-urls')!.replace('$(POD_NAME)', m)).toBe(peerUrl(m));
    }
    expect(flags.get('initial-cluster-token')).toBe('etcd.production');
  });

  it('keeps a quorum through voluntary disruptions', () => {
    const pdb = findObject(objects, 'PodDisruptionBudget', 'etcd');
    expect(pdb.spec).toEqual({ maxUnavailable: 1, selector: { matchLabels: SELECTOR }, unhealthyPodEvictionPolicy: 'IfHealthyBudget' });
    const anti = statefulSet.spec.template.spec.affinity.podAntiAffinity;
    expect(anti.requiredDuringSchedulingIgnoredDuringExecution).toEqual([{ topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: SELECTOR } }]);
  });

  it('publishes unready members and probes the metrics port', () => {
    expect(findObject(objects, 'Service', 'etcd').spec.publishNotReadyAddresses).toBe(true);
    expect(container.readinessProbe.httpGet).toMatchObject({ port: 'metrics', path: '/readyz' });
    expect(container.livenessProbe.httpGet).toMatchObject({ port: 'metrics', path: '/livez' });
    expect(container.ports.map((p: any) => p.containerPort)).toEqual([2379, 2380, 8080]);
  });

  it('passes the manifest-quality suite', () => {
    expect(qualityViolations(objects)).toEqual([]);
  });
});

describe('EtcdCluster initial-cluster tokens', () => {
  it('differ between clusters whose names and namespaces join to the same string', () => {
    const token = (name: string, namespace: string) => synthCluster({ name }, namespace).flags.get('initial-cluster-token');
    expect(token('c', 'a-b')).not.toBe(token('b-c', 'a'));
  });
});

describe('EtcdCluster with TLS', () => {
  const tlsFlags = (flags: Map<string, string>) => [...flags.keys()].filter((f) => /(ca|cert|key)-file$|cert-auth$/.test(f));

  it('client TLS: HTTPS client URLs, client certificates required, peers and probes unchanged', () => {
    const { cluster, objects, statefulSet, container, flags } = synthCluster({ clientTls: { secretName: 'etcd-client-tls' } });
    expect(flags.get('listen-client-urls')).toBe('https://0.0.0.0:2379');
    expect(flags.get('advertise-client-urls')).toBe('https://$(POD_NAME).etcd.production.svc.cluster.local:2379');
    expect(flags.get('listen-peer-urls')).toBe('http://0.0.0.0:2380');
    expect(flags.get('listen-metrics-urls')).toBe('http://0.0.0.0:8080');
    expect(container.readinessProbe.httpGet.scheme).toBe('HTTP');
    expect(tlsFlags(flags)).toEqual(['trusted-ca-file', 'cert-file', 'key-file', 'client-cert-auth']);
    expect(flags.get('client-cert-auth')).toBe('true');
    expect(statefulSet.spec.template.spec.volumes).toEqual([{
      name: 'client-tls',
      secret: { secretName: 'etcd-client-tls', defaultMode: 0o440, items: [
        { key: 'ca.crt', path: 'ca.crt' }, { key: 'tls.crt', path: 'tls.crt' }, { key: 'tls.key', path: 'tls.key' }] },
    }]);
    const mount = container.volumeMounts.find((m: any) => m.name === 'client-tls');
    expect(mount.readOnly).toBe(true);
    expect(['trusted-ca-file', 'cert-file', 'key-file'].map((f) => flags.get(f))).toEqual(
      ['ca.crt', 'tls.crt', 'tls.key'].map((file) => `${mount.mountPath}/${file}`));
    expect(cluster.clientEndpoints).toEqual(['https://etcd-client.production.svc.cluster.local:2379']);
    expect(cluster.memberEndpoints[0]).toBe('https://etcd-0.etcd.production.svc.cluster.local:2379');
    expect(cluster.tls).toEqual({ client: true, peer: false });
    expect(objects.filter((o) => o.kind === 'Secret')).toEqual([]);
    expect(qualityViolations(objects)).toEqual([]);
  });

  it('peer TLS: HTTPS peer URLs everywhere, peer certificates required, clients unchanged', () => {
    const { cluster, statefulSet, container, flags } = synthCluster({ peerTls: { secretName: 'etcd-peer-tls' } });
    expect(flags.get('listen-peer-urls')).toBe('https://0.0.0.0:2380');
    expect(flags.get('initial-advertise-peer-urls')).toBe('https://$(POD_NAME).etcd.production.svc.cluster.local:2380');
    expect(flags.get('initial-cluster')!.split(',').every((m) => /^etcd-\d=https:\/\/etcd-\d\.etcd\.production\.svc\.cluster\.local:2380$/.test(m))).toBe(true);
    expect(flags.get('listen-client-urls')).toBe('http://0.0.0.0:2379');
    expect(tlsFlags(flags)).toEqual(['peer-trusted-ca-file', 'peer-cert-file', 'peer-key-file', 'peer-client-cert-auth']);
    expect(flags.get('peer-client-cert-auth')).toBe('true');
    expect(statefulSet.spec.template.spec.volumes.map((v: any) => [v.name, v.secret.secretName])).toEqual([['peer-tls', 'etcd-peer-tls']]);
    expect(container.volumeMounts.map((m: any) => m.name)).toEqual(['data', 'peer-tls']);
    expect(cluster.clientEndpoints[0].startsWith('http://')).toBe(true);
    expect(cluster.tls).toEqual({ client: false, peer: true });
  });

  it('both, with custom Secret keys mapped onto the files etcd reads', () => {
    const { statefulSet, flags } = synthCluster({
      clientTls: { secretName: 'etcd-server', caKey: 'client-ca.pem', certKey: 'server.pem', keyKey: 'server-key.pem' },
      peerTls: { secretName: 'etcd-peer' },
    });
    const volumes = statefulSet.spec.template.spec.volumes;
    expect(volumes.map((v: any) => v.name)).toEqual(['client-tls', 'peer-tls']);
    expect(volumes[0].secret.items).toEqual([
      { key: 'client-ca.pem', path: 'ca.crt' }, { key: 'server.pem', path: 'tls.crt' }, { key: 'server-key.pem', path: 'tls.key' },
    ]);
    expect(tlsFlags(flags)).toHaveLength(8);
    expect(flags.get('trusted-ca-file')).not.toBe(flags.get('peer-trusted-ca-file'));
  });
});

describe('EtcdCluster with every prop set', () => {
  const props: EtcdClusterProps = { ...EVERY_ETCD_PROP, namespace: 'discovery', clusterDomain: 'corp.example' };
  const { cluster, objects, statefulSet, container, flags } = synthCluster(props, 'default');

  it('matches the reviewed manifests', () => {
    expect(objects).toMatchSnapshot();
  });

  it('uses the given name, namespace and domain everywhere', () => {
    expect(kinds(objects)).toEqual([
      'NetworkPolicy/registry', 'PodDisruptionBudget/registry', 'Service/registry', 'Service/registry-client',
      'ServiceAccount/registry', 'StatefulSet/registry',
    ]);
    expect(objects.every((o) => o.metadata.namespace === 'discovery')).toBe(true);
    expect(flags.get('initial-cluster')!.split(',')[4]).toBe('registry-4=https://registry-4.registry.discovery.svc.corp.example:2380');
    expect(flags.get('initial-cluster-token')).toBe('registry.discovery');
    expect(cluster.clientEndpoints).toEqual(['https://registry-client.discovery.svc.corp.example:2379']);
    expect(cluster.clientLabels).toEqual({ [ETCD_CLIENT_LABEL]: 'registry' });
    expect(statefulSet.metadata.labels).toMatchObject({ team: 'platform', 'app.kubernetes.io/part-of': 'discovery-kit', 'app.kubernetes.io/version': '3.5.21-0' });
  });

  it('applies storage, quota, compaction, startup window, resources and identity', () => {
    const claim = statefulSet.spec.volumeClaimTemplates[0].spec;
    expect(claim).toMatchObject({ storageClassName: 'fast-ssd', resources: { requests: { storage: '20Gi' } } });
    expect(flags.get('quota-backend-bytes')).toBe(String(4 * 1024 ** 3));
    expect(flags.get('auto-compaction-retention')).toBe('1800s');
    expect(container.startupProbe.periodSeconds * container.startupProbe.failureThreshold).toBe(600);
    expect(container.resources).toEqual(props.resources);
    expect(statefulSet.spec.template.spec.securityContext).toMatchObject({ runAsUser: 20000, runAsGroup: 20000, fsGroup: 20000 });
  });

  it('passes the manifest-quality suite', () => {
    expect(qualityViolations(objects)).toEqual([]);
  });
});

describe('EtcdCluster with a single member for development', () => {
  it('needs the flag, warns, and has no PodDisruptionBudget', () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    try {
      const { objects, flags } = synthCluster({ replicas: 1, allowSingleMember: true });
      expect(warn).toHaveBeenCalledWith(expect.stringMatching(/EtcdCluster 'test\/etcd-cluster': a single etcd member tolerates no failure/),
        { code: 'DISCOVERY_KIT_WARNING' });
      expect(flags.get('initial-cluster')).toBe('etcd-0=http://etcd-0.etcd.production.svc.cluster.local:2380');
      expect(objects.filter((o) => o.kind === 'PodDisruptionBudget')).toEqual([]);
      expect(qualityViolations(objects)).toEqual([]);
    } finally {
      warn.mockRestore();
    }
  });

  it('does not warn for a 3-member cluster with client TLS', () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    try {
      synthCluster({ clientTls: { secretName: 'etcd-client-tls' } });
      expect(warn).not.toHaveBeenCalled();
    } finally {
      warn.mockRestore();
    }
  });

  it('warns that without client TLS any labelled pod can rewrite registrations', () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    try {
      synthCluster();
      expect(warn).toHaveBeenCalledWith(expect.stringMatching(/client TLS is off: any pod labelled discovery-kit.io\/etcd-client=etcd can read and overwrite every key/),
        { code: 'DISCOVERY_KIT_WARNING' });
    } finally {
      warn.mockRestore();
    }
  });
});

// The generated flags are a working configuration: three real etcd processes form a cluster
// with them, after only hostnames and ports are rewritten to loopback.
const run = promisify(execFile);

describe('the generated flags on three real etcd processes', () => {
  const members = ['etcd-0', 'etcd-1', 'etcd-2'];
  const processes: ChildProcess[] = [];
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin' }; // no ETCD_* variable may leak in as a flag
  let workDir: string;
  let args: string[];
  let ports: Record<number, number>[];
  let endpoints: string;

  const etcdctl = async (...command: string[]) =>
    JSON.parse((await run('etcdctl', [`--endpoints=${endpoints}`, '-w', 'json', ...command], { env, timeout: 3000 })).stdout);
  const logs = () => members.map((m) => `--- ${m}\n${readFileSync(join(workDir, `${m}.log`), 'utf8').slice(-2000)}`).join('\n');

  beforeAll(async () => {
    args = synthCluster().container.args;
    workDir = mkdtempSync(join(tmpdir(), 'etcd-cluster-test-'));
    const free = await freePorts(members.length * 3);
    ports = members.map((_, i) => ({ 2379: free[3 * i], 2380: free[3 * i + 1], 8080: free[3 * i + 2] }));
    endpoints = ports.map((p) => `http://127.0.0.1:${p[2379]}`).join(',');
    members.forEach((member, i) => {
      const log = openSync(join(workDir, `${member}.log`), 'w');
      processes.push(spawn('etcd', loopbackArgs(args, i, ports, join(workDir, member)), { env, stdio: ['ignore', log, log] }));
      closeSync(log);
    });
    const deadline = Date.now() + 15_000;
    for (;;) {
      try {
        await etcdctl('endpoint', 'health');
        return;
      } catch (error) {
        const exited = processes.some((p) => p.exitCode !== null);
        if (exited || Date.now() > deadline) throw new Error(`etcd cluster did not form${exited ? ': a member exited' : ' within 15s'}: ${error}\n${logs()}`);
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    }
  }, 20_000);

  afterAll(async () => {
    await Promise.all(processes.map(stop));
    rmSync(workDir, { recursive: true, force: true });
  });

  it('knows every generated flag (Debian ships 3.4; it lacks none of them, so none is dropped)', () => {
    const help = spawnSync('etcd', ['--help'], { encoding: 'utf8' });
    const known = new Set((help.stdout + help.stderr).match(/--[a-z0-9-]+/g));
    expect(args.map((arg) => arg.slice(0, arg.indexOf('='))).filter((flag) => !known.has(flag))).toEqual([]);
  });

  it('forms one cluster of exactly the three members at their advertised URLs', async () => {
    const list = await etcdctl('member', 'list');
    expect(list.members.map((m: any) => [m.name, m.peerURLs, m.clientURLs]).sort()).toEqual(members.map((m, i) => [
      m, [`http://127.0.0.1:${ports[i][2380]}`], [`http://127.0.0.1:${ports[i][2379]}`],
    ]));
  });

  it('reports every member healthy and serves /health on the plain-HTTP metrics listener', async () => {
    const health = await etcdctl('endpoint', 'health');
    expect(health.map((h: any) => h.health)).toEqual([true, true, true]);
    // 3.4 has no /livez or /readyz (3.5.12+), which the Kubernetes probes use; /health is the same listener.
    for (const p of ports) {
      expect(await (await fetch(`http://127.0.0.1:${p[8080]}/health`)).json()).toMatchObject({ health: 'true' });
    }
  });
});

/** The generated args for member `index`, with every member's DNS name and port mapped to its loopback port. */
function loopbackArgs(args: readonly string[], index: number, ports: readonly Record<number, number>[], dataDir: string): string[] {
  return args.map((arg) => {
    if (arg.startsWith('--data-dir=')) return `--data-dir=${dataDir}`;
    return arg.replaceAll('$(POD_NAME)', `etcd-${index}`).replace(/(https?):\/\/([^:/,]+):(\d+)/g, (_url, scheme, host, port) => {
      const owner = host === '0.0.0.0' ? index : Number(/^etcd-(\d)\.etcd\.production\.svc\.cluster\.local$/.exec(host)?.[1] ?? NaN);
      const loopbackPort = ports[owner]?.[Number(port)];
      if (loopbackPort === undefined) throw new Error(`unexpected address ${host}:${port} in ${arg}`);
      return `${scheme}://127.0.0.1:${loopbackPort}`;
    });
  });
}

async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(Array.from({ length: count }, () => new Promise<Server>((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server));
  })));
  const ports = servers.map((s) => (s.address() as AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}

/**
 * SIGKILL, and wait for the exit: the data is deleted next, and a graceful stop of all three
 * at once takes seconds (the leader tries to hand over to a member that is stopping too).
 */
async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}
