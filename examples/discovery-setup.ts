import { App, Chart } from 'cdk8s';
import { ConsulCluster, EtcdCluster, GossipEncryption, RestrictedNamespace } from '../lib';
import { SHOP_SERVICE_DEFAULTS, defineShop } from './shop';

/**
 * The example discovery setup that `cdk8s synth` writes to dist/: a Consul cluster in a
 * restricted `consul` namespace, an etcd cluster in `etcd`, and three services in a
 * restricted `production` namespace. payment-service and order-service register with
 * Consul (payment-service also sits in the mesh with circuit breaking); user-service
 * registers in etcd; order-service discovers payment-service.
 */
export function buildExampleApp(app: App): App {
  const consul = addConsulChart(app);
  const etcd = addEtcdChart(app);
  const production = new Chart(app, 'production', { namespace: 'production', disableResourceNameHashes: true });
  new RestrictedNamespace(production, 'production');
  defineShop(production, { services: SHOP_SERVICE_DEFAULTS, consulAgent: consul.agent, consulAcls: true, circuitBreaker: true, etcd });
  return app;
}

/**
 * The `consul` chart: 3 servers and node-local agents, gossip key from the Secret
 * `consul-gossip-key` (create it with
 * `kubectl -n consul create secret generic consul-gossip-key --from-literal=key=$(consul keygen)`).
 */
export function addConsulChart(app: App): ConsulCluster {
  const chart = new Chart(app, 'consul', { namespace: 'consul', disableResourceNameHashes: true });
  new RestrictedNamespace(chart, 'namespace', { name: 'consul' });
  return new ConsulCluster(chart, 'consul', {
    replicas: 3,
    gossipEncryption: GossipEncryption.fromSecret({ secretName: 'consul-gossip-key', secretKey: 'key' }),
    // Any non-root ids work (every writable path is a volume owned through fsGroup); >= 10000 per kube-score.
    runAsUser: 10100,
    runAsGroup: 10100,
    // Pinned so CoreDNS can forward `.consul` to it; an address in kubeadm's default
    // Service CIDR (10.96.0.0/12): pick a free one from yours.
    dnsClusterIp: '10.96.0.53',
    partOf: 'service-discovery',
  });
}

/** The `etcd` chart: a 3-member etcd cluster that services register in with leases. */
export function addEtcdChart(app: App): EtcdCluster {
  const chart = new Chart(app, 'etcd', { namespace: 'etcd', disableResourceNameHashes: true });
  new RestrictedNamespace(chart, 'namespace', { name: 'etcd' });
  return new EtcdCluster(chart, 'etcd', { members: 3, partOf: 'service-discovery' });
}

/** The Consul cluster of an app built by {@link buildExampleApp}. */
export function consulClusterOf(app: App): ConsulCluster {
  const cluster = app.node.tryFindChild('consul')?.node.tryFindChild('consul');
  if (!(cluster instanceof ConsulCluster)) throw new Error("the app has no Consul cluster at 'consul/consul': build it with buildExampleApp");
  return cluster;
}
