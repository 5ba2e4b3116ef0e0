import { join } from 'node:path';
import { Duration } from 'cdk8s';
import type { EtcdTlsOptions } from './cluster-props';
import { ResolvedEtcdTls, resolveEtcdTls } from './tls';
import { ETCD_CLIENT_LABEL, podsIn, policyPort } from '../core/network-policy';
import { IServiceRegistration, RegistrationConfig, RegistrationTarget, registrationPort, registrationSidecar } from '../registration/registration';
import { packageScript } from '../registration/scripts';
import {
  ValidationPass, checkDns1123Label, checkDns1123Subdomain, checkPinnedImage, checkPodSelector, checkPort, checkPresent, checkServiceUrl,
  checkUnique, checkWholeSeconds, invalid,
} from '../core/validation';

/**
 * Default image of the etcd registration sidecar. The script needs a POSIX shell, `sleep`,
 * `date`, `timeout` and etcdctl in one image, which no maintained upstream etcd image has:
 * etcd's own images (gcr.io/etcd-development/etcd, quay.io/coreos/etcd) are distroless
 * static without a shell since 3.5.7 (CHANGELOG-3.5, etcd PRs #15016 and #15037), and
 * registry.k8s.io/etcd adds only a static bash as /bin/sh to 3.5.x-N (no coreutils) and
 * nothing to 3.6.x-N. Bitnami's image is Debian 12 minideb (dash, coreutils) with etcdctl on
 * PATH and uid 1001; since Bitnami's 2025 catalog change its versioned tags survive, frozen,
 * under bitnamilegacy. etcdctl 3.5 talks to etcd 3.4 to 3.6. Production clusters should
 * override it with an image they maintain, such as busybox plus etcdctl copied from
 * quay.io/coreos/etcd.
 */
export const DEFAULT_ETCD_SIDECAR_IMAGE = 'docker.io/bitnamilegacy/etcd:3.5.21-debian-12-r5';

/** Where pods reach an etcd cluster; an `EtcdCluster` satisfies it. */
export interface EtcdClusterAddress {
  /** Client URLs, e.g. `http://etcd-client.etcd.svc.cluster.local:2379`. */
  readonly clientEndpoints: readonly string[];
  /** Pods label themselves `ETCD_CLIENT_LABEL: <clusterName>` to be admitted. */
  readonly clusterName: string;
  /** Namespace of the members. */
  readonly namespace: string;
  /** Labels that select the members. */
  readonly podSelector: Record<string, string>;
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
   * Whole seconds, at least 5; keep it well above etcd's election timeout so an election
   * does not expire live registrations.
   * @default Duration.seconds(15)
   */
  readonly ttl?: Duration;
  /** How often the lease is refreshed: whole seconds, below the TTL. @default - a third of the TTL, rounded down */
  readonly keepAliveInterval?: Duration;
  /** Client certificate, key and CA for a cluster with client TLS (one Secret). @default - plain HTTP */
  readonly clientTls?: EtcdTlsOptions;
  /** Sidecar image: needs a POSIX sh, `timeout` and etcdctl. @default DEFAULT_ETCD_SIDECAR_IMAGE */
  readonly image?: string;
}

const TLS_DIR = '/etcd-client-tls';
const MIN_TTL_SECONDS = 5;
const MAX_TTL_SECONDS = 9_000_000_000; // etcd's MaxLeaseTTL
const CONTROL_OR_SPACE = /[\s\x00-\x1f\x7f]/;
/** lib/etcd/lease-registration.sh, the sidecar's script, in its ConfigMap. */
export const ETCD_LEASE_SCRIPT = packageScript('discovery-kit-etcd-lease', join(__dirname, 'lease-registration.sh'));

/**
 * Registers each pod in etcd under a lease from a sidecar (lib/etcd/lease-registration.sh):
 * it grants a lease with a TTL, puts `<keyPrefix>/<service>/<pod>` =
 * `{host, port, tags, registered_at}` attached to it, keeps the lease alive, re-registers
 * after an etcd restart, and on SIGTERM deletes the key and revokes the lease at once (before
 * the app's preStop delay ends). A crashed pod's key expires within one TTL.
 */
export class EtcdLeaseRegistration implements IServiceRegistration {
  constructor(private readonly props: EtcdLeaseRegistrationProps) {}

  public bind(target: RegistrationTarget): RegistrationConfig {
    const { scope } = target;
    const props = this.props;
    const v = new ValidationPass();
    const cluster = v.check(() => checkEtcdAddress(scope, 'registration.cluster', props.cluster));
    const port = v.check(() => registrationPort(target, props.port));
    const tls = v.check(() => resolveEtcdTls(scope, 'registration.clientTls', props.clientTls));
    const tags = v.check(() => checkTags(scope, 'registration.tags', props.tags ?? []));
    const keyPrefix = v.check(() => checkKeyPrefix(scope, 'registration.keyPrefix', props.keyPrefix ?? '/services'));
    const image = props.image ?? DEFAULT_ETCD_SIDECAR_IMAGE;
    v.check(() => checkPinnedImage(scope, 'registration.image', image));
    const ttl = v.check(() => checkWholeSeconds(scope, 'registration.ttl', props.ttl ?? Duration.seconds(15), MIN_TTL_SECONDS, MAX_TTL_SECONDS));
    const keepAlive = ttl === undefined ? undefined : v.check(() => checkWholeSeconds(scope, 'registration.keepAliveInterval',
      props.keepAliveInterval ?? Duration.seconds(Math.floor(ttl / 3)), 1, ttl - 1));
    if (cluster?.tls?.client && props.clientTls === undefined) {
      v.report(scope, 'registration.clientTls', undefined, `must be set: etcd cluster '${cluster.clusterName}' requires client certificates`);
    }
    if (cluster && tls) {
      cluster.clientEndpoints.forEach((url, i) => {
        if (url.toLowerCase().startsWith('http:')) {
          v.report(scope, `registration.cluster.clientEndpoints[${i}]`, url, 'must use https:// with clientTls: the client certificate goes over TLS only');
        }
      });
    }
    v.finish();
    return render(target, { cluster: cluster!, port: port!, tls, tags: tags!, keyPrefix: keyPrefix!, image, ttl: ttl!, keepAlive: keepAlive! });
  }
}

