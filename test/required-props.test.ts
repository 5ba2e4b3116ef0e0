import { join } from 'node:path';
import { Chart, Cron, Duration, Testing } from 'cdk8s';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import {
  ConsulAgentRegistration, ConsulAgentToken, ConsulBootstrap, ConsulCatalogSync, ConsulCluster, ConsulServiceDefaults, ConsulServiceIntentions, ConsulServiceResolver,
  ConsulServiceToken, ConsulSnapshotSchedule, DiscoverableService, DiscoveryKitValidationError, EtcdCluster, EtcdLeaseRegistration, EtcdSnapshotSchedule,
  ExternalService, GossipEncryption, MeshProtocol, PodNetworkPolicy, RestrictedNamespace,
} from '../lib';

/**
 * Apps run under tsx, which does not type-check: a missing required prop must still get a
 * DiscoveryKitValidationError naming the field, never a raw TypeError. The required fields
 * come from the TypeScript declarations themselves, so a new required prop is covered
 * the day it is added.
 */

const IMAGE = 'ghcr.io/acme/payment-service:1.8.2';
const AGENT = {
  url: 'http://consul-agent.consul.svc.cluster.local:8500', port: 8500, clusterName: 'consul', namespace: 'consul',
  podSelector: { 'app.kubernetes.io/name': 'consul' },
};
const ETCD = {
  clientEndpoints: ['https://etcd-client.etcd.svc.cluster.local:2379'], clusterName: 'etcd', namespace: 'etcd',
  podSelector: { 'app.kubernetes.io/name': 'etcd' }, clientPort: 2379,
};

type Build = (chart: Chart, props: any) => void;

