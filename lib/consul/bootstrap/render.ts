import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { k8s } from 'cdk8s-plus-27';
import { CONSUL_AGENT_POLICY_RULES, CONSUL_DNS_READ_POLICY_RULES, CONSUL_SNAPSHOT_POLICY_RULES } from '../config';
import { CONSUL_SERVICE_TOKEN_LABEL } from './props';
import { ResolvedConsulBootstrap } from './resolve';
import { restrictedContainerSecurityContext } from '../../core/security-context';

/** The job's script (lib/consul/bootstrap/bootstrap.sh). */
export const CONSUL_BOOTSTRAP_SCRIPT = readFileSync(join(__dirname, 'bootstrap.sh'), 'utf8');

/** Where the job's container mounts its files. */
export const BOOTSTRAP_PATHS = {
  scripts: '/consul-bootstrap',
  work: '/tmp',
  ca: '/consul-bootstrap-ca',
} as const;

/** The ConfigMap with the script and the two policies' rules. */
export function scriptConfigMap(spec: ResolvedConsulBootstrap): k8s.KubeConfigMapProps {
  return {
    metadata: metadata(spec, `${spec.name}-scripts`),
    data: {
      'bootstrap.sh': CONSUL_BOOTSTRAP_SCRIPT, 'agent-policy.hcl': CONSUL_AGENT_POLICY_RULES, 'dns-policy.hcl': CONSUL_DNS_READ_POLICY_RULES,
      ...(spec.snapshotToken ? { 'snapshot-policy.hcl': CONSUL_SNAPSHOT_POLICY_RULES } : {}),
    },
  };
}

export function serviceAccount(spec: ResolvedConsulBootstrap): k8s.KubeServiceAccountProps {
  // Only the bootstrap pods mount its token (the pod spec turns it on).
  return { metadata: metadata(spec, spec.name), automountServiceAccountToken: false };
}

/** The Secrets the job writes in the Consul namespace, by name. */
export function ownSecretNames(spec: ResolvedConsulBootstrap): string[] {
  const { secrets } = spec;
  return [
    ...(spec.gossipKey ? [secrets.gossipKey.secretName] : []),
    ...(spec.tls ? [secrets.ca.secretName, secrets.caKey.secretName, secrets.serverCertificate.secretName] : []),
    ...(spec.acl ? [secrets.bootstrapToken.secretName, secrets.aclTokens.secretName] : []),
    ...(spec.snapshotToken ? [secrets.snapshotToken.secretName] : []),
  ];
}

/**
 * Least privilege in the Consul namespace: read and update only its own Secrets, by name.
 * Kubernetes RBAC cannot limit `create` by name (the name is not known when it authorizes a
 * create), so the job may create any Secret here; it cannot read or change the others. It
 * lists ConfigMaps for the per-service token declarations (RBAC cannot limit list by label).
 */
export function role(spec: ResolvedConsulBootstrap): k8s.KubeRoleProps {
  return {
    metadata: metadata(spec, spec.name),
    rules: [
      { apiGroups: [''], resources: ['secrets'], resourceNames: ownSecretNames(spec), verbs: ['get', 'update', 'patch'] },
      { apiGroups: [''], resources: ['secrets'], verbs: ['create'] },
      ...(spec.acl ? [{ apiGroups: [''], resources: ['configmaps'], verbs: ['list'] }] : []),
    ],
  };
}

export function roleBinding(spec: ResolvedConsulBootstrap): k8s.KubeRoleBindingProps {
  return {
    metadata: metadata(spec, spec.name),
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: spec.name },
    subjects: [{ kind: 'ServiceAccount', name: spec.name, namespace: spec.namespace }],
  };
}

