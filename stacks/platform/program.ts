import { App, Chart } from 'cdk8s';
import { ConsulCluster, EtcdCluster, GossipEncryption, RestrictedNamespace } from '../../lib';
import { Cdk8sChartResource, kubernetesProvider, kubernetesSecret } from '../../lib/pulumi';
import { checkIpv4Address } from '../../lib/consul/config';
import { CONFIG_SCOPE, ConsulTokens, readConsulTokens, StackConfig } from '../shared/config';
import { PlatformNamespaces, PlatformOutputs } from '../shared/platform-outputs';

/** The Secret the platform creates for the gossip key, and that ConsulCluster reads. */
export const GOSSIP_SECRET = { secretName: 'consul-gossip-key', secretKey: 'key' } as const;

/** The Secret with the agents' ACL tokens (a Consul config fragment), when `consulTokens` is set. */
export const ACL_TOKENS_SECRET = { secretName: 'consul-acl-tokens', secretKey: 'tokens.json' } as const;

/** The tokens `consulTokens` may set: `agent` (node:write, so an agent can register itself) and `dns` (node and service read). */
const AGENT_TOKEN_NAMES = ['agent', 'dns'] as const;

/** Consul accepts AES-128, -192 or -256 keys; `consul keygen` prints 32 bytes in base64. */
const GOSSIP_KEY_BYTES = [16, 24, 32];

/** The platform stack's config, validated. */
interface PlatformConfig {
  readonly namespaces: PlatformNamespaces;
  readonly consulDnsClusterIp: string;
  readonly consulAcls: boolean;
  /** The agents' ACL tokens, created after `consul acl bootstrap`. */
  readonly consulTokens?: ConsulTokens<typeof AGENT_TOKEN_NAMES[number]>;
}

function readPlatformConfig(config: StackConfig): PlatformConfig {
  const consulDnsClusterIp = config.requireString('consulDnsClusterIp', "a free IPv4 address in the cluster's Service CIDR, e.g. 10.96.0.53");
  checkIpv4Address(CONFIG_SCOPE, config.key('consulDnsClusterIp'), consulDnsClusterIp);
  return {
    namespaces: {
      consul: config.namespace('consulNamespace', 'consul'),
      etcd: config.namespace('etcdNamespace', 'etcd'),
      apps: config.namespace('appsNamespace', 'production'),
    },
    consulDnsClusterIp,
    consulAcls: config.boolean('consulAcls', true),
    consulTokens: readConsulTokens(config, 'consulTokens', AGENT_TOKEN_NAMES,
      'from consul acl token create (agent: node:write; dns: node and service read)'),
  };
}

function isGossipKey(value: string): boolean {
  const bytes = Buffer.from(value, 'base64');
  return bytes.toString('base64') === value && GOSSIP_KEY_BYTES.includes(bytes.length);
}

/**
 * The platform stack: the namespaces (Pod Security "restricted"), the gossip-key Secret,
 * a Consul cluster with its DNS Service on a pinned ClusterIP, and an etcd cluster. Its
 * outputs are what the apps stack and the cluster's CoreDNS need.
 *
 * The gossip key (and the agents' ACL tokens, once set) exist only as secret Pulumi Outputs:
 * Secret resources created here (encrypted in state), referenced by name from the Consul
 * manifests, never in them.
 */
export function platformProgram(): PlatformOutputs {
  const config = new StackConfig();
  const settings = readPlatformConfig(config);
  const gossipKey = config.requireSecret('gossipKey', 'a base64 key of 16, 24 or 32 bytes, as consul keygen prints', isGossipKey);
  const { namespaces } = settings;

  const app = new App();
  const namespaceChart = new Chart(app, 'namespaces', { disableResourceNameHashes: true });
  for (const name of new Set(Object.values(namespaces))) new RestrictedNamespace(namespaceChart, name);
  const registryChart = new Chart(app, 'registries', { disableResourceNameHashes: true });
  const consul = new ConsulCluster(registryChart, 'consul', {
    namespace: namespaces.consul,
    gossipEncryption: GossipEncryption.fromSecret(GOSSIP_SECRET),
    dnsClusterIp: settings.consulDnsClusterIp,
    acl: { enabled: settings.consulAcls, tokensSecret: settings.consulTokens && ACL_TOKENS_SECRET },
  });
  const etcd = new EtcdCluster(registryChart, 'etcd', { namespace: namespaces.etcd });

  const provider = kubernetesProvider('kubernetes', config.kubernetesTarget());
  const namespaceResources = new Cdk8sChartResource('namespaces', { chart: namespaceChart }, { provider });
  const secretOptions = { provider, dependsOn: [namespaceResources] };
  const secrets = [kubernetesSecret({
    name: GOSSIP_SECRET.secretName, namespace: namespaces.consul, stringData: { [GOSSIP_SECRET.secretKey]: gossipKey },
  }, secretOptions)];
  if (settings.consulTokens) {
    const tokensFile = settings.consulTokens.output.apply((tokens) => JSON.stringify({ acl: { tokens } }));
    secrets.push(kubernetesSecret({
      name: ACL_TOKENS_SECRET.secretName, namespace: namespaces.consul, stringData: { [ACL_TOKENS_SECRET.secretKey]: tokensFile },
    }, secretOptions));
  }
  new Cdk8sChartResource('registries', { chart: registryChart, dependsOn: [namespaceResources, ...secrets] }, { provider });

  return {
    namespaces,
    consulAgent: consul.agent,
    consulAclsEnabled: settings.consulAcls,
    consulDnsIp: consul.dns.clusterIp!,
    coreDnsServerBlock: consul.coreDnsServerBlock,
    etcd: {
      clientEndpoints: etcd.clientEndpoints, clusterName: etcd.clusterName, namespace: etcd.namespace,
      podSelector: etcd.podSelector, clientPort: etcd.clientPort, clientLabel: etcd.clientLabel, tls: etcd.tls,
    },
  };
}
