import { k8s } from 'cdk8s-plus-27';
import { IConstruct } from 'constructs';
import { checkQuantity, invalid } from './validation';

/** CPU and memory quantities, such as `{ cpu: '250m', memory: '256Mi' }`. */
export interface ComputeResources {
  /** @default - see the owning construct */
  readonly cpu?: string;
  /** @default - see the owning construct */
  readonly memory?: string;
}

/** Container resource requests and limits; unset fields take the construct's defaults. */
export interface ResourceRequirements {
  /** @default - the construct's default requests, capped at the limits */
  readonly requests?: ComputeResources;
  /** @default - the construct's default limits */
  readonly limits?: ComputeResources;
}

/** Requests and limits with every field set. */
export interface ResolvedResources {
  readonly requests: Required<ComputeResources>;
  readonly limits: Required<ComputeResources>;
}

/** Defaults for a small stateless service. */
export const SMALL_SERVICE_RESOURCES: ResolvedResources = {
  requests: { cpu: '100m', memory: '128Mi' },
  limits: { cpu: '500m', memory: '256Mi' },
};

const SUFFIXES: Record<string, number> = {
  '': 1, m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18,
  Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60,
};

/** The numeric value of a Kubernetes quantity (cores or bytes). */
export function quantityValue(quantity: string): number {
  const match = /^\+?([0-9.]+)([a-zA-Z]*|[eE][+-]?[0-9]+)$/.exec(quantity);
  if (!match) return NaN;
  const [, amount, suffix] = match;
  return /^[eE]/.test(suffix) ? Number(amount + suffix) : Number(amount) * (SUFFIXES[suffix] ?? NaN);
}

/**
 * Validates requests and limits (quantities, request ≤ limit) and fills in defaults. A
 * request left unset is capped at its limit, so lowering only a limit stays valid.
 */
export function resolveResources(
  scope: IConstruct, field: string, given: ResourceRequirements = {}, defaults: ResolvedResources = SMALL_SERVICE_RESOURCES,
): k8s.ResourceRequirements {
  const limits: Record<string, k8s.Quantity> = {};
  const requests: Record<string, k8s.Quantity> = {};
  for (const resource of ['cpu', 'memory'] as const) {
    const limit = checkQuantity(scope, `${field}.limits.${resource}`, given.limits?.[resource] ?? defaults.limits[resource]);
    const defaultRequest = quantityValue(defaults.requests[resource]) > quantityValue(limit) ? limit : defaults.requests[resource];
    const request = checkQuantity(scope, `${field}.requests.${resource}`, given.requests?.[resource] ?? defaultRequest);
    if (quantityValue(request) > quantityValue(limit)) {
      invalid(scope, `${field}.requests.${resource}`, request, `must not exceed ${field}.limits.${resource} (${limit})`);
    }
    limits[resource] = k8s.Quantity.fromString(limit);
    requests[resource] = k8s.Quantity.fromString(request);
  }
  return { requests, limits };
}