/** The script's whole input. */
export function bootstrapEnv(spec: ResolvedConsulBootstrap): k8s.EnvVar[] {
  const { secrets, tls } = spec;
  const env: Record<string, string> = {
    NAMESPACE: spec.namespace,
    CLUSTER_NAME: spec.clusterName,
    STORE_LABELS: JSON.stringify(spec.labels),
    WORK_DIR: BOOTSTRAP_PATHS.work,
  };
  if (spec.gossipKey) Object.assign(env, { GOSSIP_KEY_STORE: secrets.gossipKey.secretName, GOSSIP_KEY: secrets.gossipKey.key });
  if (tls) {
    Object.assign(env, {
      TLS_CA_STORE: secrets.ca.secretName,
      TLS_CA_KEY_STORE: secrets.caKey.secretName,
      TLS_SERVER_STORE: secrets.serverCertificate.secretName,
      TLS_DATACENTER: tls.datacenter,
      TLS_DOMAIN: tls.domain,
      TLS_SERVER_DNS_NAMES: tls.dnsNames.join(','),
      TLS_CA_DAYS: String(tls.caDays),
      TLS_SERVER_DAYS: String(tls.serverDays),
      TLS_RENEW_DAYS: String(tls.renewDays),
    });
  }
  if (spec.acl) {
    Object.assign(env, {
      CONSUL_HTTP_ADDR: spec.consulAddress,
      ...(spec.caCert ? { CONSUL_CACERT: `${BOOTSTRAP_PATHS.ca}/ca.crt` } : {}),
      CONSUL_WAIT_SECONDS: String(spec.consulWaitSeconds),
      BOOTSTRAP_STORE: secrets.bootstrapToken.secretName,
      BOOTSTRAP_STORE_KEY: secrets.bootstrapToken.key,
      ACL_STORE: secrets.aclTokens.secretName,
      ACL_STORE_KEY: secrets.aclTokens.key,
      AGENT_POLICY_FILE: `${BOOTSTRAP_PATHS.scripts}/agent-policy.hcl`,
      DNS_POLICY_FILE: `${BOOTSTRAP_PATHS.scripts}/dns-policy.hcl`,
      ANONYMOUS_DNS: String(spec.anonymousDnsRead),
      SERVICE_SELECTOR: `${CONSUL_SERVICE_TOKEN_LABEL}=${spec.clusterName}`,
      ...(spec.snapshotToken ? {
        SNAPSHOT_POLICY_FILE: `${BOOTSTRAP_PATHS.scripts}/snapshot-policy.hcl`,
        SNAPSHOT_STORE: secrets.snapshotToken.secretName,
        SNAPSHOT_STORE_KEY: secrets.snapshotToken.key,
      } : {}),
    });
  }
  return Object.entries(env).map(([name, value]) => ({ name, value }));
}

/** The pod of the Job and of the CronJob's jobs: Pod Security "restricted", its token mounted. */
export function podTemplate(spec: ResolvedConsulBootstrap): k8s.PodTemplateSpec {
  const caVolume: k8s.Volume[] = spec.caCert
    ? [{ name: 'ca', secret: { secretName: spec.caCert.secretName, items: [{ key: spec.caCert.key, path: 'ca.crt' }], defaultMode: 0o444 } }]
    : [];
  return {
    metadata: { labels: { ...spec.labels, ...spec.podSelector } },
    spec: {
      serviceAccountName: spec.name,
      // The job talks to the API server with this token (and nothing else does).
      automountServiceAccountToken: true,
      dnsConfig: spec.dnsConfig,
      enableServiceLinks: false,
      restartPolicy: 'Never',
      securityContext: {
        runAsNonRoot: true, runAsUser: spec.runAsUser, runAsGroup: spec.runAsGroup, fsGroup: spec.runAsGroup, seccompProfile: { type: 'RuntimeDefault' },
      },
      containers: [{
        name: 'bootstrap',
        image: spec.image,
        imagePullPolicy: 'IfNotPresent',
        command: ['/bin/sh', `${BOOTSTRAP_PATHS.scripts}/bootstrap.sh`],
        env: bootstrapEnv(spec),
        resources: spec.resources,
        securityContext: restrictedContainerSecurityContext(),
        volumeMounts: [
          { name: 'scripts', mountPath: BOOTSTRAP_PATHS.scripts, readOnly: true },
          { name: 'work', mountPath: BOOTSTRAP_PATHS.work },
          ...(spec.caCert ? [{ name: 'ca', mountPath: BOOTSTRAP_PATHS.ca, readOnly: true }] : []),
        ],
      }],
      volumes: [
        { name: 'scripts', configMap: { name: `${spec.name}-scripts` } },
        { name: 'work', emptyDir: { medium: 'Memory', sizeLimit: k8s.Quantity.fromString('16Mi') } },
        ...caVolume,
      ],
    },
  };
}

/**
 * The one-off Job that bootstraps at deploy. A Job's pod template is immutable, so its name
 * carries a hash of it: a changed template is a new Job, an unchanged one stays the same.
 */
export function job(spec: ResolvedConsulBootstrap, template: k8s.PodTemplateSpec, script: string): k8s.KubeJobProps {
  const hash = createHash('sha256').update(JSON.stringify(template) + script).digest('hex').slice(0, 8);
  return {
    metadata: metadata(spec, `${spec.name}-${hash}`),
    spec: {
      // Servers may take minutes to elect a leader; each attempt waits consulWait for them.
      backoffLimit: 10,
      ttlSecondsAfterFinished: 86_400,
      template,
    },
  };
}

/** The reconcile: new services' tokens, deleted Secrets, certificate renewal. */
export function cronJob(spec: ResolvedConsulBootstrap, template: k8s.PodTemplateSpec): k8s.KubeCronJobProps {
  return {
    metadata: metadata(spec, spec.name),
    spec: {
      schedule: spec.schedule,
      concurrencyPolicy: 'Forbid',
      startingDeadlineSeconds: 300,
      successfulJobsHistoryLimit: 1,
      failedJobsHistoryLimit: 3,
      jobTemplate: { spec: { backoffLimit: 2, activeDeadlineSeconds: spec.consulWaitSeconds + 300, template } },
    },
  };
}

function metadata(spec: ResolvedConsulBootstrap, name: string): k8s.ObjectMeta {
  return { name, namespace: spec.namespace, labels: spec.labels };
}
