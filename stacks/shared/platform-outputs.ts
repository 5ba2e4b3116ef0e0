import * as pulumi from '@pulumi/pulumi';
import { ConsulAgentEndpoint, ConsulBootstrapReference, EtcdClusterAddress } from '../../lib';
import { invalid } from '../../lib/core/validation';

/** The namespaces the platform stack creates. */
export interface PlatformNamespaces {
  readonly consul: string;
  readonly etcd: string;
  /** Where the apps stack deploys the services. */
  readonly apps: string;
}

/** How apps reach the platform's etcd cluster: what an `EtcdLeaseRegistration` needs. */
export interface PlatformEtcd extends EtcdClusterAddress {
  /** Pods carrying these labels may reach the client port. */
  readonly clientLabels: Record<string, string>;
}

/**
 * The platform stack's outputs (one stack output per field): the contract between the
 * platform and apps stacks.
 */
export interface PlatformOutputs {
  readonly namespaces: PlatformNamespaces;
  /** The node-local Consul agent that services register with. */
  readonly consulAgent: ConsulAgentEndpoint;
  /** Consul enforces ACLs (default deny): registrations need a token with service:write. */
  readonly consulAclsEnabled: boolean;
  /**
   * The bootstrap that writes each registering service's token (services declare theirs with
   * `ConsulAgentToken.fromBootstrap`), or `false` when the platform's ACL tokens come from
   * config: then the apps stack sets its services' tokens too (`consulAclTokens`).
   */
  readonly consulBootstrap: ConsulBootstrapReference | false;
  /** The pinned ClusterIP of the Consul DNS Service, which CoreDNS forwards `.consul` to. */
  readonly consulDnsIp: string;
  /** The CoreDNS server block to add to the Corefile (`kubectl -n kube-system edit configmap coredns`). */
  readonly coreDnsServerBlock: string;
  readonly etcd: PlatformEtcd;
}

/** The outputs the apps stack reads. */
export const APPS_PLATFORM_INPUTS = ['namespaces', 'consulAgent', 'consulAclsEnabled', 'consulBootstrap', 'etcd'] as const;
export type AppsPlatformInputs = Pick<PlatformOutputs, typeof APPS_PLATFORM_INPUTS[number]>;

/**
 * Reads the outputs the apps stack needs from the platform stack, as plain values. They are
 * awaited (not applied) so that the apps chart is synthesized and every object registered
 * synchronously afterwards: `pulumi preview` shows each object, one resource per object.
 */
export async function readPlatformOutputs(stackName: string): Promise<AppsPlatformInputs> {
  const platform = new pulumi.StackReference('platform', { name: stackName });
  const entries = await Promise.all(APPS_PLATFORM_INPUTS.map(async (output) => {
    const details = await platform.getOutputDetails(output);
    const value = details.value ?? details.secretValue;
    if (value === undefined) {
      invalid(`StackReference '${stackName}'`, `output ${output}`, value,
        'must be exported by the platform stack: run pulumi up in stacks/platform first, or set platformStack to the right stack');
    }
    return [output, value] as const;
  }));
  return Object.fromEntries(entries) as unknown as AppsPlatformInputs;
}
