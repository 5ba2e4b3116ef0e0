import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ApiObject, Cron, Duration } from 'cdk8s';
import { k8s } from 'cdk8s-plus-27';
import { Construct, IConstruct } from 'constructs';
import { podDnsConfig } from './dns-config';
import { kubeObject } from './kube-object';
import { recommendedLabels, selectorLabels } from './labels';
import { DNS_REASON, PodNetworkPolicy, clusterDnsEgress, podsIn, policyPort } from './network-policy';
import { ResourceRequirements, SMALL_SERVICE_RESOURCES, quantityValue, resolveResources } from './resources';
import { restrictedContainerSecurityContext } from './security-context';
import {
  ValidationPass, checkDns1035Label, checkDns1123Label, checkDns1123Subdomain, checkInteger, checkLabels, checkPinnedImage,
  checkQuantity, checkWholeSeconds, invalid,
} from './validation';

/**
 * What the snapshot scripts share (sourced by lib/consul/snapshot.sh and lib/etcd/snapshot.sh):
 * save, verify, publish and rotate, so a failed or corrupt snapshot never replaces a good one.
 */
export const SNAPSHOT_LIB_SCRIPT = readFileSync(join(__dirname, 'snapshot-lib.sh'), 'utf8');

/** Where the snapshot pods mount their volumes. */
export const SNAPSHOT_PATHS = {
  scripts: '/snapshot-scripts',
  snapshots: '/snapshots',
  sink: '/snapshot-sink',
  tmp: '/tmp',
  secrets: '/snapshot-secrets',
} as const;

/** A second volume that receives a copy of every verified snapshot. */
export interface SnapshotSink {
  /**
   * An existing PersistentVolumeClaim in the schedule's namespace, for example one backed by
   * NFS or an object-storage CSI driver, so snapshots survive the loss of the snapshot volume.
   * It keeps as many snapshots as the snapshot volume (`retain`).
   */
  readonly claimName: string;
}

/** What both registry snapshot schedules take besides their cluster. */
export interface SnapshotScheduleProps {
  /**
   * When a snapshot is taken, as a cdk8s `Cron` (`import { Cron } from 'cdk8s'`), for example
   * `Cron.hourly()` or `Cron.schedule({ minute: '15', hour: '*\/6' })`.
   */
  readonly schedule: Cron;
  /** IANA time zone the schedule is read in (CronJob `timeZone`). @default 'Etc/UTC' */
  readonly timeZone?: string;
  /** How many snapshots to keep, newest first; older ones are deleted after a verified new one is saved. 1 to 1000. @default 24 */
  readonly retain?: number;
  /** Name of the CronJob and its ServiceAccount, PVC, ConfigMap and NetworkPolicy (DNS-1035 label, at most 52 characters). @default '<cluster name>-snapshot' */
  readonly name?: string;
  /** Namespace of the CronJob; the Secrets it reads live there. @default - the cluster's namespace */
  readonly namespace?: string;
  /** Size of the snapshot volume: `retain` snapshots plus one in progress must fit. @default '1Gi' */
  readonly storageSize?: string;
  /** StorageClass of the snapshot volume. @default - the cluster's default StorageClass */
  readonly storageClassName?: string;
  /** Also copy each verified snapshot to this volume. @default - no copy: snapshots live on the snapshot volume only */
  readonly sink?: SnapshotSink;
  /** How late a missed run may still start (`startingDeadlineSeconds`), 10s to 1h. @default Duration.minutes(5) */
  readonly startingDeadline?: Duration;
  /** How long one run may take, retries included (`activeDeadlineSeconds`), 30s to 6h. @default Duration.minutes(10) */
  readonly activeDeadline?: Duration;
  /** Retries of a failed run (`backoffLimit`), 0 to 10. @default 2 */
  readonly backoffLimit?: number;
  /** Finished Jobs kept for inspection (`successfulJobsHistoryLimit`), 0 to 100. @default 3 */
  readonly successfulJobsHistoryLimit?: number;
  /** Failed Jobs kept for inspection (`failedJobsHistoryLimit`), 0 to 100. @default 3 */
  readonly failedJobsHistoryLimit?: number;
  /** @default - requests 100m CPU / 128Mi, limits 500m / 256Mi */
  readonly resources?: ResourceRequirements;
  /** UID, GID and fsGroup of the snapshot pod (non-root; kube-score asks for >= 10000). @default 10001 */
  readonly runAsUser?: number;
  /** Extra labels on every object (never used in selectors). @default - none */
  readonly labels?: Record<string, string>;
  /** `app.kubernetes.io/part-of`. @default - none */
  readonly partOf?: string;
}

