import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import type { k8s as kplus } from 'cdk8s-plus-27';
import { isIP } from 'node:net';
import { invalid } from '../core/validation';

/**
 * Where pods reach the Kubernetes API server, as a NetworkPolicy sees it: the endpoints
 * behind the `kubernetes` Service (after DNAT), not its ClusterIP. What
 * `ConsulBootstrap`'s `apiServer` and `apiServerPort` take.
 */
export interface ApiServerEndpoints {
  /** One `/32` (or `/128`) ipBlock per endpoint address. */
  readonly peers: kplus.NetworkPolicyPeer[];
  readonly port: number;
}

/**
 * The API server's endpoints, read from the live cluster (the `kubernetes` EndpointSlice in
 * `default`, which the API server itself maintains), so nobody copies addresses into config.
 * The read is awaited: a cdk8s chart is synthesized synchronously afterwards. Needs a provider
 * that reaches a cluster (not `renderYamlToDirectory`).
 */
export async function readApiServerEndpoints(name: string, opts: pulumi.CustomResourceOptions): Promise<ApiServerEndpoints> {
  const slice = k8s.discovery.v1.EndpointSlice.get(name, 'default/kubernetes', opts);
  const [endpoints, ports] = await new Promise<[k8s.types.output.discovery.v1.Endpoint[], k8s.types.output.discovery.v1.EndpointPort[]]>(
    (resolve) => pulumi.all([slice.endpoints, slice.ports]).apply(resolve),
  );
  const scope = "EndpointSlice 'default/kubernetes'";
  const addresses = [...new Set((endpoints ?? []).flatMap((endpoint) => endpoint.addresses ?? []))];
  if (addresses.length === 0) invalid(scope, 'endpoints', endpoints, 'must list the API server addresses: the API server maintains them');
  const https = (ports ?? []).find((port) => port.name === 'https') ?? ports?.[0];
  if (!https?.port) invalid(scope, 'ports', ports, "must have the API server's port");
  return apiServerEndpoints(scope, 'endpoints', addresses, https.port);
}

/** Endpoints given as addresses (`kubectl get endpointslice kubernetes -n default`) and their port. */
export function apiServerEndpoints(scope: string, field: string, addresses: readonly string[], port: number): ApiServerEndpoints {
  const peers = addresses.map((address, i) => {
    const family = isIP(address);
    if (family === 0) invalid(scope, `${field}[${i}]`, address, 'must be an IPv4 or IPv6 address');
    return { ipBlock: { cidr: `${address}/${family === 4 ? 32 : 128}` } };
  });
  return { peers, port };
}
