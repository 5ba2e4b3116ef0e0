import type { ConsulAgentAddress } from './agent-registration';
import { CONSUL_PORTS } from './config';
import { selectorLabels } from '../core/labels';
import { ValidationPass, checkDns1035Label, checkDns1123Label, checkDns1123Subdomain, checkPresent } from '../core/validation';
import type { ConsulMeshControlPlane } from '../mesh/circuit-breaker';

/** Where the local client agent is reached; what a `ConsulAgentRegistration` needs. */
export interface ConsulAgentEndpoint extends ConsulAgentAddress {
  /** FQDN of the node-local agent Service. */
  readonly host: string;
  readonly scheme: 'http' | 'https';
  /** `host:port`. */
  readonly address: string;
  readonly datacenter: string;
  readonly domain: string;
}

/** What another program needs to know of a `ConsulCluster` to use it: see `ConsulCluster.fromAttributes`. */
export interface ConsulClusterAttributes {
  /** The cluster's name (`ConsulClusterProps.name`). */
  readonly name: string;
  /** The cluster's namespace. */
  readonly namespace: string;
  /** Whether the cluster has TLS (`ConsulClusterProps.tls`). @default false */
  readonly tls?: boolean;
  /** The cluster's Consul datacenter. @default 'dc1' */
  readonly datacenter?: string;
  /** The cluster's Consul DNS domain. @default 'consul' */
  readonly domain?: string;
  /** The Kubernetes cluster DNS domain. @default 'cluster.local' */
  readonly clusterDomain?: string;
}

/** A Consul cluster as its users see it: where to register and what mesh pods connect to. */
export interface ConsulClusterReference {
  /** The node-local agent, for `ConsulAgentRegistration.agent`. */
  readonly agent: ConsulAgentEndpoint;
  /** The servers, for `DiscoverableService.meshControlPlane`. */
  readonly meshControlPlane: ConsulMeshControlPlane;
}

/** The servers' HTTP(S) API and UI. */
export interface ConsulHttpEndpoint {
  /** FQDN of the `<name>-ui` Service. */
  readonly host: string;
  readonly port: number;
  readonly scheme: 'http' | 'https';
  /** `host:port`. */
  readonly address: string;
  /** `scheme://host:port`. */
  readonly url: string;
}

/** What decides where a cluster's agents and servers are reached. */
export type ReferenceInputs = Required<ConsulClusterAttributes>;

/** The agent endpoint and mesh control plane of a cluster: one derivation for the construct and for fromAttributes. */
export function referenceOf(a: ReferenceInputs): ConsulClusterReference {
  const podSelector = (component: 'server' | 'agent') => selectorLabels({ name: 'consul', instance: a.name, component });
  return {
    agent: {
      ...httpEndpoint(`${a.name}-agent.${a.namespace}.svc.${a.clusterDomain}`, a.tls),
      clusterName: a.name, datacenter: a.datacenter, domain: a.domain, namespace: a.namespace, podSelector: podSelector('agent'),
    },
    meshControlPlane: {
      clusterName: a.name, namespace: a.namespace, podSelector: podSelector('server'),
      grpcPort: CONSUL_PORTS.grpc, httpPort: apiPort(a.tls),
    },
  };
}

/** The port of the HTTP(S) API clients use: HTTPS under TLS. */
export function apiPort(tls: boolean): number {
  return tls ? CONSUL_PORTS.https : CONSUL_PORTS.http;
}

export function httpEndpoint(host: string, tls: boolean): ConsulHttpEndpoint {
  const scheme = tls ? 'https' : 'http';
  const port = apiPort(tls);
  return { host, port, scheme, address: `${host}:${port}`, url: `${scheme}://${host}:${port}` };
}

/** Validates the attributes of a cluster defined elsewhere (every bad one at once) and fills in the defaults. */
export function resolveAttributes(attributes: ConsulClusterAttributes): ReferenceInputs {
  const scope = 'ConsulCluster.fromAttributes';
  const v = new ValidationPass();
  const inputs: ReferenceInputs = {
    name: v.check(() => checkDns1035Label(scope, 'name', checkPresent(scope, 'name', attributes?.name, "the platform's ConsulCluster name")), ''),
    namespace: v.check(() => checkDns1123Label(scope, 'namespace', checkPresent(scope, 'namespace', attributes?.namespace, "the platform's ConsulCluster namespace")), ''),
    tls: attributes?.tls ?? false,
    datacenter: v.check(() => checkDns1123Label(scope, 'datacenter', attributes?.datacenter ?? 'dc1'), ''),
    domain: v.check(() => checkDns1123Label(scope, 'domain', attributes?.domain ?? 'consul'), ''),
    clusterDomain: v.check(() => checkDns1123Subdomain(scope, 'clusterDomain', attributes?.clusterDomain ?? 'cluster.local'), ''),
  };
  v.finish();
  return inputs;
}
