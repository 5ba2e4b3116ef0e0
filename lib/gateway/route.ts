import { IConstruct } from 'constructs';
import { checkDns1123Subdomain, invalid, ValidationPass } from '../core/validation';
import { GatewayReference } from './gateway';
import * as gw from './imports/gateway.networking.k8s.io';

/** HTTP methods a route can match. */
export type HttpMethod = keyof typeof gw.HttpRouteSpecRulesMatchesMethod;
const HTTP_METHODS: readonly string[] = Object.values(gw.HttpRouteSpecRulesMatchesMethod);

/**
 * One way a request matches the route; a request matching any of a route's matches is sent
 * to the service. HTTP ports take the path, method and header fields, gRPC ports the
 * `grpc*` and header fields.
 */
export interface RouteMatch {
  /** HTTP: paths starting with this prefix, whole segments (`/api` matches `/api/x`, not `/apix`). @default - any path */
  readonly pathPrefix?: string;
  /** HTTP: exactly this path; exclusive with `pathPrefix`. @default - any path */
  readonly exactPath?: string;
  /** HTTP: only this method. @default - any method */
  readonly method?: HttpMethod;
  /** gRPC: the fully qualified service, e.g. `payments.v1.Payments`. @default - any service */
  readonly grpcService?: string;
  /** gRPC: the method name, e.g. `Charge`. @default - any method */
  readonly grpcMethod?: string;
  /** Headers the request must carry, with exactly these values. @default - none */
  readonly headers?: Record<string, string>;
}

/** Options of `DiscoverableService.exposeVia`. */
export interface ExposeOptions {
  /**
   * The port to expose. Its `appProtocol` picks the route: `grpc` makes a GRPCRoute,
   * `http` an HTTPRoute; the Gateway API standard channel routes nothing else.
   * @default - the service's first port
   */
  readonly port?: string;
  /** Host names the route serves (`*.` wildcards allowed). @default - the listener's host names */
  readonly hostnames?: string[];
  /** @default - every request the listener passes on (HTTP: path prefix `/`) */
  readonly matches?: RouteMatch[];
  /** The route's `metadata.name`. @default `<service>-<port name>` */
  readonly routeName?: string;
}

/** What a route needs of the service it sends traffic to. */
export interface RouteBackend {
  readonly scope: IConstruct;
  readonly serviceName: string;
  readonly namespace: string;
  readonly labels: Record<string, string>;
  readonly port: { readonly name: string; readonly port: number; readonly protocol: string; readonly appProtocol: string };
}

/** A validated route, ready to render. */
export interface ResolvedRoute {
  readonly kind: 'HTTPRoute' | 'GRPCRoute';
  readonly name: string;
  readonly namespace: string;
  readonly labels: Record<string, string>;
  readonly parentRef: { readonly name: string; readonly namespace: string; readonly sectionName?: string };
  readonly hostnames?: string[];
  readonly matches: readonly RouteMatch[];
  readonly backend: { readonly name: string; readonly namespace: string; readonly port: number };
  /** Set when the route lives outside the Service's namespace: the Service's grant of the reference. */
  readonly referenceGrant?: { readonly name: string; readonly namespace: string };
}

