import { describe, expect, it } from 'vitest';
import type { ServiceDefaultsSpec, ServiceIntentionsSpec, ServiceResolverSpec, Upstream } from '../lib/mesh/consul-crd-types';
import { crdValidator } from './support/consul-crds';
import { SERVICE_DEFAULTS_SCHEMA, SERVICE_INTENTIONS_SCHEMA, SERVICE_RESOLVER_SCHEMA } from './support/consul-crd-schemas';

/**
 * The hand-written consul-k8s spec types (lib/mesh/consul-crd-types.ts) against the transcribed
 * CRD schemas: an object of each type with every field set must pass the closed schema, so a
 * field the types spell differently from the CRD fails here. `Every<T>` makes each field
 * required, so a field added to the types does not compile here until it is set below.
 */
type Every<T> = T extends readonly (infer U)[] ? Every<U>[] : T extends object ? { -readonly [K in keyof T]-?: Every<T[K]> } : T;

const upstream: Every<Upstream> = {
  name: 'inventory-service',
  protocol: 'http',
  connectTimeoutMs: 1500,
  limits: { maxConnections: 100, maxPendingRequests: 50, maxConcurrentRequests: 200 },
  passiveHealthCheck: { interval: '10s', maxFailures: 5, enforcingConsecutive5xx: 80, maxEjectionPercent: 50, baseEjectionTime: '30s' },
};
const serviceDefaults: Every<ServiceDefaultsSpec> = { protocol: 'http', upstreamConfig: { defaults: upstream, overrides: [upstream] } };
const serviceResolver: Every<ServiceResolverSpec> = {
  connectTimeout: '3s',
  requestTimeout: '20s',
  failover: { '*': { datacenters: ['dc2'], targets: [{ service: 'payment-service', datacenter: 'dc3', peer: 'eu' }] } },
};
const serviceIntentions: Every<ServiceIntentionsSpec> = { destination: { name: 'payment-service' }, sources: [{ name: 'checkout', action: 'allow' }] };

const object = (kind: string, spec: unknown) => ({ apiVersion: 'consul.hashicorp.com/v1alpha1', kind, metadata: { name: 'payment-service', namespace: 'production' }, spec });

describe('the consul-k8s spec types', () => {
  it.each([
    ['ServiceDefaults', SERVICE_DEFAULTS_SCHEMA, serviceDefaults],
    ['ServiceResolver', SERVICE_RESOLVER_SCHEMA, serviceResolver],
    ['ServiceIntentions', SERVICE_INTENTIONS_SCHEMA, serviceIntentions],
  ] as const)('name only fields of the %s CRD schema', (kind, schema, spec) => {
    expect(() => crdValidator(kind, schema)(object(kind, spec))).not.toThrow();
  });

  it('would be caught spelling a field differently from the CRD', () => {
    const misspelt = { protocol: 'http', upstreamConfig: { defaults: { connectTimeoutMS: 1500 } } };
    expect(() => crdValidator('ServiceDefaults', SERVICE_DEFAULTS_SCHEMA)(object('ServiceDefaults', misspelt)))
      .toThrow(/upstreamConfig\/defaults must NOT have additional properties \('connectTimeoutMS'\)/);
    // @ts-expect-error -- and the type refuses it before any test runs.
    const typed: Upstream = { connectTimeoutMS: 1500 };
    expect(typed).toBeDefined();
  });
});
