import { ApiObject, GroupVersionKind, Lazy } from 'cdk8s';
import { k8s } from 'cdk8s-plus-27';
import { Construct } from 'constructs';

/** Spec fields whose Kubernetes JSON name differs from the cdk8s-plus-27 L1 prop name. */
const SPEC_JSON_NAMES: Record<string, Record<string, string>> = {
  Service: { clusterIp: 'clusterIP', loadBalancerIp: 'loadBalancerIP' },
};

/** A cdk8s-plus-27 L1 class (`k8s.KubeDeployment`, ...): its GVK and the type of its props. */
export interface L1Class<P> {
  readonly GVK: GroupVersionKind;
  new (scope: Construct, id: string, props: P): ApiObject;
}

/**
 * A Kubernetes object from props typed with the cdk8s-plus-27 L1 types, rendered by a plain
 * `ApiObject`: IntOrString and Quantity become their values (inside Lazy values too) once,
 * at construction. The L1 classes (`k8s.Kube*`) instead run their generated TS-to-JSON
 * mapping over every object on every synthesis (about a quarter of a service's synthesis time).
 * JSON patches on the result use Kubernetes field names.
 */
export function kubeObject<P extends { readonly metadata?: k8s.ObjectMeta; readonly spec?: object }>(
  scope: Construct, id: string, l1: L1Class<P>, props: P,
): ApiObject {
  const renames = SPEC_JSON_NAMES[l1.GVK.kind];
  const spec = renames && props.spec && Object.fromEntries(Object.entries(props.spec).map(([k, v]) => [renames[k] ?? k, v]));
  return new ApiObject(scope, id, { ...l1.GVK, ...toKubeJson(spec ? { ...props, spec } : props) as object });
}

/**
 * Plain Kubernetes JSON of an L1-typed value; Lazy values stay lazy and convert when produced.
 * Copy-on-write: subtrees without IntOrString, Quantity or Lazy are returned as they are.
 */
export function toKubeJson(value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (value instanceof k8s.IntOrString || value instanceof k8s.Quantity) return value.value;
  if (value instanceof Lazy) return Lazy.any({ produce: () => toKubeJson(value.produce()) });
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const converted = toKubeJson(value[i]);
      if (converted !== value[i]) (copy ??= [...value])[i] = converted;
    }
    return copy ?? value;
  }
  if (value.constructor !== Object) return value;
  let copy: Record<string, unknown> | undefined;
  for (const key in value) {
    const original = (value as Record<string, unknown>)[key];
    const converted = toKubeJson(original);
    if (converted !== original) (copy ??= { ...value })[key] = converted;
  }
  return copy ?? value;
}
