/**
 * The part of the consul-k8s CRDs (`consul.hashicorp.com/v1alpha1`) this package writes, typed
 * after the Go types in hashicorp/consul-k8s control-plane/api/v1alpha1 (servicedefaults_types.go,
 * serviceresolver_types.go, serviceintentions_types.go; type names kept). Written by hand: the
 * Go module proxy refuses consul-k8s, so its CRDs cannot be fed to `cdk8s import` here as the
 * Gateway API's are (tools/import-crds.sh). test/mesh-crd-types.test.ts checks an object that
 * sets every field below against the transcribed CRD schemas (test/support/consul-crd-schemas.ts).
 *
 * Go durations (`metav1.Duration`) are strings such as "1m30s"; `*Ms` fields are milliseconds.
 */

/** `UpstreamLimits`: Envoy circuit-breaker thresholds (Go `*int`). */
export interface UpstreamLimits {
  readonly maxConnections?: number;
  readonly maxPendingRequests?: number;
  readonly maxConcurrentRequests?: number;
}

/** `PassiveHealthCheck`: Envoy outlier detection. */
export interface PassiveHealthCheck {
  /** Go duration. */
  readonly interval?: string;
  readonly maxFailures?: number;
  readonly enforcingConsecutive5xx?: number;
  readonly maxEjectionPercent?: number;
  /** Go duration. */
  readonly baseEjectionTime?: string;
}

/** `Upstream`: how the service's proxy calls an upstream (all of them for `defaults`). */
export interface Upstream {
  /** The upstream's Consul name; set on overrides only. */
  readonly name?: string;
  readonly protocol?: string;
  readonly connectTimeoutMs?: number;
  readonly limits?: UpstreamLimits;
  readonly passiveHealthCheck?: PassiveHealthCheck;
}

/** `Upstreams`. */
export interface Upstreams {
  readonly defaults?: Upstream;
  readonly overrides?: Upstream[];
}

/** `ServiceDefaultsSpec`. */
export interface ServiceDefaultsSpec {
  readonly protocol: string;
  readonly upstreamConfig?: Upstreams;
}

/** `ServiceResolverFailoverTarget`. */
export interface ServiceResolverFailoverTarget {
  readonly service?: string;
  readonly datacenter?: string;
  readonly peer?: string;
}

/** `ServiceResolverFailover`. */
export interface ServiceResolverFailover {
  readonly datacenters?: string[];
  readonly targets?: ServiceResolverFailoverTarget[];
}

/** `ServiceResolverSpec`. */
export interface ServiceResolverSpec {
  /** Go duration. */
  readonly connectTimeout?: string;
  /** Go duration. */
  readonly requestTimeout?: string;
  /** `ServiceResolverFailoverMap`, keyed by subset name (`*` for every subset). */
  readonly failover?: Record<string, ServiceResolverFailover>;
}

/** `IntentionDestination`. */
export interface IntentionDestination {
  readonly name: string;
}

/** `SourceIntention`, L4: an action, no L7 permissions. */
export interface SourceIntention {
  readonly name: string;
  readonly action: 'allow' | 'deny';
}

/** `ServiceIntentionsSpec`. */
export interface ServiceIntentionsSpec {
  readonly destination: IntentionDestination;
  readonly sources: SourceIntention[];
}