const WILDCARD_HOSTNAME = /^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const HEADER_NAME = /^[A-Za-z0-9!#$%&'*+\-.^_`|~]{1,256}$/;
const GRPC_SERVICE = /^\.?[A-Za-z_][A-Za-z_0-9]*(\.[A-Za-z_][A-Za-z_0-9]*)*$/;
const GRPC_METHOD = /^[A-Za-z_][A-Za-z_0-9]*$/;

/** Validates one `exposeVia` call in one pass: every bad option is reported together. */
export function resolveRoute(gateway: GatewayReference, backend: RouteBackend, options: ExposeOptions): ResolvedRoute {
  const { scope, port } = backend;
  const v = new ValidationPass();
  if (!gateway || typeof gateway.podPeer !== 'object') {
    invalid(scope, 'exposeVia.gateway', gateway, 'must be a Gateway reference: Gateway.fromAttributes({ name, namespace, podSelector })');
  }
  const grpc = port.appProtocol === 'grpc';
  if (port.protocol !== 'TCP' || !(grpc || port.appProtocol === 'http')) {
    v.report(scope, 'exposeVia.port', port.name, `must be a TCP port with appProtocol 'http' (HTTPRoute) or 'grpc' (GRPCRoute), not ${port.protocol} '${port.appProtocol}'`);
  }
  const name = v.check(() => checkDns1123Subdomain(scope, 'exposeVia.routeName', options.routeName ?? `${backend.serviceName}-${port.name}`));
  const hostnames = options.hostnames;
  hostnames?.forEach((h, i) => {
    if (typeof h !== 'string' || h.length > 253 || !WILDCARD_HOSTNAME.test(h)) {
      v.report(scope, `exposeVia.hostnames[${i}]`, h, "must be a lowercase DNS name, optionally starting with '*.' (no IP address, no port)");
    }
  });
  (options.matches ?? []).forEach((m, i) => checkMatch(v, scope, `exposeVia.matches[${i}]`, m, grpc));
  v.finish();
  const namespace = gateway.routeNamespace ?? backend.namespace;
  return {
    kind: grpc ? 'GRPCRoute' : 'HTTPRoute',
    name: name!,
    namespace,
    labels: backend.labels,
    parentRef: { name: gateway.name, namespace: gateway.namespace, ...(gateway.sectionName ? { sectionName: gateway.sectionName } : {}) },
    hostnames: hostnames?.length ? [...hostnames] : undefined,
    matches: options.matches ?? [],
    backend: { name: backend.serviceName, namespace: backend.namespace, port: port.port },
    referenceGrant: namespace === backend.namespace ? undefined : { name: `${namespace}-${name}`.slice(0, 253), namespace: backend.namespace },
  };
}

function checkMatch(v: ValidationPass, scope: IConstruct, field: string, m: RouteMatch, grpc: boolean): void {
  const fields = (keys: (keyof RouteMatch)[]) => keys.filter((k) => m?.[k] !== undefined);
  const wrong = fields(grpc ? ['pathPrefix', 'exactPath', 'method'] : ['grpcService', 'grpcMethod']);
  if (wrong.length) v.report(scope, field, m, `must not set ${wrong.join(', ')} on a${grpc ? ' gRPC' : 'n HTTP'} port`);
  if (m?.pathPrefix !== undefined && m.exactPath !== undefined) v.report(scope, field, m, 'must set pathPrefix or exactPath, not both');
  for (const key of ['pathPrefix', 'exactPath'] as const) {
    const path = m?.[key];
    if (path !== undefined && (typeof path !== 'string' || !path.startsWith('/') || path.length > 1024 || /\/\/|\/\.\.?(\/|$)|[#?%]/.test(path))) {
      v.report(scope, `${field}.${key}`, path, "must be an absolute path starting with '/', without '//', '/./', '/../', '?', '#' or '%'");
    }
  }
  if (m?.method !== undefined && !HTTP_METHODS.includes(m.method)) v.report(scope, `${field}.method`, m.method, `must be one of ${HTTP_METHODS.join(', ')}`);
  if (m?.grpcService !== undefined && !GRPC_SERVICE.test(m.grpcService)) v.report(scope, `${field}.grpcService`, m.grpcService, 'must be a fully qualified protobuf service name, e.g. payments.v1.Payments');
  if (m?.grpcMethod !== undefined && !GRPC_METHOD.test(m.grpcMethod)) v.report(scope, `${field}.grpcMethod`, m.grpcMethod, 'must be a protobuf method name, e.g. Charge');
  for (const header of Object.keys(m?.headers ?? {})) {
    if (!HEADER_NAME.test(header)) v.report(scope, `${field}.headers`, header, 'must be an HTTP header name (RFC 7230 token)');
  }
}

// Renderers: a resolved route in, generated Gateway API props out.

function metadata(route: ResolvedRoute, name: string, namespace: string): { name: string; namespace: string; labels: Record<string, string> } {
  return { name, namespace, labels: route.labels };
}

function backendRefs(route: ResolvedRoute): { name: string; namespace?: string; port: number }[] {
  const { name, namespace, port } = route.backend;
  return [{ name, ...(namespace === route.namespace ? {} : { namespace }), port }];
}

const headerMatches = (headers: Record<string, string> | undefined) =>
  (headers ? Object.entries(headers).map(([name, value]) => ({ name, value })) : undefined);

export function httpRouteProps(route: ResolvedRoute): gw.HttpRouteProps {
  return {
    metadata: metadata(route, route.name, route.namespace),
    spec: {
      parentRefs: [route.parentRef],
      hostnames: route.hostnames,
      rules: [{
        matches: route.matches.length ? route.matches.map((m) => ({
          path: m.pathPrefix !== undefined ? { type: gw.HttpRouteSpecRulesMatchesPathType.PATH_PREFIX, value: m.pathPrefix }
            : m.exactPath !== undefined ? { type: gw.HttpRouteSpecRulesMatchesPathType.EXACT, value: m.exactPath } : undefined,
          method: m.method === undefined ? undefined : gw.HttpRouteSpecRulesMatchesMethod[m.method],
          headers: headerMatches(m.headers),
        })) : undefined,
        backendRefs: backendRefs(route),
      }],
    },
  };
}

export function grpcRouteProps(route: ResolvedRoute): gw.GrpcRouteProps {
  return {
    metadata: metadata(route, route.name, route.namespace),
    spec: {
      parentRefs: [route.parentRef],
      hostnames: route.hostnames,
      rules: [{
        matches: route.matches.length ? route.matches.map((m) => ({
          method: m.grpcService !== undefined || m.grpcMethod !== undefined ? { service: m.grpcService, method: m.grpcMethod } : undefined,
          headers: headerMatches(m.headers),
        })) : undefined,
        backendRefs: backendRefs(route),
      }],
    },
  };
}

/** Lets the route, from its namespace, reference exactly this Service. */
export function referenceGrantProps(route: ResolvedRoute, grant: NonNullable<ResolvedRoute['referenceGrant']>): gw.ReferenceGrantProps {
  return {
    metadata: metadata(route, grant.name, grant.namespace),
    spec: {
      from: [{ group: 'gateway.networking.k8s.io', kind: route.kind, namespace: route.namespace }],
      to: [{ group: '', kind: 'Service', name: route.backend.name }],
    },
  };
}
