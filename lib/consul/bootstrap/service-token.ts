import { Construct, IConstruct } from 'constructs';
import { k8s } from 'cdk8s-plus-27';
import { CONSUL_SERVICE_TOKEN_CA_KEY, CONSUL_SERVICE_TOKEN_LABEL, ConsulServiceTokenProps } from './props';
import { kubeObject } from '../../core/kube-object';
import { recommendedLabels } from '../../core/labels';
import { SecretKeyReference, checkSecretKeyReference } from '../../core/secret';
import { checkDns1035Label, checkDns1123Label, checkDns1123Subdomain, checkLabels, checkPresent, invalid, ValidationPass } from '../../core/validation';

/** A {@link ConsulServiceToken} declaration, validated. */
export interface ResolvedServiceToken {
  readonly clusterName: string;
  /** The Consul namespace, where the declaration lives. */
  readonly consulNamespace: string;
  /** The bootstrap's ServiceAccount. */
  readonly serviceAccountName: string;
  readonly serviceName: string;
  /** The service's namespace, where the token Secret is written. */
  readonly namespace: string;
  readonly secret: SecretKeyReference;
  readonly labels: Record<string, string>;
}

/**
 * The one validation pass of a {@link ConsulServiceToken}'s props; `fieldPrefix` names where
 * they came from (e.g. `registration.aclToken.` when a registration declares the token).
 */
export function resolveServiceToken(scope: IConstruct, props: ConsulServiceTokenProps, fieldPrefix = ''): ResolvedServiceToken {
  const v = new ValidationPass();
  const bootstrap = checkPresent(scope, `${fieldPrefix}bootstrap`, props?.bootstrap, "the platform's ConsulBootstrap (or ConsulBootstrap.fromAttributes)");
  const clusterName = v.check(() => checkDns1035Label(scope, `${fieldPrefix}bootstrap.clusterName`, bootstrap.clusterName), 'invalid');
  const consulNamespace = v.check(() => checkDns1123Label(scope, `${fieldPrefix}bootstrap.namespace`, bootstrap.namespace), 'invalid');
  const serviceAccountName = v.check(() => checkDns1123Subdomain(scope, `${fieldPrefix}bootstrap.serviceAccountName`, bootstrap.serviceAccountName));
  const serviceName = v.check(() => checkDns1035Label(scope, `${fieldPrefix}serviceName`, props.serviceName), 'invalid');
  const namespace = v.check(() => checkDns1123Label(scope, `${fieldPrefix}namespace`, props.namespace), 'invalid');
  // The default Secret is named after the service: checked only once that name is valid.
  const secret = props.secret !== undefined || serviceName !== 'invalid'
    ? v.check(() => checkSecretKeyReference(scope, `${fieldPrefix}secret`, props.secret ?? { secretName: `${serviceName}-consul-token`, key: 'token' }))
    : undefined;
  if (secret?.key === CONSUL_SERVICE_TOKEN_CA_KEY) {
    v.report(scope, `${fieldPrefix}secret.key`, secret.key, `must not be '${CONSUL_SERVICE_TOKEN_CA_KEY}': the bootstrap writes the agents' CA bundle under that key of the same Secret`);
  }
  const userLabels = v.check(() => checkLabels(scope, `${fieldPrefix}labels`, props.labels ?? {}), {});
  v.finish();
  const labels = { ...userLabels, ...recommendedLabels({ name: serviceName, instance: serviceName, component: 'consul-token' }) };
  return { clusterName, consulNamespace, serviceAccountName: serviceAccountName!, serviceName, namespace, secret: secret!, labels };
}

/**
 * Asks the platform's {@link ConsulBootstrap} for a Consul ACL token with the service
 * identity of one service, written into a Secret in the service's namespace
 * ({@link tokenSecret}). It lives in the app's chart, so nobody keeps a list of services: a
 * labelled ConfigMap in the Consul namespace declares the service (the bootstrap lists them),
 * and a Role in the service's namespace lets the bootstrap's ServiceAccount write exactly that
 * Secret (plus `create` on Secrets, which RBAC cannot limit by name). The token arrives on the
 * bootstrap's next run. A `ConsulAgentRegistration` with
 * `aclToken: ConsulAgentToken.fromBootstrap(...)` declares its service's token itself.
 */