/** The schedule after validation: plain data for the renderer. */
export interface ResolvedSnapshotSchedule {
  readonly name: string;
  readonly namespace: string;
  readonly schedule: string;
  readonly timeZone: string;
  readonly retain: number;
  readonly storageSize: string;
  readonly storageClassName?: string;
  readonly sinkClaimName?: string;
  readonly startingDeadlineSeconds: number;
  readonly activeDeadlineSeconds: number;
  readonly backoffLimit: number;
  readonly successfulJobsHistoryLimit: number;
  readonly failedJobsHistoryLimit: number;
  readonly image: string;
  readonly resources: k8s.ResourceRequirements;
  readonly runAsUser: number;
  readonly labels: Record<string, string>;
  readonly selector: Record<string, string>;
}

/** Which registry the schedule backs up, as the shared part needs to know it. */
export interface SnapshotRegistry {
  /** `app.kubernetes.io/name` of the registry: 'consul' or 'etcd'. */
  readonly app: string;
  /** The cluster's name (`app.kubernetes.io/instance`). */
  readonly clusterName: string;
  readonly clusterNamespace: string;
  readonly defaultImage: string;
}

/** `<name>-<11 characters>` Job names must stay a 63-character label. */
const MAX_NAME_LENGTH = 52;

/**
 * Checks the shared props into `v` (every problem at once, with the registry's own checks).
 * @returns the resolved schedule, or undefined when a check failed
 */
export function resolveSnapshotSchedule(
  scope: IConstruct, v: ValidationPass, props: SnapshotScheduleProps & { readonly image?: string }, registry: SnapshotRegistry,
): ResolvedSnapshotSchedule | undefined {
  const name = v.check(() => checkScheduleName(scope, props.name ?? `${registry.clusterName}-snapshot`));
  const namespace = v.check(() => checkDns1123Label(scope, 'namespace', props.namespace ?? registry.clusterNamespace));
  const schedule = v.check(() => checkCron(scope, 'schedule', props.schedule));
  const timeZone = v.check(() => checkTimeZone(scope, 'timeZone', props.timeZone ?? 'Etc/UTC'));
  const retain = v.check(() => checkInteger(scope, 'retain', props.retain ?? 24, 1, 1000));
  const storageSize = v.check(() => checkPositiveQuantity(scope, 'storageSize', props.storageSize ?? '1Gi'));
  const storageClassName = v.check(() => props.storageClassName === undefined ? undefined : checkDns1123Subdomain(scope, 'storageClassName', props.storageClassName));
  const sinkClaimName = v.check(() => props.sink === undefined ? undefined : checkDns1123Subdomain(scope, 'sink.claimName', props.sink?.claimName));
  const startingDeadlineSeconds = v.check(() => checkWholeSeconds(scope, 'startingDeadline', props.startingDeadline ?? Duration.minutes(5), 10, 3600));
  const activeDeadlineSeconds = v.check(() => checkWholeSeconds(scope, 'activeDeadline', props.activeDeadline ?? Duration.minutes(10), 30, 6 * 3600));
  const backoffLimit = v.check(() => checkInteger(scope, 'backoffLimit', props.backoffLimit ?? 2, 0, 10));
  const successfulJobsHistoryLimit = v.check(() => checkInteger(scope, 'successfulJobsHistoryLimit', props.successfulJobsHistoryLimit ?? 3, 0, 100));
  const failedJobsHistoryLimit = v.check(() => checkInteger(scope, 'failedJobsHistoryLimit', props.failedJobsHistoryLimit ?? 3, 0, 100));
  const image = props.image ?? registry.defaultImage;
  v.check(() => checkPinnedImage(scope, 'image', image));
  const resources = v.check(() => resolveResources(scope, 'resources', props.resources, SMALL_SERVICE_RESOURCES));
  const runAsUser = v.check(() => checkInteger(scope, 'runAsUser', props.runAsUser ?? 10001, 1, 2_147_483_647));
  const userLabels = v.check(() => checkLabels(scope, 'labels', props.labels ?? {}));
  const recommended = recommendedLabels({ name: registry.app, instance: registry.clusterName, component: 'snapshot', partOf: props.partOf });
  const labels = v.check(() => ({ ...userLabels, ...checkLabels(scope, 'partOf', recommended) }));
  if (!v.ok) return undefined;
  return {
    name: name!, namespace: namespace!, schedule: schedule!, timeZone: timeZone!, retain: retain!, storageSize: storageSize!,
    storageClassName, sinkClaimName, startingDeadlineSeconds: startingDeadlineSeconds!, activeDeadlineSeconds: activeDeadlineSeconds!,
    backoffLimit: backoffLimit!, successfulJobsHistoryLimit: successfulJobsHistoryLimit!, failedJobsHistoryLimit: failedJobsHistoryLimit!,
    image, resources: resources!, runAsUser: runAsUser!, labels: labels!,
    selector: selectorLabels({ name: registry.app, instance: registry.clusterName, component: 'snapshot' }),
  };
}

