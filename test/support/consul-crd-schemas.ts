/**
 * openAPIV3Schema of the consul-k8s ServiceDefaults and ServiceResolver CRDs (v1alpha1),
 * transcribed without the `description` texts (which do not affect validation) and without
 * `status` (never written by this package). Repeated shapes are shared constants; the CRDs
 * spell them out in full, with identical content.
 *
 * Source: hashicorp/consul-k8s at commit 6b1b1346443b70a26a27c2e18d5a089a56a8bc80 (main after
 * the chart 1.5.1 release of July 2024; controller-gen v0.12.1):
 * - charts/consul/templates/crd-servicedefaults.yaml
 * - control-plane/config/crd/bases/consul.hashicorp.com_serviceresolvers.yaml, whose spec
 *   matches charts/consul/templates/crd-serviceresolvers.yaml (commit 085c812761439c0a1be774dc7158eb441901099f).
 */
export type OpenApiSchema = { readonly [key: string]: unknown };

const string = { type: 'string' } as const;
const integer = { type: 'integer' } as const;
const int32 = { type: 'integer', format: 'int32' } as const;
const int64 = { type: 'integer', format: 'int64' } as const;
const boolean = { type: 'boolean' } as const;
const strings = { type: 'array', items: string } as const;
const meshGateway = { type: 'object', properties: { mode: string } } as const;

function crd(spec: OpenApiSchema): OpenApiSchema {
  return {
    type: 'object',
    properties: { apiVersion: string, kind: string, metadata: { type: 'object' }, spec },
  };
}

const upstream = {
  type: 'object',
  properties: {
    connectTimeoutMs: integer,
    envoyClusterJSON: string,
    envoyListenerJSON: string,
    limits: {
      type: 'object',
      properties: { maxConcurrentRequests: integer, maxConnections: integer, maxPendingRequests: integer },
    },
    meshGateway,
    name: string,
    namespace: string,
    partition: string,
    passiveHealthCheck: {
      type: 'object',
      properties: { baseEjectionTime: string, enforcingConsecutive5xx: int32, interval: string, maxEjectionPercent: int32, maxFailures: int32 },
    },
    peer: string,
    protocol: string,
  },
} as const;

export const SERVICE_DEFAULTS_SCHEMA = crd({
  type: 'object',
  properties: {
    balanceInboundConnections: string,
    destination: { type: 'object', properties: { addresses: strings, port: int32 } },
    envoyExtensions: {
      type: 'array',
      items: {
        type: 'object',
        properties: { arguments: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true }, name: string, required: boolean },
      },
    },
    expose: {
      type: 'object',
      properties: {
        checks: boolean,
        paths: { type: 'array', items: { type: 'object', properties: { listenerPort: integer, localPathPort: integer, path: string, protocol: string } } },
      },
    },
    externalSNI: string,
    localConnectTimeoutMs: integer,
    localRequestTimeoutMs: integer,
    maxInboundConnections: integer,
    meshGateway,
    mode: string,
    mutualTLSMode: string,
    protocol: string,
    rateLimits: {
      type: 'object',
      properties: {
        instanceLevel: {
          type: 'object',
          properties: {
            requestsMaxBurst: integer,
            requestsPerSecond: integer,
            routes: {
              type: 'array',
              items: {
                type: 'object',
                properties: { pathExact: string, pathPrefix: string, pathRegex: string, requestsMaxBurst: integer, requestsPerSecond: integer },
              },
            },
          },
        },
      },
    },
    transparentProxy: { type: 'object', properties: { dialedDirectly: boolean, outboundListenerPort: integer } },
    upstreamConfig: { type: 'object', properties: { defaults: upstream, overrides: { type: 'array', items: upstream } } },
  },
});

export const SERVICE_RESOLVER_SCHEMA = crd({
  type: 'object',
  properties: {
    connectTimeout: string,
    defaultSubset: string,
    failover: {
      type: 'object',
      additionalProperties: {
        type: 'object',
        properties: {
          datacenters: strings,
          namespace: string,
          policy: { type: 'object', properties: { mode: string, regions: strings } },
          samenessGroup: string,
          service: string,
          serviceSubset: string,
          targets: {
            type: 'array',
            items: {
              type: 'object',
              properties: { datacenter: string, namespace: string, partition: string, peer: string, service: string, serviceSubset: string },
            },
          },
        },
      },
    },
    loadBalancer: {
      type: 'object',
      properties: {
        hashPolicies: {
          type: 'array',
          items: {
            type: 'object',
            properties: {
              cookieConfig: { type: 'object', properties: { path: string, session: boolean, ttl: string } },
              field: string,
              fieldValue: string,
              sourceIP: boolean,
              terminal: boolean,
            },
          },
        },
        leastRequestConfig: { type: 'object', properties: { choiceCount: int32 } },
        policy: string,
        ringHashConfig: { type: 'object', properties: { maximumRingSize: int64, minimumRingSize: int64 } },
      },
    },
    prioritizeByLocality: { type: 'object', properties: { mode: string } },
    redirect: {
      type: 'object',
      properties: {
        datacenter: string, namespace: string, partition: string, peer: string, samenessGroup: string, service: string, serviceSubset: string,
      },
    },
    requestTimeout: string,
    subsets: { type: 'object', additionalProperties: { type: 'object', properties: { filter: string, onlyPassing: boolean } } },
  },
});

/**
 * ServiceIntentions, the L4 subset this package writes plus the sibling fields of a source,
 * from the Go types of hashicorp/consul-k8s v1.9.11 (commit 2280543a),
 * control-plane/api/v1alpha1/serviceintentions_types.go: `action` is allow or deny, and a
 * source has either an action or L7 permissions (not transcribed: never written here).
 */
export const SERVICE_INTENTIONS_SCHEMA: OpenApiSchema = crd({
  type: 'object',
  properties: {
    destination: { type: 'object', properties: { name: string, namespace: string } },
    sources: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          name: string, namespace: string, peer: string, partition: string, samenessGroup: string, description: string,
          action: { type: 'string', enum: ['allow', 'deny'] },
        },
      },
    },
  },
});
