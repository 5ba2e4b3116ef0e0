import { ApiObject } from 'cdk8s';
import { Construct } from 'constructs';
import {
  CONSUL_CRD_API_VERSION, CONSUL_MESH_POD_ANNOTATIONS, CircuitBreakerOptions, ConsulConfigEntryProps, ServiceDefaultsOptions,
  checkCircuitBreaker, configEntryMetadata, serviceDefaultsSpec,
} from './circuit-breaker';
import { ConsulServiceResolver } from './service-resolver';

/** Props of {@link ConsulServiceDefaults}. */
export interface ConsulServiceDefaultsProps extends ConsulConfigEntryProps, ServiceDefaultsOptions {}

/**
 * A consul-k8s `ServiceDefaults` (consul.hashicorp.com/v1alpha1): the service's protocol and how
 * its sidecar treats its upstreams — connect timeout, Envoy circuit-breaker limits and passive
 * health checks (outlier detection), service-wide and per upstream. Only mesh (sidecar)
 * traffic honours it; DNS and HTTP-API discovery do not.
 */
export class ConsulServiceDefaults extends Construct {
  /** Consul service name, the resource's metadata.name. */
  public readonly serviceName: string;
  public readonly namespace: string;
  public readonly resource: ApiObject;

  constructor(scope: Construct, id: string, props: ConsulServiceDefaultsProps) {
    super(scope, id);
    const metadata = configEntryMetadata(this, id, props);
    const spec = serviceDefaultsSpec(this, '', props);
    this.serviceName = metadata.name;
    this.namespace = metadata.namespace;
    this.resource = new ApiObject(this, 'resource', { apiVersion: CONSUL_CRD_API_VERSION, kind: 'ServiceDefaults', metadata, spec });
  }
}

/** Arguments of {@link addCircuitBreaker}. */
export interface AddCircuitBreakerOptions {
  /** Consul service name (DNS-1035 label). */
  readonly serviceName: string;
  readonly namespace: string;
  /** Labels of the service's objects. */
  readonly labels: Record<string, string>;
  readonly options: CircuitBreakerOptions;
  /** Prefix of the field names in validation errors. @default 'circuitBreaker' */
  readonly field?: string;
}

/** What {@link addCircuitBreaker} created, and what the workload must carry. */
export interface CircuitBreakerResources {
  readonly serviceDefaults: ConsulServiceDefaults;
  /** Present when `options.resolver` is set. */
  readonly serviceResolver?: ConsulServiceResolver;
  /**
   * Pod template annotations that put the workload into the mesh; without them the config
   * entries have no effect. See {@link CONSUL_MESH_POD_SECURITY_NOTE} for Pod Security.
   */
  readonly podAnnotations: Record<string, string>;
}

/**
 * Adds the ServiceDefaults (and, with `options.resolver`, the ServiceResolver) of a mesh service
 * under `scope` as children `consul-service-defaults` and `consul-service-resolver`. Everything
 * is validated first, with errors naming `scope` and `<field>.<option>`, so a bad option leaves
 * nothing behind.
 */
export function addCircuitBreaker(scope: Construct, args: AddCircuitBreakerOptions): CircuitBreakerResources {
  const { options } = args;
  const entry = { serviceName: args.serviceName, namespace: args.namespace, labels: args.labels };
  configEntryMetadata(scope, args.serviceName, entry);
  checkCircuitBreaker(scope, args.field ?? 'circuitBreaker', options);
  const serviceDefaults = new ConsulServiceDefaults(scope, 'consul-service-defaults', { ...options, ...entry });
  const serviceResolver = options.resolver
    ? new ConsulServiceResolver(scope, 'consul-service-resolver', { ...options.resolver, protocol: options.protocol, ...entry })
    : undefined;
  return { serviceDefaults, serviceResolver, podAnnotations: { ...CONSUL_MESH_POD_ANNOTATIONS } };
}