/** A valid baseline per Props interface, with every optional object that has required fields of its own. */
const CASES: Record<string, { baseline: Record<string, unknown>; build: Build }> = {
  DiscoverableServiceProps: {
    baseline: {
      image: IMAGE, ports: [{ name: 'http', port: 8080 }], secretEnv: { DB_PASSWORD: { secretName: 'db', key: 'password' } },
      circuitBreaker: { protocol: MeshProtocol.HTTP },
      meshControlPlane: { clusterName: 'consul', namespace: 'consul', podSelector: { 'app.kubernetes.io/name': 'consul' }, grpcPort: 8502, httpPort: 8500 },
    },
    build: (chart, props) => new DiscoverableService(chart, 'payment-service', props),
  },
  ConsulClusterProps: {
    baseline: {
      gossipEncryption: GossipEncryption.disabled(),
      acl: { tokensSecret: { secretName: 'consul-acl-tokens', key: 'tokens.json' } },
      tls: { ca: { secretName: 'consul-ca', key: 'tls.crt' }, serverCertificate: { secretName: 'consul-server-tls' }, agentCertificate: { secretName: 'consul-agent-tls' } },
      consulK8s: { namespace: 'consul-k8s', apiServer: [{ ipBlock: { cidr: '192.0.2.10/32' } }], bootstrapToken: { secretName: 'consul-bootstrap-token', key: 'token' } },
    },
    build: (chart, props) => new ConsulCluster(chart, 'consul', props),
  },
  EtcdClusterProps: {
    baseline: { clientTls: { secretName: 'etcd-client-tls' }, peerTls: { secretName: 'etcd-peer-tls' } },
    build: (chart, props) => new EtcdCluster(chart, 'etcd', props),
  },
  ConsulAgentRegistrationProps: {
    baseline: { agent: AGENT, aclToken: ConsulAgentToken.fromSecret({ secretName: 'payment-token', key: 'token' }), caCert: { secretName: 'consul-ca', key: 'ca.crt' } },
    build: (chart, props) => new DiscoverableService(chart, 'payment-service', { image: IMAGE, registration: new ConsulAgentRegistration(props) }),
  },
  ConsulCatalogSyncProps: {
    baseline: {},
    build: (chart, props) => new DiscoverableService(chart, 'payment-service', { image: IMAGE, registration: new ConsulCatalogSync(props) }),
  },
  EtcdLeaseRegistrationProps: {
    baseline: { cluster: ETCD, clientTls: { secretName: 'etcd-client' } },
    build: (chart, props) => new DiscoverableService(chart, 'payment-service', { image: IMAGE, registration: new EtcdLeaseRegistration(props) }),
  },
  ConsulServiceDefaultsProps: {
    baseline: { protocol: MeshProtocol.HTTP, upstreamDefaults: { connectTimeout: Duration.seconds(5) } },
    build: (chart, props) => new ConsulServiceDefaults(chart, 'payment-service', props),
  },
  ConsulServiceResolverProps: {
    baseline: { protocol: MeshProtocol.HTTP, connectTimeout: Duration.seconds(3) },
    build: (chart, props) => new ConsulServiceResolver(chart, 'payment-service', props),
  },
  ConsulServiceIntentionsProps: {
    baseline: { allowedSources: ['order-service'] },
    build: (chart, props) => new ConsulServiceIntentions(chart, 'payment-service', props),
  },
  ConsulBootstrapProps: {
    baseline: {
      cluster: {
        clusterName: 'consul', namespace: 'consul', clusterDomain: 'cluster.local', datacenter: 'dc1', domain: 'consul',
        serverPodSelector: { 'app.kubernetes.io/name': 'consul' }, meshControlPlane: { httpPort: 8500 }, tlsDnsNames: { server: ['server.dc1.consul'] },
      },
      apiServer: [{ ipBlock: { cidr: '192.0.2.10/32' } }],
      tls: true,
      caCert: { secretName: 'consul-ca', key: 'ca.crt' },
      secrets: { gossipKey: { secretName: 'gossip', key: 'key' }, caKey: { secretName: 'ca-key' } },
    },
    build: (chart, props) => new ConsulBootstrap(chart, 'bootstrap', props),
  },
  ConsulServiceTokenProps: {
    baseline: {
      bootstrap: { clusterName: 'consul', namespace: 'consul', serviceAccountName: 'consul-bootstrap' },
      serviceName: 'payment-service', namespace: 'production', secret: { secretName: 'payment-token', key: 'token' },
    },
    build: (chart, props) => new ConsulServiceToken(chart, 'token', props),
  },
  RestrictedNamespaceProps: {
    baseline: {},
    build: (chart, props) => new RestrictedNamespace(chart, 'production', props),
  },
  ExternalServiceProps: {
    baseline: { ports: [{ name: 'postgres', port: 5432 }], externalName: 'db.example.com', egress: [{ ipBlock: { cidr: '192.0.2.0/24' } }] },
    build: (chart, props) => new ExternalService(chart, 'ledger-db', props),
  },
  ConsulSnapshotScheduleProps: {
    baseline: {
      cluster: ConsulCluster.fromAttributes({ name: 'consul', namespace: 'consul', tls: true }), schedule: Cron.hourly(),
      aclToken: { secretName: 'consul-snapshot-token', key: 'token' }, caCertificate: { secretName: 'consul-ca', key: 'ca.crt' }, sink: { claimName: 'backups' },
    },
    build: (chart, props) => new ConsulSnapshotSchedule(chart, 'snapshots', props),
  },
  EtcdSnapshotScheduleProps: {
    baseline: { cluster: ETCD, schedule: Cron.hourly(), clientTls: { secretName: 'etcd-snapshot-client' }, sink: { claimName: 'backups' } },
    build: (chart, props) => new EtcdSnapshotSchedule(chart, 'snapshots', props),
  },
  PodNetworkPolicyProps: {
    baseline: { name: 'payment-service', namespace: 'production', labels: { app: 'payment' }, podSelector: { app: 'payment' } },
    build: (chart, props) => new PodNetworkPolicy(chart, 'policy', props),
  },
};

/** Props interfaces users never construct directly (built by factories), with the reason. */
const NOT_USER_FACING: Record<string, string> = {
  HealthSpecProps: 'HealthSpec has a private constructor; HealthSpec.http() and friends fill every required field',
  ConsulConfigEntryProps: 'a base of ConsulServiceDefaultsProps and ConsulServiceResolverProps, covered through them',
  SnapshotScheduleProps: 'a base of ConsulSnapshotScheduleProps and EtcdSnapshotScheduleProps, covered through them',
};

const program = ts.createProgram([join(__dirname, '..', 'lib', 'index.ts')], { strict: true, skipLibCheck: true });
const checker = program.getTypeChecker();
const libDir = join(__dirname, '..', 'lib');
const exports = checker.getExportsOfModule(checker.getSymbolAtLocation(program.getSourceFile(join(libDir, 'index.ts'))!)!);

/** The interface declared in lib/ that `type` is, if any. */
function libInterface(type: ts.Type): ts.Type | undefined {
  const declarations = type.getSymbol()?.getDeclarations() ?? [];
  return declarations.some((d) => ts.isInterfaceDeclaration(d) && d.getSourceFile().fileName.startsWith(libDir)) ? type : undefined;
}