/** The registry-specific part of the snapshot pod. */
export interface SnapshotJobRegistrySpec {
  /** File name of the registry's script in the ConfigMap. */
  readonly scriptName: string;
  readonly script: string;
  /** The registry's settings for its CLI (address, token, TLS files). */
  readonly env: k8s.EnvVar[];
  /** Secret volumes (token files, certificates), mounted read-only under SNAPSHOT_PATHS.secrets. */
  readonly secretVolumes: { readonly name: string; readonly secret: k8s.SecretVolumeSource }[];
  /** Labels the registry's NetworkPolicy admits clients by. @default - none */
  readonly clientLabels?: Record<string, string>;
  /** Egress to the registry's API (cluster DNS is added). */
  readonly egress: k8s.NetworkPolicyEgressRule;
  /**
   * Servers whose own policy admits no such client: an ingress-only policy next to them
   * admits the snapshot pods to the API port alone.
   * @default - none (the client labels suffice)
   */
  readonly serverIngress?: { readonly namespace: string; readonly podSelector: Record<string, string>; readonly port: number };
}

/** What {@link renderSnapshotSchedule} creates. */
export interface SnapshotScheduleObjects {
  readonly cronJob: ApiObject;
  readonly persistentVolumeClaim: ApiObject;
  readonly scriptConfigMap: ApiObject;
  readonly serviceAccount: ApiObject;
  readonly networkPolicy: PodNetworkPolicy;
  readonly serverNetworkPolicy?: PodNetworkPolicy;
}

/**
 * The objects of a snapshot schedule: its ServiceAccount (no token), the scripts ConfigMap,
 * the snapshot PVC, the CronJob (one run at a time, Pod Security "restricted") and the
 * NetworkPolicy that lets its pods reach only the registry's API and cluster DNS.
 */
