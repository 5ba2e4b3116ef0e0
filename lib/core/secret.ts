import { k8s } from 'cdk8s-plus-27';
import { IConstruct } from 'constructs';
import { checkDns1123Subdomain, checkSecretKey, invalid } from './validation';

/**
 * One key of a Secret in the namespace of the pods that read it: the one shape every
 * construct takes for credentials, keys and certificates, so values never sit in a manifest.
 */
export interface SecretKeyReference {
  /** Name of the Secret (a DNS-1123 subdomain). */
  readonly secretName: string;
  /** Key in the Secret. */
  readonly key: string;
}

/** A `kubernetes.io/tls` Secret (keys `tls.crt` and `tls.key`), as cert-manager writes them. */
export interface TlsSecretReference {
  /** Name of the Secret (a DNS-1123 subdomain). */
  readonly secretName: string;
}

/** A well-formed {@link SecretKeyReference}, named field by field when it is not. */
export function checkSecretKeyReference(scope: IConstruct | string, field: string, ref: SecretKeyReference): SecretKeyReference {
  if (ref === null || typeof ref !== 'object') invalid(scope, field, ref, 'must name a Secret key: { secretName, key }');
  checkDns1123Subdomain(scope, `${field}.secretName`, ref.secretName);
  checkSecretKey(scope, `${field}.key`, ref.key);
  return ref;
}

/** A well-formed {@link TlsSecretReference}. */
export function checkTlsSecretReference(scope: IConstruct | string, field: string, ref: TlsSecretReference): TlsSecretReference {
  if (ref === null || typeof ref !== 'object') invalid(scope, field, ref, 'must name a kubernetes.io/tls Secret: { secretName }');
  checkDns1123Subdomain(scope, `${field}.secretName`, ref.secretName);
  return ref;
}

/** An environment variable read from a Secret key. */
export function secretKeyEnv(name: string, ref: SecretKeyReference): k8s.EnvVar {
  return { name, valueFrom: { secretKeyRef: { name: ref.secretName, key: ref.key } } };
}
