import { IConstruct } from 'constructs';
import { EtcdTlsOptions, resolveEtcdTls } from './cluster';
import { DEFAULT_ETCD_SIDECAR_IMAGE, renderEtcdLeaseScript } from './lease-script';
import { ETCD_CLIENT_LABEL, podsIn, policyPort } from '../core/network-policy';
import { IServiceRegistration, RegistrationConfig, RegistrationTarget, registrationPort, registrationSidecar } from '../registration/registration';
import {
  DiscoveryKitValidationError, checkDns1123Label, checkDns1123Subdomain, checkPodSelector, checkPort, checkPresent, checkServiceUrl, invalid,
} from '../core/validation';

/** Where pods reach an etcd cluster; an `EtcdCluster` satisfies it. */
export interface EtcdClusterAddress {
  /** Client URLs, e.g. `http://etcd-client.etcd.svc.cluster.local:2379`. */
  readonly clientEndpoints: readonly string[];
  /** Pods label themselves `ETCD_CLIENT_LABEL: <clusterName>` to be admitted. */
  readonly clusterName: string;
  /** Namespace of the members. */
  readonly namespace: string;
  /** Labels that select the members. */
  readonly selector: Record<string, string>;
  /** The members' client port. */
  readonly clientPort: number;
  /** Whether clients must present certificates (`clientTls` on the cluster). @default - no client TLS */
  readonly tls?: { readonly client: boolean };
}

/** Props of {@link EtcdLeaseRegistration}. */
export interface EtcdLeaseRegistrationProps {
  /** The etcd cluster to register in. */
  readonly cluster: EtcdClusterAddress;
  /** Named port published in the registration. @default - the port that serves the health endpoints */
  readonly port?: string;
  /** Tags published in the registration (RFC 1123 labels). @default - none */
  readonly tags?: string[];
  /** Key prefix: keys are `<keyPrefix>/<service>/<pod>`. @default '/services' */
  readonly keyPrefix?: string;
  /**
   * Lease TTL: a crashed pod's key disappears at most this long after its last keep-alive.
   * At least 5; keep it well above etcd's election timeout so an election does not expire
   * live registrations.
   * @default 15
   */
  readonly ttlSeconds?: number;
  /** How often the lease is refreshed; below the TTL. @default - a third of the TTL */
  readonly keepAliveIntervalSeconds?: number;
  /** Client certificate, key and CA for a cluster with client TLS (one Secret). @default - plain HTTP */
  readonly clientTls?: EtcdTlsOptions;
  /** Sidecar image: needs a POSIX sh, `timeout` and etcdctl. @default DEFAULT_ETCD_SIDECAR_IMAGE */
  readonly image?: string;
}

const TLS_DIR = '/etcd-client-tls';

/**
 * Registers each pod in etcd under a lease from a sidecar: it grants a lease with a TTL,
 * puts `<keyPrefix>/<service>/<pod>` = `{host, port, tags, registered_at}` attached to it,
 * keeps the lease alive, re-registers after an etcd restart, and on SIGTERM deletes the key
 * and revokes the lease at once (before the app's preStop delay ends). A crashed pod's key
 * expires within one TTL.
 */
export class EtcdLeaseRegistration implements IServiceRegistration {
  constructor(private readonly props: EtcdLeaseRegistrationProps) {}

  public bind(target: RegistrationTarget): RegistrationConfig {
    const { scope } = target;
    const cluster = checkEtcdAddress(scope, 'registration.cluster', this.props.cluster);
    const port = registrationPort(target, this.props.port);
    const tls = resolveEtcdTls(scope, 'registration.clientTls', this.props.clientTls);
    if (cluster.tls?.client && !tls) {
      invalid(scope, 'registration.clientTls', undefined, `must be set: etcd cluster '${cluster.clusterName}' requires client certificates`);
    }
    const keyPrefix = this.props.keyPrefix ?? '/services';
    let script: string;
    try {
      script = renderEtcdLeaseScript({
        endpoints: cluster.clientEndpoints,
        keyPrefix,
        serviceName: target.serviceName,
        port,
        tags: this.props.tags,
        ttlSeconds: this.props.ttlSeconds,
        keepAliveIntervalSeconds: this.props.keepAliveIntervalSeconds,
        tls: tls && { caFile: `${TLS_DIR}/${tls.caKey}`, certFile: `${TLS_DIR}/${tls.certKey}`, keyFile: `${TLS_DIR}/${tls.keyKey}` },
      });
    } catch (error) {
      // The renderer names its own option; report it against the service that set it.
      throw error instanceof DiscoveryKitValidationError ? error.rescope(scope, 'registration.') : error;
    }
    const sidecar = registrationSidecar(target, {
      name: 'etcd-registration',
      image: this.props.image ?? DEFAULT_ETCD_SIDECAR_IMAGE,
      script,
      volumeMounts: tls ? [{ name: 'etcd-client-tls', mountPath: TLS_DIR, readOnly: true }] : undefined,
    });
    const members = podsIn(cluster.namespace, cluster.selector);
    return {
      registry: 'etcd',
      sidecars: [sidecar],
      volumes: tls ? [{ name: 'etcd-client-tls', secret: { secretName: tls.secretName, defaultMode: 0o440 } }] : undefined,
      podLabels: { [ETCD_CLIENT_LABEL]: cluster.clusterName },
      egress: [{ to: [members], ports: [policyPort(cluster.clientPort)] }],
      // Deleting the key and revoking the lease are two etcdctl calls of at most 5 s each,
      // after the one in flight: up to 15 s while etcd is unreachable.
      shutdownSeconds: 15,
      consumerEnv: { ETCD_ENDPOINTS: cluster.clientEndpoints.join(','), ETCD_SERVICES_PREFIX: keyPrefix },
    };
  }
}

/** A well-formed {@link EtcdClusterAddress} (it may come from another program), named field by field when it is not. */
export function checkEtcdAddress(scope: IConstruct, field: string, cluster: EtcdClusterAddress): EtcdClusterAddress {
  checkPresent(scope, field, cluster, 'the etcd cluster, such as an EtcdCluster');
  if (!Array.isArray(cluster.clientEndpoints) || cluster.clientEndpoints.length === 0) {
    invalid(scope, `${field}.clientEndpoints`, cluster.clientEndpoints, 'must list at least one client URL such as http://etcd-client.etcd.svc.cluster.local:2379');
  }
  cluster.clientEndpoints.forEach((url, i) => checkServiceUrl(scope, `${field}.clientEndpoints[${i}]`, url));
  checkDns1123Subdomain(scope, `${field}.clusterName`, cluster.clusterName);
  checkDns1123Label(scope, `${field}.namespace`, cluster.namespace);
  checkPodSelector(scope, `${field}.selector`, cluster.selector, 'the etcd member pods');
  checkPort(scope, `${field}.clientPort`, cluster.clientPort);
  return cluster;
}
