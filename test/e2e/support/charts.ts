import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { App, Chart, Duration, Testing, Yaml } from 'cdk8s';
import fc from 'fast-check';
import {
  ConsulAgentRegistration, ConsulAgentToken, ConsulCatalogSync, ConsulCluster, DiscoverableService, EtcdCluster, EtcdLeaseRegistration, ExternalService, Gateway,
  GossipEncryption, HealthSpec, MeshProtocol, RestrictedNamespace, TrafficDistribution,
} from '../../../lib';
import { EVERY_CONSUL_PROP, EVERY_ETCD_PROP, EVERY_SERVICE_PROP } from '../../support/every-prop';
import type { KubeObject } from '../../support/schema';
import { validServiceProps } from '../../support/service-props';
import { synthChart } from '../../support/synth';

/** The objects of one synthesized chart, under the name tests report it by. */
export interface SynthesizedChart {
  readonly name: string;
  readonly objects: KubeObject[];
}

const DIST = join(__dirname, '..', '..', '..', 'dist');

/** Every committed dist/*.k8s.yaml (a unit test keeps them equal to a fresh `npm run synth`). */
export function distCharts(): SynthesizedChart[] {
  return readdirSync(DIST).filter((f) => f.endsWith('.k8s.yaml')).sort()
    .map((file) => ({ name: `dist/${file}`, objects: Yaml.load(join(DIST, file)) as KubeObject[] }));
}

/** How many generated services the `rep-generated` chart holds. */
const GENERATED_SERVICES = 12;

export const GOSSIP = GossipEncryption.fromSecret({ secretName: 'consul-gossip-key', key: 'key' });
const CONSUL_ACL = { tokensSecret: { secretName: 'consul-acl-tokens', key: 'tokens.json' } };
const CONSUL_TLS = {
  ca: { secretName: 'consul-ca', key: 'ca.crt' },
  serverCertificate: { secretName: 'consul-server-tls' },
  agentCertificate: { secretName: 'consul-agent-tls' },
};

/** A chart whose namespace enforces Pod Security "restricted", like every chart of the example. */
export function restrictedChart(app: App, namespace: string): Chart {
  const chart = new Chart(app, namespace, { namespace, disableResourceNameHashes: true });
  new RestrictedNamespace(chart, 'namespace', { name: namespace });
  return chart;
}

/**
 * One chart per main variant of each construct, beyond what the example covers: ConsulCluster
 * with defaults, with TLS and ACLs, as a development single server and with every prop;
 * EtcdCluster with defaults, with client and peer TLS and with every prop; DiscoverableService
 * with every registration type (none, Consul agent over TLS with an ACL token, consul-k8s
 * catalog sync, etcd lease over TLS), discover() bindings between them, every prop set, and
 * in the Consul mesh with circuit breaking; and services from generated props (the unit
 * property test's generator, a fixed sample). Each chart has its own restricted namespace, so
 * all of them can live in one API server at once.
 */
