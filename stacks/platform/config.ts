import * as pulumi from '@pulumi/pulumi';
import { isIP } from 'node:net';
import { checkIpv4Address } from '../../lib/consul/config';
import { checkPort, invalid } from '../../lib/core/validation';
import { ApiServerEndpoints, apiServerEndpoints, KubernetesTarget } from '../../lib/pulumi';
import { CONFIG_SCOPE, ConsulTokens, parseConfigNumber, readConsulTokens, StackConfig } from '../shared/config';
import { PlatformNamespaces } from '../shared/platform-outputs';

/** The tokens `consulTokens` may set: `agent` (node:write, so an agent can register itself) and `dns` (node and service read). */
const AGENT_TOKEN_NAMES = ['agent', 'dns'] as const;

/** Consul accepts AES-128, -192 or -256 keys; `consul keygen` prints 32 bytes in base64. */
const GOSSIP_KEY_BYTES = [16, 24, 32];

const API_SERVER_ENDPOINTS_HELP = "the API server's endpoints as address:port, as kubectl get endpoints kubernetes -n default lists them, e.g. 172.18.0.2:6443";

/** The platform stack's config, validated. */
export interface PlatformConfig {
  readonly namespaces: PlatformNamespaces;
  readonly consulDnsClusterIp: string;
  readonly consulAcls: boolean;
  /** RPC TLS, HTTPS and per-agent certificates, from a CA the bootstrap generates. @default true */
  readonly consulTls: boolean;
  /** Your own gossip key. @default - the bootstrap Job generates one in the cluster */
  readonly gossipKey?: pulumi.Output<string>;
  /** Your own agent and DNS tokens (ACLs bootstrapped by you). @default - the bootstrap Job makes them */
  readonly consulTokens?: ConsulTokens<typeof AGENT_TOKEN_NAMES[number]>;
  /** The bootstrap bootstraps ACLs and makes every token: ACLs on, no tokens of your own. */
  readonly aclBootstrap: boolean;
  /** A bootstrap Job is deployed: something (key, tokens, certificates) is not brought. */
  readonly bootstrap: boolean;
  /** Where the bootstrap reaches the API server. @default - read from the cluster's `kubernetes` EndpointSlice */
  readonly apiServer?: ApiServerEndpoints;
  readonly target: KubernetesTarget;
}

/** Reads and validates everything before any resource registers. */
export function readPlatformConfig(config: StackConfig): PlatformConfig {
  const consulDnsClusterIp = config.requireString('consulDnsClusterIp', "a free IPv4 address in the cluster's Service CIDR, e.g. 10.96.0.53");
  checkIpv4Address(CONFIG_SCOPE, config.key('consulDnsClusterIp'), consulDnsClusterIp);
  const consulAcls = config.boolean('consulAcls', true);
  const consulTokens = readConsulTokens(config, 'consulTokens', AGENT_TOKEN_NAMES,
    'from consul acl token create (agent: node:write; dns: node and service read)');
  const consulTls = config.boolean('consulTls', true);
  if (consulTokens && !consulAcls) {
    invalid(CONFIG_SCOPE, config.key('consulTokens'), '<redacted>', `must be unset when ${config.key('consulAcls')} is false: run pulumi config rm consulTokens`);
  }
  // The apps verify their HTTPS agent with the CA bundle the bootstrap writes next to each service token.
  const whileTls = `while ${config.key('consulTls')} is true: the apps' registrations verify the HTTPS agents with the CA bundle the bootstrap writes next to the service tokens it makes`;
  if (!consulAcls && consulTls) {
    invalid(CONFIG_SCOPE, config.key('consulAcls'), 'false', `must be true ${whileTls}; run pulumi config set consulAcls true, or pulumi config set consulTls false`);
  }
  if (consulTokens && consulTls) {
    invalid(CONFIG_SCOPE, config.key('consulTokens'), '<redacted>', `must be unset ${whileTls}; run pulumi config rm consulTokens, or pulumi config set consulTls false`);
  }
  const target = config.kubernetesTarget();
  const gossipKey = config.secret('gossipKey', 'a base64 key of 16, 24 or 32 bytes, as consul keygen prints', isGossipKey);
  const aclBootstrap = consulAcls && !consulTokens;
  // The bootstrap makes whatever is not brought: the gossip key, the ACL tokens, the certificates.
  const bootstrap = !gossipKey || aclBootstrap || consulTls;
  const apiServer = readApiServerEndpoints(config);
  if (bootstrap && !apiServer && target.renderYamlToDirectory !== undefined) {
    invalid(CONFIG_SCOPE, config.key('apiServerEndpoints'), undefined,
      `is required with renderYamlToDirectory (there is no cluster to read them from): ${API_SERVER_ENDPOINTS_HELP}; set it with pulumi config set --path 'apiServerEndpoints[0]' <address:port>`);
  }
  return {
    namespaces: {
      consul: config.namespace('consulNamespace', 'consul'),
      etcd: config.namespace('etcdNamespace', 'etcd'),
      apps: config.namespace('appsNamespace', 'production'),
    },
    consulDnsClusterIp,
    consulAcls,
    consulTls,
    gossipKey,
    consulTokens,
    aclBootstrap,
    bootstrap,
    apiServer,
    target,
  };
}

function isGossipKey(value: string): boolean {
  const bytes = Buffer.from(value, 'base64');
  return bytes.toString('base64') === value && GOSSIP_KEY_BYTES.includes(bytes.length);
}

/** `apiServerEndpoints`: a list of `address:port` (`[address]:port` for IPv6), all on one port. */
function readApiServerEndpoints(config: StackConfig): ApiServerEndpoints | undefined {
  const raw = config.object('apiServerEndpoints');
  if (raw === undefined) return undefined;
  const key = config.key('apiServerEndpoints');
  if (!Array.isArray(raw) || raw.length === 0) invalid(CONFIG_SCOPE, key, raw, `must be a non-empty list of ${API_SERVER_ENDPOINTS_HELP}`);
  const parsed = raw.map((entry, i) => {
    // IPv4 `address:port`, IPv6 `[address]:port`.
    const match = typeof entry === 'string' ? /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d+)$/.exec(entry) : null;
    if (!match) invalid(CONFIG_SCOPE, `${key}[${i}]`, entry, `must be ${API_SERVER_ENDPOINTS_HELP} ([address]:port for IPv6)`);
    const address = match[1] ?? match[2];
    if (isIP(address) !== (match[1] ? 6 : 4)) invalid(CONFIG_SCOPE, `${key}[${i}]`, entry, `must be an IPv4 address and a port, or [IPv6 address]:port: ${API_SERVER_ENDPOINTS_HELP}`);
    return { address, port: checkPort(CONFIG_SCOPE, `${key}[${i}]`, parseConfigNumber(match[3]) as number) };
  });
  const port = parsed[0].port;
  const other = parsed.findIndex((endpoint) => endpoint.port !== port);
  if (other >= 0) invalid(CONFIG_SCOPE, `${key}[${other}]`, raw[other], `must use the same port as ${key}[0] (${port}): the bootstrap's NetworkPolicy opens one port`);
  return apiServerEndpoints(CONFIG_SCOPE, key, parsed.map((endpoint) => endpoint.address), port);
}
