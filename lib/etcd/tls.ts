import { k8s } from 'cdk8s-plus-27';
import { IConstruct } from 'constructs';
import type { EtcdTlsOptions } from './cluster-props';
import { checkDns1123Subdomain, checkSecretKey, checkUnique, invalid } from '../core/validation';

export type TlsKind = 'client' | 'peer';
export const TLS_KINDS: readonly TlsKind[] = ['client', 'peer'];

const TLS_MOUNT = '/etc/etcd/tls';

export interface ResolvedEtcdTls {
  readonly secretName: string;
  readonly caKey: string;
  readonly certKey: string;
  readonly keyKey: string;
}

/** Validates TLS Secret references (cluster members and clients alike) and fills in the key defaults. */
export function resolveEtcdTls(scope: IConstruct, field: string, options: EtcdTlsOptions | undefined): ResolvedEtcdTls | undefined {
  if (options === undefined) return undefined;
  if (!options?.secretName) {
    invalid(scope, `${field}.secretName`, options?.secretName,
      'must name the Secret with the CA certificate, certificate and key: TLS cannot be on without certificates');
  }
  const tls = {
    secretName: checkDns1123Subdomain(scope, `${field}.secretName`, options.secretName),
    caKey: checkSecretKey(scope, `${field}.caKey`, options.caKey ?? 'ca.crt'),
    certKey: checkSecretKey(scope, `${field}.certKey`, options.certKey ?? 'tls.crt'),
    keyKey: checkSecretKey(scope, `${field}.keyKey`, options.keyKey ?? 'tls.key'),
  };
  const keyFields = ['caKey', 'certKey', 'keyKey'];
  checkUnique(scope, (i) => `${field}.${keyFields[i]}`, [tls.caKey, tls.certKey, tls.keyKey]);
  return tls;
}

/** Where a TLS half's files are mounted. */
export function tlsDir(kind: TlsKind): string {
  return `${TLS_MOUNT}/${kind}`;
}

/** The flags that point etcd at the mounted TLS files and require certificates of the other side. */
export function tlsArgs(kind: TlsKind): string[] {
  const prefix = kind === 'peer' ? '--peer-' : '--';
  const dir = tlsDir(kind);
  return [
    `${prefix}trusted-ca-file=${dir}/ca.crt`,
    `${prefix}cert-file=${dir}/tls.crt`,
    `${prefix}key-file=${dir}/tls.key`,
    `${prefix}client-cert-auth=true`,
  ];
}

export function tlsVolume(kind: TlsKind, tls: ResolvedEtcdTls): k8s.Volume {
  return {
    name: `${kind}-tls`,
    secret: {
      secretName: tls.secretName,
      items: [{ key: tls.caKey, path: 'ca.crt' }, { key: tls.certKey, path: 'tls.crt' }, { key: tls.keyKey, path: 'tls.key' }],
      // Readable by the fsGroup etcd runs in, by no one else.
      defaultMode: 0o440,
    },
  };
}