export class ConsulServiceToken extends Construct {
  /** Where the token is written. */
  public readonly tokenSecret: SecretKeyReference;

  constructor(scope: Construct, id: string, props: ConsulServiceTokenProps) {
    super(scope, id);
    const v = new ValidationPass();
    const resolved = v.check(() => resolveServiceToken(this, props));
    const existing = resolved && declared(this).get(declarationKey(resolved));
    if (existing) {
      v.report(this, 'serviceName', resolved.serviceName, `must be declared once per namespace: ${existing.node.path} already declares the token of ${resolved.serviceName} in ${resolved.namespace}`);
    }
    v.finish();
    const spec = resolved!;
    this.tokenSecret = spec.secret;
    declared(this).set(declarationKey(spec), this);
    const { clusterName, consulNamespace, serviceName, namespace, secret, labels } = spec;
    kubeObject(this, 'declaration', k8s.KubeConfigMap, {
      metadata: { name: `${clusterName}-token-${serviceName}.${namespace}`, namespace: consulNamespace, labels: { ...labels, [CONSUL_SERVICE_TOKEN_LABEL]: clusterName } },
      data: { service: serviceName, namespace, secretName: secret.secretName, key: secret.key },
    });
    const roleName = `${clusterName}-token-${serviceName}`;
    kubeObject(this, 'role', k8s.KubeRole, {
      metadata: { name: roleName, namespace, labels },
      rules: [
        { apiGroups: [''], resources: ['secrets'], resourceNames: [secret.secretName], verbs: ['get', 'update', 'patch'] },
        { apiGroups: [''], resources: ['secrets'], verbs: ['create'] },
      ],
    });
    kubeObject(this, 'role-binding', k8s.KubeRoleBinding, {
      metadata: { name: roleName, namespace, labels },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: roleName },
      subjects: [{ kind: 'ServiceAccount', name: spec.serviceAccountName, namespace: consulNamespace }],
    });
  }
}

/** Per App: the declarations made so far, by cluster, namespace and service. */
const declarations = new WeakMap<IConstruct, Map<string, ConsulServiceToken>>();

function declared(scope: IConstruct): Map<string, ConsulServiceToken> {
  const root = scope.node.root;
  const perApp = declarations.get(root) ?? new Map<string, ConsulServiceToken>();
  declarations.set(root, perApp);
  return perApp;
}

function declarationKey(spec: Pick<ResolvedServiceToken, 'clusterName' | 'namespace' | 'serviceName'>): string {
  return `${spec.clusterName}/${spec.namespace}/${spec.serviceName}`;
}

/**
 * A declaration of `spec`'s token that {@link declareServiceToken} may make or reuse: one that
 * the App already has (from another Deployment registering under the same Consul service name
 * in the namespace, or made by hand) must write the same Secret.
 */
export function checkDeclarable(scope: IConstruct, field: string, spec: ResolvedServiceToken): void {
  const existing = declared(scope).get(declarationKey(spec));
  const { secretName, key } = existing?.tokenSecret ?? spec.secret;
  if (secretName !== spec.secret.secretName || key !== spec.secret.key) {
    invalid(scope, field, spec.secret, `must match the token Secret ${secretName} (key ${key}) that ${existing!.node.path} already declares for ${spec.serviceName} in ${spec.namespace}`);
  }
}

/**
 * The App's declaration of `spec`'s token (checked by {@link checkDeclarable}): the one made
 * already, else a new one under `scope`, so the bootstrap sees one declaration per service.
 */
export function declareServiceToken(scope: Construct, props: ConsulServiceTokenProps, spec: ResolvedServiceToken): ConsulServiceToken {
  return declared(scope).get(declarationKey(spec)) ?? new ConsulServiceToken(scope, 'consul-service-token', props);
}
