import { App, Chart, Cron, Duration } from 'cdk8s';
import { k8s } from 'cdk8s-plus-27';
import {
  ConsulAgentToken, ConsulBootstrap, ConsulCluster, ConsulSnapshotSchedule, consulBootstrapSecrets, DiscoverableService, EtcdCluster, EtcdSnapshotSchedule, ExternalService, Gateway, GossipEncryption, MeshProtocol,
  RestrictedNamespace,
} from '../lib';
import { SHOP_SERVICE_DEFAULTS, ShopServiceName, ShopServiceSettings, defineShop } from './shop';

/**
 * The example discovery setup that `cdk8s synth` writes to dist/: a Consul cluster in a
 * restricted `consul` namespace, an etcd cluster in `etcd`, and three services in a
 * restricted `production` namespace. payment-service and order-service register with
 * Consul (payment-service also sits in the mesh with circuit breaking); user-service
 * registers in etcd; order-service discovers payment-service and the ledger database outside
 * the cluster; the platform's `edge` Gateway routes shop.example.com/payments to
 * payment-service. `services` sets the shop's image tags and replicas (the next release of
 * the example changes them).
 */
export function buildExampleApp(app: App, services: Record<ShopServiceName, ShopServiceSettings> = SHOP_SERVICE_DEFAULTS): App {
  const consul = addConsulChart(app);
  const etcd = addEtcdChart(app);
  const production = new Chart(app, 'production', { namespace: 'production', disableResourceNameHashes: true });
  new RestrictedNamespace(production, 'production');
  // Each registering service asks the platform's bootstrap for its token: nobody keeps a list.
  const bootstrap = ConsulBootstrap.fromAttributes({ clusterName: consul.clusterName, namespace: consul.namespace });
  const shop = defineShop(production, { services, consulAgent: consul.agent, consulToken: () => ConsulAgentToken.fromBootstrap(bootstrap), etcd });
  // The platform's Gateway (Envoy Gateway here: its proxies carry the owning-gateway label).
  const edge = Gateway.fromAttributes({
    name: 'edge', namespace: 'gateway', podNamespace: 'envoy-gateway-system',
    podSelector: { 'gateway.envoyproxy.io/owning-gateway-name': 'edge' },
  });
  shop['payment-service'].exposeVia(edge, { hostnames: ['shop.example.com'], matches: [{ pathPrefix: '/payments' }] });
  // A database outside the cluster, at fixed (example) addresses.
  const ledger = new ExternalService(production, 'ledger-db', {
    ports: [{ name: 'postgres', port: 5432, appProtocol: 'postgresql' }],
    addresses: ['192.0.2.20', '192.0.2.21'],
    partOf: 'shop',
  });
  shop['order-service'].discover(ledger);
  addMeshChart(app, consul);
  return app;
}

/**
 * The `consul` chart: 3 servers and node-local agents, the bootstrap Job that generates the
 * gossip key and writes every ACL token, and an hourly snapshot (README, "Backup and restore").
 */
export function addConsulChart(app: App): ConsulCluster {
  const chart = new Chart(app, 'consul', { namespace: 'consul', disableResourceNameHashes: true });
  new RestrictedNamespace(chart, 'namespace', { name: 'consul' });
  // Every Secret the cluster reads is made by the bootstrap Job below: nothing to create by hand.
  const secrets = consulBootstrapSecrets('consul');
  const consul = new ConsulCluster(chart, 'consul', {
    replicas: 3,
    gossipEncryption: GossipEncryption.fromSecret(secrets.gossipKey),
    // Any non-root ids work (every writable path is a volume owned through fsGroup); >= 10000 per kube-score.
    runAsUser: 10100,
    runAsGroup: 10100,
    // Pinned so CoreDNS can forward `.consul` to it; an address in kubeadm's default
    // Service CIDR (10.96.0.0/12): pick a free one from yours.
    dnsClusterIp: '10.96.0.53',
    // The agent and DNS tokens the bootstrap writes; the pods pick them up without a restart.
    acl: { tokensSecret: secrets.aclTokens },
    // consul-k8s runs the mesh of the `mesh` chart; its servers review tokens with the API
    // server at this (example) address: `kubectl get endpoints kubernetes` shows yours.
    consulK8s: { namespace: 'consul-k8s', apiServer: API_SERVER },
    partOf: 'service-discovery',
  });
  // Generates the gossip key, bootstraps ACLs and writes every token (agents, DNS, snapshots,
  // and each registering service's), once and then every 5 minutes, idempotently.
  new ConsulBootstrap(chart, 'bootstrap', {
    cluster: consul,
    apiServer: API_SERVER,
    snapshotToken: true,
    runAsUser: 10100,
    runAsGroup: 10100,
    partOf: 'service-discovery',
  });
  // Two days of hourly snapshots, with the bootstrap's snapshot token.
  new ConsulSnapshotSchedule(chart, 'snapshots', {
    cluster: consul,
    schedule: Cron.schedule({ minute: '17' }),
    retain: 48,
    aclToken: secrets.snapshotToken,
    runAsUser: 10100,
    partOf: 'service-discovery',
  });
  return consul;
}

