import type { ApiServer } from './apiserver';
import type { RegisteredResource } from '../../support/pulumi-mocks';

/** An object's identity as `<Kind> <namespace>/<name>` (`<Kind> <name>` when cluster-scoped). */
export type ObjectIdentity = string;

interface ObjectRef {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly namespace?: string; readonly deletionTimestamp?: string };
}

export function identityOf(obj: ObjectRef): ObjectIdentity {
  return `${obj.kind} ${obj.metadata.namespace ? `${obj.metadata.namespace}/` : ''}${obj.metadata.name}`;
}

/** The Kubernetes objects a program registered (under mocks), its provider left out. */
export function registeredObjects(registered: readonly RegisteredResource[]): ObjectRef[] {
  return registered.filter((r) => r.type.startsWith('kubernetes:')).map((r) => r.inputs as ObjectRef);
}

// What the API server creates by itself.
const SYSTEM_NAMESPACES = new Set(['default', 'kube-system', 'kube-public', 'kube-node-lease']);

/**
 * The objects of the given kinds in the API server (`kubectl get -A`), except the API server's
 * own (the system namespaces and what is in them, `system:` RBAC objects).
 */
export async function liveObjects(api: ApiServer, kinds: readonly ObjectRef[]): Promise<ObjectRef[]> {
  const resources = [...new Set(kinds.map(({ apiVersion, kind }) => {
    const group = apiVersion.includes('/') ? apiVersion.split('/')[0] : '';
    return group ? `${kind.toLowerCase()}.${group}` : kind.toLowerCase();
  }))];
  const { stdout } = await api.kubectl(['get', resources.join(','), '--all-namespaces', '-o', 'json']);
  return (JSON.parse(stdout).items as ObjectRef[]).filter(({ kind, metadata }) =>
    !SYSTEM_NAMESPACES.has(kind === 'Namespace' ? metadata.name : metadata.namespace ?? '') && !metadata.name.startsWith('system:'));
}