/** Paths of required fields in `type`, recursing into lib/ interfaces, array items and record values. */
function requiredPaths(type: ts.Type, prefix: string[] = []): string[][] {
  // Methods (an interface's bind()) are implemented, not passed as data.
  return checker.getPropertiesOfType(type).filter((p) => !(p.flags & ts.SymbolFlags.Method)).flatMap((property) => {
    const path = [...prefix, property.name];
    const propertyType = checker.getNonNullableType(checker.getTypeOfSymbol(property));
    const own = property.flags & ts.SymbolFlags.Optional ? [] : [path];
    const item = checker.isArrayType(propertyType)
      ? { type: checker.getTypeArguments(propertyType as ts.TypeReference)[0], segment: '0' }
      : propertyType.getStringIndexType() ? { type: propertyType.getStringIndexType()!, segment: '*' } : undefined;
    const nested = item ? libInterface(item.type) && requiredPaths(item.type, [...path, item.segment])
      : libInterface(propertyType) && requiredPaths(propertyType, path);
    return [...own, ...(nested || [])];
  });
}

/** A copy of `value` without the field at `path` ('*' is a record's first key). */
function without(value: any, path: string[]): any {
  const [head, ...rest] = path;
  const key = head === '*' ? Object.keys(value)[0] : head;
  const copy = Array.isArray(value) ? [...value] : { ...value };
  if (rest.length === 0) delete copy[key];
  else copy[key] = without(value[key], rest);
  return copy;
}

function hasParent(value: any, path: string[]): boolean {
  for (const segment of path.slice(0, -1)) {
    if (value === null || typeof value !== 'object') return false;
    value = value[segment === '*' ? Object.keys(value)[0] : segment];
  }
  return value !== null && typeof value === 'object';
}

/** The field as error messages spell it: `ports[0].name`, `secretEnv.DB_PASSWORD.key`. */
function fieldOf(path: string[], baseline: any): string {
  let value = baseline;
  return path.reduce((field, segment) => {
    const key = segment === '*' ? Object.keys(value)[0] : segment;
    value = value[key];
    if (/^\d+$/.test(key)) return `${field}[${key}]`;
    return field ? `${field}.${key}` : key;
  }, '');
}

describe('every required prop, when missing, fails with a DiscoveryKitValidationError naming it', () => {
  const propsInterfaces = exports.map((s) => s.name).filter((name) => name.endsWith('Props'));

  it('covers every exported Props interface', () => {
    expect(propsInterfaces.filter((name) => !(name in CASES) && !(name in NOT_USER_FACING))).toEqual([]);
  });

  const all = Object.entries(CASES).flatMap(([name, { baseline, build }]) => {
    const symbol = exports.find((s) => s.name === name);
    if (!symbol) throw new Error(`${name} is not exported from lib/index.ts`);
    return requiredPaths(checker.getDeclaredTypeOfSymbol(symbol)).map((path) => ({ name, path, baseline, build }));
  });
  // A required field of an optional object counts where the baseline has that object.
  const rows = all.filter((r) => hasParent(r.baseline, r.path));

  it('has a baseline for every object with required fields', () => {
    expect(all.filter((r) => !hasParent(r.baseline, r.path)).map((r) => `${r.name}:${r.path.join('.')}`)).toEqual([]);
  });

  it('finds the required fields (the scan itself works)', () => {
    const found = rows.map((r) => `${r.name}:${r.path.join('.')}`);
    expect(found).toEqual(expect.arrayContaining([
      'DiscoverableServiceProps:image', 'DiscoverableServiceProps:ports.0.name', 'DiscoverableServiceProps:secretEnv.*.key',
      'ConsulClusterProps:gossipEncryption', 'ConsulAgentRegistrationProps:agent', 'ConsulAgentRegistrationProps:agent.url',
      'EtcdLeaseRegistrationProps:cluster', 'ConsulServiceResolverProps:protocol',
    ]));
  });

  it('builds every baseline', () => {
    for (const { baseline, build } of Object.values(CASES)) build(new Chart(Testing.app(), 'test', { namespace: 'production' }), baseline);
  });

  it.each(rows.map((r) => [`${r.name} without ${fieldOf(r.path, r.baseline)}`, r] as const))('%s', (_title, row) => {
    const chart = new Chart(Testing.app(), 'test', { namespace: 'production' });
    let error: unknown;
    try {
      row.build(chart, without(row.baseline, row.path));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(DiscoveryKitValidationError);
    const field = fieldOf(row.path, row.baseline);
    expect((error as DiscoveryKitValidationError).field).toMatch(new RegExp(`(^|\\.)${field.replace(/[.[\]]/g, '\\$&')}$`));
    expect((error as Error).message).toContain(`${field} = undefined is invalid: `);
  });
});
