import { basename } from 'node:path';
import { k8s } from 'cdk8s-plus-27';
import { ResolvedConsulCluster, Role } from './cluster-spec';
import { CONSUL_PATHS } from './config';

/** Secret files readable by the owner and the fsGroup only. */
const SECRET_FILE_MODE = 0o440;

export interface SecretVolume {
  readonly volume: k8s.Volume;
  readonly mount: k8s.VolumeMount;
}

/** TLS files and the ACL tokens fragment of a role's pods, each a Secret volume with its mount. */
export function secretVolumes(spec: ResolvedConsulCluster, role: Role): SecretVolume[] {
  const { tls, aclTokensSecret } = spec;
  const volumes: SecretVolume[] = [];
  if (tls) {
    const certificate = role === 'server' ? tls.serverCertificate : tls.agentCertificate;
    volumes.push(secretVolume('tls-ca', dirOf(CONSUL_PATHS.caFile), tls.ca.secretName, { [tls.ca.key]: 'ca.crt' }));
    if (certificate) volumes.push(secretVolume('tls-cert', dirOf(CONSUL_PATHS.certFile), certificate.secretName, { 'tls.crt': 'tls.crt', 'tls.key': 'tls.key' }));
  }
  if (aclTokensSecret) {
    // Optional: the pods must start before the tokens exist (they are made with `consul acl
    // bootstrap`, which needs running servers); the entrypoint reloads when it appears.
    volumes.push(secretVolume('acl-tokens', CONSUL_PATHS.aclDir, aclTokensSecret.secretName, { [aclTokensSecret.key]: basename(CONSUL_PATHS.aclTokensFile) }, true));
  }
  return volumes;
}

/** A Secret mounted read-only at `mountPath`, with `items` mapping keys to file names. */
function secretVolume(name: string, mountPath: string, secretName: string, items: Record<string, string>, optional?: boolean): SecretVolume {
  return {
    volume: { name, secret: { secretName, items: Object.entries(items).map(([key, path]) => ({ key, path })), defaultMode: SECRET_FILE_MODE, optional } },
    mount: { name, mountPath, readOnly: true },
  };
}

export function dirOf(filePath: string): string {
  return filePath.slice(0, filePath.lastIndexOf('/'));
}
