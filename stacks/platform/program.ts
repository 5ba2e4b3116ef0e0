import { App, Chart } from 'cdk8s';
import {
  ConsulBootstrap, ConsulBootstrapReference, ConsulCluster, consulBootstrapSecrets, EtcdCluster, GossipEncryption, RestrictedNamespace,
} from '../../lib';
import { Cdk8sChartResource, kubernetesProvider, kubernetesSecret, readApiServerEndpoints } from '../../lib/pulumi';
import { StackConfig } from '../shared/config';
import { PlatformOutputs } from '../shared/platform-outputs';
import { readPlatformConfig } from './config';

/** The Consul cluster's name: the prefix of every Secret its bootstrap writes. */
const CONSUL_CLUSTER_NAME = 'consul';

/** The Secrets the Consul cluster reads: written by the bootstrap Job, or by this stack from your own config. */
export const CONSUL_SECRETS = consulBootstrapSecrets(CONSUL_CLUSTER_NAME);

/**
 * The platform stack: the namespaces (Pod Security "restricted"), a Consul cluster with its
 * DNS Service on a pinned ClusterIP and its bootstrap, and an etcd cluster. Its outputs are
 * what the apps stack and the cluster's CoreDNS need.
 *
 * Nothing is set by hand: the bootstrap Job generates the gossip key and a CA with the servers'
 * certificate in the cluster (agents take their own from the servers), bootstraps ACLs and
 * writes the agent, DNS and each registering service's token, with the CA bundle that verifies
 * the agents next to it (the servers wait for the key; `pulumi up` waits for the Job). It reaches the API server at the
 * endpoints read from the cluster. Your own gossip key or agent tokens (`gossipKey`,
 * `consulTokens`) replace what the Job would make: they become Secrets created here
 * (encrypted in state), never part of a manifest.
 */
export async function platformProgram(): Promise<PlatformOutputs> {
  const config = new StackConfig();
  const settings = readPlatformConfig(config);
  const { namespaces } = settings;
  const provider = kubernetesProvider('kubernetes', settings.target);
  // Read only where a bootstrap needs it: bringing everything needs no cluster read.
  const apiServer = settings.bootstrap ? settings.apiServer ?? await readApiServerEndpoints('kubernetes-api-server', { provider }) : undefined;

  const app = new App();
  const namespaceChart = new Chart(app, 'namespaces', { disableResourceNameHashes: true });
  for (const name of new Set(Object.values(namespaces))) new RestrictedNamespace(namespaceChart, name);
  const registryChart = new Chart(app, 'registries', { disableResourceNameHashes: true });
  const consul = new ConsulCluster(registryChart, CONSUL_CLUSTER_NAME, {
    namespace: namespaces.consul,
    gossipEncryption: GossipEncryption.fromSecret(CONSUL_SECRETS.gossipKey),
    dnsClusterIp: settings.consulDnsClusterIp,
    acl: { enabled: settings.consulAcls, tokensSecret: settings.consulAcls ? CONSUL_SECRETS.aclTokens : undefined },
    // Agents take their own certificates from the servers (auto_encrypt): none is shared.
    tls: settings.consulTls ? { ca: CONSUL_SECRETS.ca, serverCertificate: CONSUL_SECRETS.serverCertificate } : undefined,
  });
  const { aclBootstrap } = settings;
  const bootstrap = apiServer ? new ConsulBootstrap(registryChart, 'consul-bootstrap', {
    cluster: consul,
    apiServer: apiServer.peers,
    apiServerPort: apiServer.port,
    gossipKey: !settings.gossipKey,
    tls: settings.consulTls,
    acl: aclBootstrap,
  }) : undefined;
  const etcd = new EtcdCluster(registryChart, 'etcd', { namespace: namespaces.etcd });

  const namespaceResources = new Cdk8sChartResource('namespaces', { chart: namespaceChart }, { provider });
  const secretOptions = { provider, dependsOn: [namespaceResources] };
  const secrets = [];
  if (settings.gossipKey) {
    const { secretName, key } = CONSUL_SECRETS.gossipKey;
    secrets.push(kubernetesSecret({ name: secretName, namespace: namespaces.consul, stringData: { [key]: settings.gossipKey } }, secretOptions));
  }
  if (settings.consulTokens) {
    const { secretName, key } = CONSUL_SECRETS.aclTokens;
    const tokensFile = settings.consulTokens.output.apply((tokens) => JSON.stringify({ acl: { tokens } }));
    secrets.push(kubernetesSecret({ name: secretName, namespace: namespaces.consul, stringData: { [key]: tokensFile } }, secretOptions));
  }
  new Cdk8sChartResource('registries', { chart: registryChart, dependsOn: [namespaceResources, ...secrets] }, { provider });

  return {
    namespaces,
    consulAgent: consul.agent,
    consulAclsEnabled: settings.consulAcls,
    consulBootstrap: aclBootstrap && bootstrap ? bootstrapReference(bootstrap) : false,
    consulDnsIp: consul.dns.clusterIp!,
    coreDnsServerBlock: consul.coreDnsServerBlock,
    etcd: {
      clientEndpoints: etcd.clientEndpoints, clusterName: etcd.clusterName, namespace: etcd.namespace,
      podSelector: etcd.podSelector, clientPort: etcd.clientPort, clientLabels: etcd.clientLabels, tls: etcd.tls,
    },
  };
}

/** What the apps stack needs to declare its services' tokens: plain data, for a stack output. */
function bootstrapReference(bootstrap: ConsulBootstrap): ConsulBootstrapReference {
  return { clusterName: bootstrap.clusterName, namespace: bootstrap.namespace, serviceAccountName: bootstrap.serviceAccountName };
}