export function renderSnapshotSchedule(scope: Construct, s: ResolvedSnapshotSchedule, registry: SnapshotJobRegistrySpec): SnapshotScheduleObjects {
  const metadata = (name = s.name): k8s.ObjectMeta => ({ name, namespace: s.namespace, labels: s.labels });
  const serviceAccount = kubeObject(scope, 'service-account', k8s.KubeServiceAccount, { metadata: metadata(), automountServiceAccountToken: false });
  const scriptConfigMap = kubeObject(scope, 'scripts', k8s.KubeConfigMap, {
    metadata: metadata(`${s.name}-scripts`),
    data: { [registry.scriptName]: registry.script, 'snapshot-lib.sh': SNAPSHOT_LIB_SCRIPT },
  });
  const persistentVolumeClaim = kubeObject(scope, 'volume', k8s.KubePersistentVolumeClaim, {
    metadata: metadata(),
    spec: {
      accessModes: ['ReadWriteOnce'],
      storageClassName: s.storageClassName,
      resources: { requests: { storage: k8s.Quantity.fromString(s.storageSize) } },
    },
  });
  const cronJob = kubeObject(scope, 'cron-job', k8s.KubeCronJob, { metadata: metadata(), spec: cronJobSpec(scope, s, registry) });
  const networkPolicy = new PodNetworkPolicy(scope, 'network-policy', {
    name: s.name, namespace: s.namespace, labels: s.labels, podSelector: s.selector,
    // The pods serve nothing: no ingress.
    ingress: [],
    egress: [registry.egress, clusterDnsEgress(scope)],
    reasons: { egress: () => [`backup: ${s.name} saves a snapshot`, DNS_REASON] },
  });
  const server = registry.serverIngress;
  const serverNetworkPolicy = server && new PodNetworkPolicy(scope, 'server-network-policy', {
    name: `${s.name}-to-server`, namespace: server.namespace, labels: s.labels, podSelector: server.podSelector,
    policyTypes: ['Ingress'],
    ingress: [{ from: [podsIn(s.namespace, s.selector)], ports: [policyPort(server.port)] }],
    reasons: { ingress: () => [`backup: ${s.name} saves a snapshot`] },
  });
  return { cronJob, persistentVolumeClaim, scriptConfigMap, serviceAccount, networkPolicy, serverNetworkPolicy };
}

function cronJobSpec(scope: IConstruct, s: ResolvedSnapshotSchedule, registry: SnapshotJobRegistrySpec): k8s.CronJobSpec {
  const container: k8s.Container = {
    name: 'snapshot',
    image: s.image,
    imagePullPolicy: 'IfNotPresent',
    command: ['/bin/sh', `${SNAPSHOT_PATHS.scripts}/${registry.scriptName}`],
    env: [
      ...registry.env,
      { name: 'SNAPSHOT_DIR', value: SNAPSHOT_PATHS.snapshots },
      { name: 'SNAPSHOT_RETAIN', value: String(s.retain) },
      ...(s.sinkClaimName ? [{ name: 'SNAPSHOT_SINK_DIR', value: SNAPSHOT_PATHS.sink }] : []),
      { name: 'TMPDIR', value: SNAPSHOT_PATHS.tmp },
    ],
    resources: s.resources,
    securityContext: restrictedContainerSecurityContext(),
    volumeMounts: [
      { name: 'scripts', mountPath: SNAPSHOT_PATHS.scripts, readOnly: true },
      { name: 'snapshots', mountPath: SNAPSHOT_PATHS.snapshots },
      ...(s.sinkClaimName ? [{ name: 'sink', mountPath: SNAPSHOT_PATHS.sink }] : []),
      { name: 'tmp', mountPath: SNAPSHOT_PATHS.tmp },
      ...registry.secretVolumes.map((v) => ({ name: v.name, mountPath: `${SNAPSHOT_PATHS.secrets}/${v.name}`, readOnly: true })),
    ],
  };
  return {
    schedule: s.schedule,
    timeZone: s.timeZone,
    // A snapshot still running when the next is due finishes first: two would race on rotation.
    concurrencyPolicy: 'Forbid',
    startingDeadlineSeconds: s.startingDeadlineSeconds,
    successfulJobsHistoryLimit: s.successfulJobsHistoryLimit,
    failedJobsHistoryLimit: s.failedJobsHistoryLimit,
    jobTemplate: {
      metadata: { labels: s.labels },
      spec: {
        backoffLimit: s.backoffLimit,
        activeDeadlineSeconds: s.activeDeadlineSeconds,
        template: {
          metadata: { labels: { ...s.labels, ...(registry.clientLabels ?? {}) } },
          spec: {
            serviceAccountName: s.name,
            automountServiceAccountToken: false,
            enableServiceLinks: false,
            // A failed attempt's pod stays for its logs; the next attempt is a new pod.
            restartPolicy: 'Never',
            dnsConfig: podDnsConfig(scope, 'ndots'),
            securityContext: {
              runAsNonRoot: true, runAsUser: s.runAsUser, runAsGroup: s.runAsUser, fsGroup: s.runAsUser,
              fsGroupChangePolicy: 'OnRootMismatch', seccompProfile: { type: 'RuntimeDefault' },
            },
            containers: [container],
            volumes: [
              { name: 'scripts', configMap: { name: `${s.name}-scripts`, defaultMode: 0o444 } },
              { name: 'snapshots', persistentVolumeClaim: { claimName: s.name } },
              ...(s.sinkClaimName ? [{ name: 'sink', persistentVolumeClaim: { claimName: s.sinkClaimName } }] : []),
              // Scratch space (verification) as large as a snapshot can be.
              { name: 'tmp', emptyDir: { sizeLimit: k8s.Quantity.fromString(s.storageSize) } },
              ...registry.secretVolumes.map((v) => ({ name: v.name, secret: v.secret })),
            ],
          },
        },
      },
    },
  };
}

