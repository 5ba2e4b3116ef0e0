import { IConstruct } from 'constructs';
import { invalid } from './validation';

/** Per App: `<namespace>/<Service name>` to the path of the construct that claimed it. */
const claims = new WeakMap<IConstruct, Map<string, string>>();

/**
 * Claims the names of the Services a construct synthesizes (the names DNS and discovery
 * see; its other objects share them). Two constructs that would write a Service with the
 * same namespace and name (also from two charts of one App) are rejected at once, naming
 * both construct paths, instead of synthesizing duplicates that one apply silently
 * overwrites with the other.
 */
export function claimServiceNames(scope: IConstruct, namespace: string, names: readonly string[]): void {
  const root = scope.node.root;
  const taken = claims.get(root) ?? new Map<string, string>();
  claims.set(root, taken);
  for (const name of names) {
    const owner = taken.get(`${namespace}/${name}`);
    if (owner !== undefined) {
      invalid(scope, 'name', name, `must be unique per namespace: '${owner}' already defines Service '${name}' in namespace '${namespace}'`);
    }
  }
  names.forEach((name) => taken.set(`${namespace}/${name}`, scope.node.path));
}
