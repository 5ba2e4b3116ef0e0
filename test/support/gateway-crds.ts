import { Chart, Testing } from 'cdk8s';
import * as gw from '../../lib/gateway/imports/gateway.networking.k8s.io';
import { KubeObject, registerCustomValidator } from './schema';

// The kinds exposeVia emits, by their generated classes (lib/gateway/imports, from the CRDs).
const KINDS = { HTTPRoute: gw.HttpRoute, GRPCRoute: gw.GrpcRoute, ReferenceGrant: gw.ReferenceGrant } as const;

/**
 * Offline structural check of Gateway API objects: the generated classes' JSON mappers keep
 * only the fields the CRD schema declares, so an object that does not survive a round trip
 * through its class has a field the CRD does not know (or lost one). The CRDs' own value
 * checks run on the real API server (test/e2e/apply-dist.test.ts).
 */
export function registerGatewayValidators(): void {
  for (const [kind, Class] of Object.entries(KINDS)) {
    registerCustomValidator(Class.GVK.apiVersion, kind, (obj: KubeObject) => {
      const { apiVersion: _v, kind: _k, ...props } = obj;
      const roundTrip = new Class(new Chart(Testing.app(), 'check'), 'o', props as never).toJson();
      if (canonical(roundTrip) !== canonical(obj)) {
        throw new Error(`${kind} ${obj.metadata.namespace}/${obj.metadata.name} has fields the ${kind} CRD does not declare:\n${canonical(obj)}\nvs\n${canonical(roundTrip)}`);
      }
    });
  }
}

/** JSON with sorted keys: the mappers write fields in schema order. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v) => (v && typeof v === 'object' && !Array.isArray(v)
    ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b))) : v));
}
