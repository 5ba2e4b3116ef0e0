import { ApiObject, GroupVersionKind, Lazy } from 'cdk8s';
import { k8s } from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import { KUBE_JSON_PLAN } from './kube-json-plan';

/** A cdk8s-plus-27 L1 class (`k8s.KubeDeployment`, ...): its GVK and the type of its props. */
export interface L1Class<P> {
  readonly GVK: GroupVersionKind;
  readonly name: string;
  new (scope: Construct, id: string, props: P): ApiObject;
}

/**
 * The one way this package builds a Kubernetes object: props typed with the cdk8s-plus-27 L1
 * types, converted to Kubernetes JSON once, at construction, and held by a plain `ApiObject`.
 * The conversion is the one cdk8s-plus-27's generated mappings (`k8s.toJson_*`) perform,
 * field renames included (`clusterIp` → `clusterIP`, `hostPid` → `hostPID`; see
 * kube-json-plan.ts), at a fraction of their cost. Unlike on the L1 classes, which apply
 * JSON patches before their mapping, `addJsonPatch` on every object works on Kubernetes
 * field names.
 */
export function kubeObject<P extends object>(scope: Construct, id: string, l1: L1Class<P>, props: P): ApiObject {
  return new ApiObject(scope, id, { ...l1.GVK, ...toKubeJson(props, `${l1.name}Props`) as object });
}

/**
 * Kubernetes JSON of a value of L1 type `type`: renamed fields get their JSON names,
 * IntOrString, Quantity and Date become their values, and Lazy values stay lazy and convert
 * when produced. Copy-on-write: subtrees with nothing to convert are returned as they are.
 */
export function toKubeJson(value: unknown, type?: string): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (value instanceof k8s.IntOrString || value instanceof k8s.Quantity) return value.value;
  if (value instanceof Date) return value.toISOString();
  if (value instanceof Lazy) return Lazy.any({ produce: () => toKubeJson(value.produce(), type) });
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const converted = toKubeJson(value[i], type);
      if (converted !== value[i]) (copy ??= [...value])[i] = converted;
    }
    return copy ?? value;
  }
  if (value.constructor !== Object) return value;
  const plan = type === undefined ? undefined : KUBE_JSON_PLAN[type];
  const mapOf = type?.startsWith('*') ? type.slice(1) : undefined;
  let copy: Record<string, unknown> | undefined;
  for (const key in value) {
    const original = (value as Record<string, unknown>)[key];
    const converted = toKubeJson(original, mapOf ?? plan?.nested?.[key]);
    const jsonKey = plan?.rename?.[key];
    if (jsonKey !== undefined) {
      copy ??= { ...value };
      delete copy[key];
      copy[jsonKey] = converted;
    } else if (converted !== original) {
      (copy ??= { ...value })[key] = converted;
    }
  }
  return copy ?? value;
}