/**
 * The `mesh` chart: checkout-service calls inventory-service through the Consul service mesh
 * with circuit breaking (connection limits and outlier detection on that upstream). Apply it
 * only where consul-k8s runs: ServiceDefaults are its CRDs, and its CNI plugin keeps the
 * injected pods within Pod Security "restricted".
 */
export function addMeshChart(app: App, consul: ConsulCluster): void {
  const chart = new Chart(app, 'mesh', { namespace: 'mesh', disableResourceNameHashes: true });
  new RestrictedNamespace(chart, 'namespace', { name: 'mesh' });
  const inventory = new DiscoverableService(chart, 'inventory-service', {
    image: 'ghcr.io/acme/inventory-service:3.2.1',
    replicas: 3,
    partOf: 'shop',
    meshControlPlane: consul.meshControlPlane,
    circuitBreaker: { protocol: MeshProtocol.HTTP },
  });
  const checkout = new DiscoverableService(chart, 'checkout-service', {
    image: 'ghcr.io/acme/checkout-service:1.4.0',
    replicas: 2,
    partOf: 'shop',
    meshControlPlane: consul.meshControlPlane,
    circuitBreaker: {
      protocol: MeshProtocol.HTTP,
      overrides: {
        'inventory-service': {
          connectTimeout: Duration.seconds(2),
          limits: { maxConnections: 200, maxPendingRequests: 100, maxConcurrentRequests: 100 },
          passiveHealthCheck: { interval: Duration.seconds(10), maxFailures: 5, enforcingConsecutive5xx: 100, maxEjectionPercent: 50, baseEjectionTime: Duration.seconds(30) },
        },
      },
    },
  });
  checkout.discover(inventory);
}

/** The Kubernetes API server's endpoints (`kubectl get endpoints kubernetes` shows yours): NetworkPolicies see them after DNAT. */
const API_SERVER: k8s.NetworkPolicyPeer[] = [{ ipBlock: { cidr: '10.0.0.10/32' } }];

/** The platform's Prometheus, which may scrape the registries' metrics. */
const PROMETHEUS: k8s.NetworkPolicyPeer = {
  namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } },
  podSelector: { matchLabels: { 'app.kubernetes.io/name': 'prometheus' } },
};

/**
 * The `etcd` chart: a 3-member etcd cluster with client and peer TLS that services register in
 * with leases, and an hourly snapshot taken with a client certificate of its own.
 */
export function addEtcdChart(app: App): EtcdCluster {
  const chart = new Chart(app, 'etcd', { namespace: 'etcd', disableResourceNameHashes: true });
  new RestrictedNamespace(chart, 'namespace', { name: 'etcd' });
  const etcd = new EtcdCluster(chart, 'etcd', {
    replicas: 3,
    partOf: 'service-discovery',
    // Certificates for the members (their names: cluster.serverDnsNames) and their CA.
    clientTls: { secretName: 'etcd-client-tls' },
    peerTls: { secretName: 'etcd-peer-tls' },
    metricsScrapers: [PROMETHEUS],
  });
  new EtcdSnapshotSchedule(chart, 'snapshots', {
    cluster: etcd,
    schedule: Cron.schedule({ minute: '47' }),
    retain: 48,
    clientTls: { secretName: 'etcd-snapshot-client-tls' },
    partOf: 'service-discovery',
  });
  return etcd;
}

/** The Consul cluster of an app built by {@link buildExampleApp}. */
export function consulClusterOf(app: App): ConsulCluster {
  const cluster = app.node.tryFindChild('consul')?.node.tryFindChild('consul');
  if (!(cluster instanceof ConsulCluster)) throw new Error("the app has no Consul cluster at 'consul/consul': build it with buildExampleApp");
  return cluster;
}
