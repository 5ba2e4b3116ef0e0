import { Construct } from 'constructs';
import { k8s } from 'cdk8s-plus-27';
import { CONSUL_SERVICE_TOKEN_LABEL, ConsulServiceTokenProps } from './props';
import { kubeObject } from '../../core/kube-object';
import { recommendedLabels } from '../../core/labels';
import { SecretKeyReference, checkSecretKeyReference } from '../../core/secret';
import { checkDns1035Label, checkDns1123Label, checkDns1123Subdomain, checkLabels, checkPresent, ValidationPass } from '../../core/validation';

/**
 * Asks the platform's {@link ConsulBootstrap} for a Consul ACL token with the service
 * identity of one service, written into a Secret in the service's namespace
 * ({@link tokenSecret}, for `ConsulAgentRegistration.aclToken`). It lives in the app's
 * chart, so nobody keeps a list of services: a labelled ConfigMap in the Consul namespace
 * declares the service (the bootstrap lists them), and a Role in the service's namespace lets
 * the bootstrap's ServiceAccount write exactly that Secret (plus `create` on Secrets, which
 * RBAC cannot limit by name). The token arrives on the bootstrap's next run.
 */
export class ConsulServiceToken extends Construct {
  /** Where the token is written. */
  public readonly tokenSecret: SecretKeyReference;

  constructor(scope: Construct, id: string, props: ConsulServiceTokenProps) {
    super(scope, id);
    const v = new ValidationPass();
    const bootstrap = checkPresent(this, 'bootstrap', props?.bootstrap, "the platform's ConsulBootstrap (or ConsulBootstrap.fromAttributes)");
    const clusterName = v.check(() => checkDns1035Label(this, 'bootstrap.clusterName', bootstrap.clusterName), 'invalid');
    const consulNamespace = v.check(() => checkDns1123Label(this, 'bootstrap.namespace', bootstrap.namespace), 'invalid');
    v.check(() => checkDns1123Subdomain(this, 'bootstrap.serviceAccountName', bootstrap.serviceAccountName));
    const serviceName = v.check(() => checkDns1035Label(this, 'serviceName', props.serviceName), 'invalid');
    const namespace = v.check(() => checkDns1123Label(this, 'namespace', props.namespace), 'invalid');
    const secret = v.check(() => checkSecretKeyReference(this, 'secret', props.secret ?? { secretName: `${props.serviceName}-consul-token`, key: 'token' }));
    const userLabels = v.check(() => checkLabels(this, 'labels', props.labels ?? {}), {});
    v.finish();

    this.tokenSecret = secret!;
    const labels = { ...userLabels, ...recommendedLabels({ name: serviceName, instance: serviceName, component: 'consul-token' }) };
    const objectName = `${clusterName}-token-${serviceName}.${namespace}`;
    kubeObject(this, 'declaration', k8s.KubeConfigMap, {
      metadata: { name: objectName, namespace: consulNamespace, labels: { ...labels, [CONSUL_SERVICE_TOKEN_LABEL]: clusterName } },
      data: { service: serviceName, namespace, secretName: secret!.secretName, key: secret!.key },
    });
    const roleName = `${clusterName}-token-${serviceName}`;
    kubeObject(this, 'role', k8s.KubeRole, {
      metadata: { name: roleName, namespace, labels },
      rules: [
        { apiGroups: [''], resources: ['secrets'], resourceNames: [secret!.secretName], verbs: ['get', 'update', 'patch'] },
        { apiGroups: [''], resources: ['secrets'], verbs: ['create'] },
      ],
    });
    kubeObject(this, 'role-binding', k8s.KubeRoleBinding, {
      metadata: { name: roleName, namespace, labels },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: roleName },
      subjects: [{ kind: 'ServiceAccount', name: bootstrap.serviceAccountName, namespace: consulNamespace }],
    });
  }
}