/** The validated registration. */
interface ResolvedEtcdLease {
  readonly cluster: EtcdClusterAddress;
  readonly port: number;
  readonly tls?: ResolvedEtcdTls;
  readonly tags: readonly string[];
  readonly keyPrefix: string;
  readonly image: string;
  /** Whole seconds. */
  readonly ttl: number;
  /** Whole seconds. */
  readonly keepAlive: number;
}

function render(target: RegistrationTarget, { cluster, port, tls, tags, keyPrefix, image, ttl, keepAlive }: ResolvedEtcdLease): RegistrationConfig {
  const tlsEnv = tls ? [
    { name: 'ETCDCTL_CACERT', value: `${TLS_DIR}/${tls.caKey}` },
    { name: 'ETCDCTL_CERT', value: `${TLS_DIR}/${tls.certKey}` },
    { name: 'ETCDCTL_KEY', value: `${TLS_DIR}/${tls.keyKey}` },
  ] : [];
  const members = podsIn(cluster.namespace, cluster.podSelector);
  return {
    registry: 'etcd',
    ...registrationSidecar(target, {
      name: 'etcd-registration',
      image,
      script: ETCD_LEASE_SCRIPT,
      // The script's whole input (see its header); etcdctl reads the ETCDCTL_* variables itself.
      env: [
        { name: 'ETCDCTL_ENDPOINTS', value: cluster.clientEndpoints.join(',') },
        ...tlsEnv,
        { name: 'ETCD_REGISTRATION_KEY_PREFIX', value: `${keyPrefix}/${target.serviceName}` },
        { name: 'ETCD_REGISTRATION_PORT', value: String(port) },
        { name: 'ETCD_REGISTRATION_TAGS', value: tags.join(',') },
        { name: 'ETCD_LEASE_TTL_SECONDS', value: String(ttl) },
        { name: 'ETCD_KEEPALIVE_INTERVAL_SECONDS', value: String(keepAlive) },
      ],
      volumeMounts: tls ? [{ name: 'etcd-client-tls', mountPath: TLS_DIR, readOnly: true }] : undefined,
      volumes: tls ? [{ name: 'etcd-client-tls', secret: { secretName: tls.secretName, defaultMode: 0o440 } }] : undefined,
    }),
    podLabels: { [ETCD_CLIENT_LABEL]: cluster.clusterName },
    egress: [{ to: [members], ports: [policyPort(cluster.clientPort)] }],
    // Deleting the key and revoking the lease are two etcdctl calls of at most 5 s each,
    // after the one in flight: up to 15 s while etcd is unreachable.
    shutdownSeconds: 15,
    consumerEnv: { ETCD_ENDPOINTS: cluster.clientEndpoints.join(','), ETCD_SERVICES_PREFIX: keyPrefix },
  };
}

/** A well-formed {@link EtcdClusterAddress}, which may come from another program's outputs. */
export function checkEtcdAddress(scope: RegistrationTarget['scope'], field: string, cluster: EtcdClusterAddress): EtcdClusterAddress {
  checkPresent(scope, field, cluster, 'the etcd cluster, such as an EtcdCluster');
  if (!Array.isArray(cluster.clientEndpoints) || cluster.clientEndpoints.length === 0) {
    invalid(scope, `${field}.clientEndpoints`, cluster.clientEndpoints, 'must list at least one client URL such as http://etcd-client.etcd.svc.cluster.local:2379');
  }
  cluster.clientEndpoints.forEach((url, i) => checkServiceUrl(scope, `${field}.clientEndpoints[${i}]`, url));
  checkDns1123Subdomain(scope, `${field}.clusterName`, cluster.clusterName);
  checkDns1123Label(scope, `${field}.namespace`, cluster.namespace);
  checkPodSelector(scope, `${field}.podSelector`, cluster.podSelector, 'the etcd member pods');
  checkPort(scope, `${field}.clientPort`, cluster.clientPort);
  return cluster;
}

function checkTags(scope: RegistrationTarget['scope'], field: string, tags: readonly string[]): readonly string[] {
  tags.forEach((tag, i) => checkDns1123Label(scope, `${field}[${i}]`, tag));
  checkUnique(scope, field, tags);
  return tags;
}

function checkKeyPrefix(scope: RegistrationTarget['scope'], field: string, prefix: string): string {
  if (typeof prefix !== 'string' || !prefix.startsWith('/') || prefix.endsWith('/') || prefix.includes('//') || CONTROL_OR_SPACE.test(prefix)) {
    invalid(scope, field, prefix, "must start with '/', not end with '/', contain no '//', whitespace or control characters, e.g. '/services'");
  }
  return prefix;
}