export function representativeCharts(): SynthesizedChart[] {
  const app = Testing.app();
  new ConsulCluster(restrictedChart(app, 'rep-consul'), 'consul', { gossipEncryption: GOSSIP });
  const consulTls = new ConsulCluster(restrictedChart(app, 'rep-consul-tls'), 'consul', {
    gossipEncryption: GOSSIP, acl: CONSUL_ACL, tls: CONSUL_TLS, runAsUser: 10100, runAsGroup: 10100,
  });
  new ConsulCluster(restrictedChart(app, 'rep-consul-dev'), 'consul', { gossipEncryption: GOSSIP, developmentSingleServer: true });
  new ConsulCluster(restrictedChart(app, 'rep-consul-full'), 'registry', {
    ...EVERY_CONSUL_PROP,
    gossipEncryption: GOSSIP,
    // The example's Consul DNS has 10.96.0.53; ClusterIPs are unique across the cluster.
    dnsClusterIp: '10.96.0.153',
  });

  new EtcdCluster(restrictedChart(app, 'rep-etcd'), 'etcd');
  const etcdTls = new EtcdCluster(restrictedChart(app, 'rep-etcd-tls'), 'etcd', {
    clientTls: { secretName: 'etcd-client-tls' }, peerTls: { secretName: 'etcd-peer-tls' },
  });
  new EtcdCluster(restrictedChart(app, 'rep-etcd-full'), 'registry', EVERY_ETCD_PROP);

  const services = restrictedChart(app, 'rep-services');
  const plain = new DiscoverableService(services, 'plain-service', { image: 'ghcr.io/acme/plain-service:1.0.0', trafficDistribution: TrafficDistribution.PREFER_SAME_NODE });
  const agentRegistered = new DiscoverableService(services, 'payment-service', {
    image: 'ghcr.io/acme/payment-service:1.8.2',
    ports: [{ name: 'http', port: 80, containerPort: 8080 }, { name: 'grpc', port: 9090, appProtocol: 'grpc' }],
    registration: new ConsulAgentRegistration({
      agent: consulTls.agent, tags: ['v1'], meta: { team: 'payments' },
      aclToken: ConsulAgentToken.fromSecret({ secretName: 'payment-service-consul-token', key: 'token' }),
      caCert: { secretName: 'consul-ca', key: 'ca.crt' },
    }),
  });
  const catalogSynced = new DiscoverableService(services, 'catalog-service', {
    image: 'ghcr.io/acme/catalog-service:4.0.1',
    trafficDistribution: TrafficDistribution.PREFER_SAME_ZONE,
    registration: new ConsulCatalogSync({ tags: ['v4'], meta: { team: 'catalog' } }),
  });
  const leaseRegistered = new DiscoverableService(services, 'user-service', {
    image: 'ghcr.io/acme/user-service:0.9.4',
    health: HealthSpec.http({ startup: { maxStartupTime: Duration.seconds(180) } }),
    registration: new EtcdLeaseRegistration({ cluster: etcdTls, tags: ['v1'], clientTls: { secretName: 'user-service-etcd-client' } }),
  });
  for (const target of [agentRegistered, catalogSynced, leaseRegistered]) plain.discover(target);
  new DiscoverableService(services, 'construct-id', EVERY_SERVICE_PROP);

  // A Gateway that keeps its routes in its own namespace: the routes cross namespaces to the
  // Services, which ReferenceGrants allow; and an ExternalName target.
  restrictedChart(app, 'rep-gateway');
  const exposed = restrictedChart(app, 'rep-exposed');
  const edge = Gateway.fromAttributes({
    name: 'edge', namespace: 'rep-gateway', sectionName: 'https', routeNamespace: 'rep-gateway',
    podSelector: { 'gateway.networking.k8s.io/gateway-name': 'edge' },
  });
  const api = new DiscoverableService(exposed, 'api-service', {
    image: 'ghcr.io/acme/api-service:1.0.0',
    ports: [{ name: 'http', port: 8080 }, { name: 'grpc', port: 9090, appProtocol: 'grpc' }],
  });
  api.exposeVia(edge, { hostnames: ['api.example.com', '*.api.example.com'], matches: [{ pathPrefix: '/v1', method: 'GET', headers: { 'x-tenant': 'acme' } }] });
  api.exposeVia(edge, { port: 'grpc', matches: [{ grpcService: 'api.v1.Api', grpcMethod: 'Get' }] });
  api.discover(new ExternalService(exposed, 'fraud-api', {
    ports: [{ name: 'https', port: 443, appProtocol: 'https' }], externalName: 'fraud.example.com', egress: [{ ipBlock: { cidr: '198.51.100.0/24' } }],
  }));

  const mesh = restrictedChart(app, 'rep-mesh');
  const inventory = new DiscoverableService(mesh, 'inventory-service', {
    image: 'ghcr.io/acme/inventory-service:3.2.1',
    meshControlPlane: consulTls.meshControlPlane,
    circuitBreaker: {
      protocol: MeshProtocol.HTTP,
      resolver: { connectTimeout: Duration.seconds(3), requestTimeout: Duration.seconds(20), failover: { datacenters: ['dc2'] } },
    },
  });
  const checkout = new DiscoverableService(mesh, 'checkout-service', {
    image: 'ghcr.io/acme/checkout-service:1.4.0',
    meshControlPlane: consulTls.meshControlPlane,
    circuitBreaker: {
      protocol: MeshProtocol.HTTP,
      overrides: { 'inventory-service': { limits: { maxConnections: 100, maxPendingRequests: 50 } } },
    },
  });
  checkout.discover(inventory);

  const generated = restrictedChart(app, 'rep-generated');
  const names = new Set<string>();
  for (const props of fc.sample(validServiceProps, { numRuns: GENERATED_SERVICES, seed: 20_260_101 })) {
    if (!names.has(props.name!)) new DiscoverableService(generated, props.name!, props);
    names.add(props.name!);
  }

  return app.charts.map((chart) => ({ name: chart.node.id, objects: synthChart(chart) }));
}

/** `Kind namespace/name`, the way failures name an object. */
export function refOf(o: KubeObject): string {
  return `${o.kind} ${o.metadata.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata.name}`;
}

/**
 * A clean DiscoverableService `svc` in its own restricted namespace `namespace`, as plain
 * objects a test may break one thing in (a fresh copy on every call).
 */
export function cleanService(namespace: string): KubeObject[] {
  const chart = restrictedChart(Testing.app(), namespace);
  new DiscoverableService(chart, 'svc', { image: 'ghcr.io/acme/svc:1.0.0' });
  return synthChart(chart);
}
