import { k8s } from 'cdk8s-plus-27';
import { IConstruct } from 'constructs';
import { checkPeers } from '../core/network-policy';
import { SecretKeyReference, checkSecretKeyReference } from '../core/secret';
import { checkDns1123Label, checkPort, checkPresent } from '../core/validation';

/**
 * consul-k8s (the Helm chart, 1.x, agentless) installed beside a {@link ConsulCluster} for
 * the service mesh, pointed at its servers with `externalServers`. What it needs was read
 * in hashicorp/consul-k8s v1.9.11: the connect-injector and server-acl-init call the
 * servers' gRPC and HTTP(S) API; the servers validate mesh pods' tokens with the Kubernetes
 * API's TokenReview (Kubernetes auth method).
 */
export interface ConsulK8sOptions {
  /** Namespace of the consul-k8s release: its connect-injector and server-acl-init pods reach the servers. */
  readonly namespace: string;
  /**
   * Where the Kubernetes API server's endpoints are, for the servers' TokenReview calls:
   * usually `{ ipBlock: { cidr: '<control-plane address>/32' } }` per API server
   * (`kubectl get endpoints kubernetes` lists them; NetworkPolicies see the endpoint, not the
   * `kubernetes` Service's ClusterIP).
   */
  readonly apiServer: k8s.NetworkPolicyPeer[];
  /** Port of those endpoints. @default 6443 */
  readonly apiServerPort?: number;
  /**
   * Secret in the release namespace with a token that has `acl:write` (the bootstrap token),
   * which server-acl-init needs once the servers' ACLs are bootstrapped.
   * @default - `{ secretName: '<cluster>-bootstrap-token', key: 'token' }`
   */
  readonly bootstrapToken?: SecretKeyReference;
}

/** consul-k8s's pods all carry `app: consul` (its chart's `consul.name`). */
export const CONSUL_K8S_POD_SELECTOR: Readonly<Record<string, string>> = Object.freeze({ app: 'consul' });

/** Validated consul-k8s settings. */
export interface ResolvedConsulK8s {
  readonly namespace: string;
  readonly apiServer: k8s.NetworkPolicyPeer[];
  readonly apiServerPort: number;
  readonly bootstrapToken: SecretKeyReference;
}

export function resolveConsulK8s(scope: IConstruct, field: string, options: ConsulK8sOptions, clusterName: string): ResolvedConsulK8s {
  checkPresent(scope, `${field}.apiServer`, options.apiServer, "the Kubernetes API server's endpoints, for the servers' TokenReview calls");
  return {
    namespace: checkDns1123Label(scope, `${field}.namespace`, options.namespace),
    apiServer: checkPeers(scope, `${field}.apiServer`, options.apiServer),
    apiServerPort: checkPort(scope, `${field}.apiServerPort`, options.apiServerPort ?? 6443),
    bootstrapToken: options.bootstrapToken === undefined
      ? { secretName: `${clusterName}-bootstrap-token`, key: 'token' }
      : checkSecretKeyReference(scope, `${field}.bootstrapToken`, options.bootstrapToken),
  };
}

/** What the Helm values are rendered from. */
export interface ConsulK8sValuesInputs {
  readonly clusterName: string;
  /** Namespace of the Consul servers (left out of the injector's webhook). */
  readonly serversNamespace: string;
  readonly serverHost: string;
  readonly datacenter: string;
  readonly domain: string;
  readonly acls: boolean;
  /** The CA certificate, when the servers use TLS. */
  readonly caSecret?: SecretKeyReference;
  readonly grpcPort: number;
  readonly httpPort: number;
  readonly consulK8s: ResolvedConsulK8s;
}

/**
 * The consul-k8s chart values that point it at these servers. Notes from its source:
 * `externalServers.httpsPort` is used as the HTTP port when TLS is off; with TLS, clients
 * dial `grpcPort` with TLS (the servers' `grpc_tls`) and expect `server.<dc>.<domain>`; the
 * servers' own namespace stays outside the injector's webhook, which fails closed, so a
 * server restart during an injector outage cannot deadlock; transparent proxy needs the CNI
 * plugin to stay within Pod Security "restricted".
 */
export function consulK8sHelmValues(inputs: ConsulK8sValuesInputs): Record<string, unknown> {
  const { consulK8s, caSecret } = inputs;
  // The chart names a Secret key `secretKey`.
  const chartSecret = (ref: SecretKeyReference) => ({ secretName: ref.secretName, secretKey: ref.key });
  return {
    global: {
      enabled: false,
      name: `${inputs.clusterName}-k8s`,
      datacenter: inputs.datacenter,
      domain: inputs.domain,
      tls: caSecret ? { enabled: true, caCert: chartSecret(caSecret) } : { enabled: false },
      acls: inputs.acls ? { manageSystemACLs: true, bootstrapToken: chartSecret(consulK8s.bootstrapToken) } : { manageSystemACLs: false },
    },
    server: { enabled: false },
    client: { enabled: false },
    externalServers: {
      enabled: true,
      hosts: [inputs.serverHost],
      httpsPort: inputs.httpPort,
      grpcPort: inputs.grpcPort,
      ...(caSecret ? { tlsServerName: `server.${inputs.datacenter}.${inputs.domain}`, useSystemRoots: false } : {}),
    },
    connectInject: {
      enabled: true,
      default: false,
      cni: { enabled: true },
      namespaceSelector: {
        matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: [...new Set([inputs.serversNamespace, consulK8s.namespace, 'kube-system'])] }],
      },
    },
  };
}
