import { k8s } from 'cdk8s-plus-27';
import { restrictedContainerSecurityContext } from './discoverable-service';
import { DEFAULT_ETCD_SIDECAR_IMAGE, renderEtcdLeaseScript } from './etcd-lease-script';
import { ETCD_CLIENT_LABEL, policyPort } from './network-policy';
import { IServiceRegistration, RegistrationConfig, RegistrationTarget } from './registration';
import { resolveResources } from './resources';
import { DiscoveryKitValidationError, checkDns1123Subdomain, checkPinnedImage, checkSecretKey, invalid } from './validation';

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
}

/** Client TLS material for etcdctl, from one Secret (for clusters with `clientTls`). */
export interface EtcdClientTlsSecret {
  readonly secretName: string;
  /** @default 'ca.crt' */
  readonly caKey?: string;
  /** @default 'tls.crt' */
  readonly certKey?: string;
  /** @default 'tls.key' */
  readonly keyKey?: string;
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
  /** Client certificate and CA for a TLS cluster. @default - plain HTTP */
  readonly clientTls?: EtcdClientTlsSecret;
  /** Sidecar image: needs a POSIX sh, `timeout` and etcdctl. @default DEFAULT_ETCD_SIDECAR_IMAGE */
  readonly image?: string;
}

const TLS_DIR = '/etcd-client-tls';
const SIDECAR_RESOURCES = { requests: { cpu: '10m', memory: '32Mi' }, limits: { cpu: '100m', memory: '64Mi' } };

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
    const { cluster, clientTls } = this.props;
    const image = this.props.image ?? DEFAULT_ETCD_SIDECAR_IMAGE;
    checkPinnedImage(scope, 'registration.image', image);
    checkDns1123Subdomain(scope, 'registration.cluster.clusterName', cluster.clusterName);
    const portName = this.props.port ?? target.health.portName;
    const port = target.ports.get(portName);
    if (port === undefined) {
      invalid(scope, 'registration.port', portName, `must name one of the service's ports: ${[...target.ports.keys()].join(', ')}`);
    }
    const tls = clientTls && {
      secretName: checkDns1123Subdomain(scope, 'registration.clientTls.secretName', clientTls.secretName),
      caKey: checkSecretKey(scope, 'registration.clientTls.caKey', clientTls.caKey ?? 'ca.crt'),
      certKey: checkSecretKey(scope, 'registration.clientTls.certKey', clientTls.certKey ?? 'tls.crt'),
      keyKey: checkSecretKey(scope, 'registration.clientTls.keyKey', clientTls.keyKey ?? 'tls.key'),
    };
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
    const sidecar: k8s.Container = {
      name: 'etcd-registration',
      image,
      imagePullPolicy: 'IfNotPresent',
      command: ['/bin/sh', '-c', script],
      env: [
        { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
        { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
      ],
      resources: resolveResources(scope, 'registration.resources', {}, SIDECAR_RESOURCES),
      securityContext: restrictedContainerSecurityContext(),
      volumeMounts: tls ? [{ name: 'etcd-client-tls', mountPath: TLS_DIR, readOnly: true }] : undefined,
    };
    const members: k8s.NetworkPolicyPeer = {
      namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': cluster.namespace } },
      podSelector: { matchLabels: cluster.selector },
    };
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
