import { k8s } from 'cdk8s-plus-27';
import { IConstruct } from 'constructs';
import { checkDns1123Subdomain, checkInteger, checkLabels, invalid, ValidationPass } from './validation';

/** Where a registry's pods may run and how the scheduler ranks them. */
export interface PodPlacement {
  /** Node labels the pods must run on, such as dedicated registry nodes. @default - any node */
  readonly nodeSelector?: Record<string, string>;
  /** Taints the pods tolerate, such as those of dedicated registry nodes. @default - none */
  readonly tolerations?: k8s.Toleration[];
  /**
   * PriorityClass of the pods, so a full node preempts other workloads before a registry
   * member (the PriorityClass must exist; `system-cluster-critical` is admitted only in
   * kube-system unless the cluster's ResourceQuota allows it elsewhere).
   * @default - the cluster's default priority
   */
  readonly priorityClassName?: string;
}

/** What happens to a StatefulSet's data volumes. */
export enum VolumeClaimRetention {
  /** Keep the PersistentVolumeClaim (and its data) for a later pod or a manual restore. */
  RETAIN = 'Retain',
  /** Delete the PersistentVolumeClaim with the pod. */
  DELETE = 'Delete',
}

/** The StatefulSet's `persistentVolumeClaimRetentionPolicy`. */
export interface VolumeClaimRetentionPolicy {
  /** When the StatefulSet is deleted. @default VolumeClaimRetention.RETAIN */
  readonly whenDeleted?: VolumeClaimRetention;
  /** When it is scaled down. @default VolumeClaimRetention.RETAIN */
  readonly whenScaled?: VolumeClaimRetention;
}

/** How a registry's StatefulSet rolls out and keeps its data. */
export interface StatefulUpgradeOptions {
  /**
   * Staged upgrades: only pods with an ordinal at or above the partition take a changed pod
   * template; lower the partition one step at a time to roll the rest (`replicas` holds
   * every pod at the old template).
   * @default 0 (every pod rolls, highest ordinal first)
   */
  readonly updatePartition?: number;
  /**
   * Keep or delete the data volumes when the StatefulSet is deleted or scaled down.
   * @default - Kubernetes' default: keep both
   */
  readonly volumeClaimRetention?: VolumeClaimRetentionPolicy;
}

const EFFECTS = ['NoSchedule', 'PreferNoSchedule', 'NoExecute'];

/** A checked {@link PodPlacement}, as the pod spec fields it sets. */
export function resolvePlacement(scope: IConstruct, field: string, placement: PodPlacement = {}): Pick<k8s.PodSpec, 'nodeSelector' | 'tolerations' | 'priorityClassName'> {
  const v = new ValidationPass();
  if (placement.nodeSelector) v.check(() => checkLabels(scope, `${field}.nodeSelector`, placement.nodeSelector!));
  if (placement.priorityClassName !== undefined) v.check(() => checkDns1123Subdomain(scope, `${field}.priorityClassName`, placement.priorityClassName!));
  (placement.tolerations ?? []).forEach((t, i) => v.check(() => checkToleration(scope, `${field}.tolerations[${i}]`, t)));
  v.finish();
  return { nodeSelector: placement.nodeSelector, tolerations: placement.tolerations, priorityClassName: placement.priorityClassName };
}

function checkToleration(scope: IConstruct, field: string, t: k8s.Toleration): void {
  if (t.operator !== undefined && t.operator !== 'Equal' && t.operator !== 'Exists') invalid(scope, `${field}.operator`, t.operator, "must be 'Equal' or 'Exists'");
  if (t.operator === 'Exists' && t.value) invalid(scope, `${field}.value`, t.value, "must be empty with operator 'Exists'");
  if (t.effect !== undefined && !EFFECTS.includes(t.effect)) invalid(scope, `${field}.effect`, t.effect, `must be one of ${EFFECTS.join(', ')}`);
  if (t.tolerationSeconds !== undefined && t.effect !== 'NoExecute') {
    invalid(scope, `${field}.tolerationSeconds`, t.tolerationSeconds, "applies only to effect 'NoExecute'");
  }
}

/** The checked StatefulSet fields of {@link StatefulUpgradeOptions}. */
export function resolveStatefulUpgrade(scope: IConstruct, field: string, options: StatefulUpgradeOptions, replicas: number): Pick<k8s.StatefulSetSpec, 'updateStrategy' | 'persistentVolumeClaimRetentionPolicy'> {
  const v = new ValidationPass();
  const partition = options.updatePartition === undefined ? undefined
    : v.check(() => checkInteger(scope, `${field}.updatePartition`, options.updatePartition!, 0, replicas));
  const retention = options.volumeClaimRetention;
  for (const key of ['whenDeleted', 'whenScaled'] as const) {
    const value = retention?.[key];
    if (value !== undefined && !Object.values(VolumeClaimRetention).includes(value)) {
      v.report(scope, `${field}.volumeClaimRetention.${key}`, value, `must be one of ${Object.values(VolumeClaimRetention).join(', ')}`);
    }
  }
  v.finish();
  return {
    // One pod at a time, each Ready (and, for Consul, a voter) before the next: quorum holds.
    updateStrategy: { type: 'RollingUpdate', ...(partition === undefined ? {} : { rollingUpdate: { partition } }) },
    persistentVolumeClaimRetentionPolicy: retention && {
      whenDeleted: retention.whenDeleted ?? VolumeClaimRetention.RETAIN,
      whenScaled: retention.whenScaled ?? VolumeClaimRetention.RETAIN,
    },
  };
}