function checkScheduleName(scope: IConstruct, name: string): string {
  checkDns1035Label(scope, 'name', name);
  if (name.length > MAX_NAME_LENGTH) {
    invalid(scope, 'name', name, `must be at most ${MAX_NAME_LENGTH} characters: the CronJob controller appends '-' and an 11-character suffix to name its Jobs`);
  }
  return name;
}

function checkPositiveQuantity(scope: IConstruct, field: string, value: string): string {
  if (!(quantityValue(checkQuantity(scope, field, value)) > 0)) invalid(scope, field, value, 'must be a positive quantity such as 1Gi');
  return value;
}

const CRON_FIELDS = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'] },
  { name: 'day of week', min: 0, max: 6, names: ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'] },
] as const;

/**
 * A cdk8s `Cron` whose expression the CronJob controller parses (robfig/cron's standard
 * parser: five fields of `*`, `?`, values, `a-b` ranges and `/step`s, comma-separated).
 * @returns the expression
 */
export function checkCron(scope: IConstruct | string, field: string, cron: Cron): string {
  if (!(cron instanceof Cron)) {
    invalid(scope, field, cron, "must be a cdk8s Cron such as Cron.hourly() or Cron.schedule({ minute: '0', hour: '*/6' }) (import { Cron } from 'cdk8s')");
  }
  const expression = cron.expressionString;
  const parts = expression.trim().split(/\s+/);
  if (parts.length !== CRON_FIELDS.length) invalid(scope, field, expression, 'must have five fields: minute hour day-of-month month day-of-week');
  parts.forEach((part, i) => {
    const spec = CRON_FIELDS[i];
    const value = (text: string): number => {
      const index = 'names' in spec ? (spec.names as readonly string[]).indexOf(text.toUpperCase()) : -1;
      const n = index >= 0 ? index + (spec.min === 1 ? 1 : 0) : /^\d+$/.test(text) ? Number(text) : NaN;
      if (!(n >= spec.min && n <= spec.max)) invalid(scope, field, expression, `has ${spec.name} '${part}': values must be ${spec.min}-${spec.max}`);
      return n;
    };
    for (const item of part.split(',')) {
      const [range, step, ...extra] = item.split('/');
      if (extra.length > 0 || (step !== undefined && !/^[1-9]\d*$/.test(step))) invalid(scope, field, expression, `has ${spec.name} '${part}': a step is '/' and a positive integer`);
      if (range === '*' || (range === '?' && i % 2 === 0 && i > 0)) continue;
      const [from, to, ...more] = range.split('-');
      if (more.length > 0) invalid(scope, field, expression, `has ${spec.name} '${part}': a range is 'from-to'`);
      if (to !== undefined && value(from) > value(to)) invalid(scope, field, expression, `has ${spec.name} '${part}': a range must not run backwards`);
      value(from);
    }
  });
  return expression;
}

/** An IANA time zone name, such as the CronJob controller loads from its tz database. */
function checkTimeZone(scope: IConstruct, field: string, timeZone: string): string {
  let known = typeof timeZone === 'string' && /^[A-Za-z][A-Za-z0-9_+-]*(\/[A-Za-z0-9_+-]+)*$/.test(timeZone);
  try {
    if (known) new Intl.DateTimeFormat('en', { timeZone });
  } catch {
    known = false;
  }
  if (!known) invalid(scope, field, timeZone, "must be an IANA time zone name such as 'Etc/UTC' or 'Europe/Berlin'");
  return timeZone;
}
