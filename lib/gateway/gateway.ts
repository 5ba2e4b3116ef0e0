import { k8s } from 'cdk8s-plus-27';
import { podsIn } from '../core/network-policy';
import { checkDns1123Label, checkDns1123Subdomain, checkPodSelector, checkPresent, ValidationPass } from '../core/validation';

/** What a program needs to know of a Gateway API `Gateway` it does not define: see {@link Gateway.fromAttributes}. */
export interface GatewayAttributes {
  /** The Gateway's `metadata.name`. */
  readonly name: string;
  /** The Gateway's namespace. */
  readonly namespace: string;
  /**
   * The listener routes attach to (`parentRefs[].sectionName`).
   * @default - every listener of the Gateway that admits the route
   */
  readonly sectionName?: string;
  /**
   * The namespace routes to this Gateway live in. Leave it out when the listeners admit routes
   * from the services' namespaces (`allowedRoutes.namespaces.from: All` or a `Selector`). Set it
   * (usually to `namespace`) when they admit only their own namespace (`from: Same`): the route
   * then references the Service across namespaces, which a ReferenceGrant in the Service's
   * namespace must allow, and `exposeVia` adds one.
   * @default - the exposed service's namespace
   */
  readonly routeNamespace?: string;
  /**
   * Labels of the pods that carry the Gateway's traffic (the data plane, e.g. Envoy Gateway's
   * `gateway.envoyproxy.io/owning-gateway-name: <name>` or Istio's
   * `gateway.networking.k8s.io/gateway-name: <name>`): the exposed service's NetworkPolicy
   * admits exactly them.
   */
  readonly podSelector: Record<string, string>;
  /** The namespace those pods run in. @default - the Gateway's namespace */
  readonly podNamespace?: string;
}

/** A Gateway as the services it exposes see it: where routes attach and who forwards the traffic. */
export interface GatewayReference {
  readonly name: string;
  readonly namespace: string;
  /** The listener routes attach to, if one is named. */
  readonly sectionName?: string;
  /** Where routes to this Gateway live; `undefined`: in the exposed service's namespace. */
  readonly routeNamespace?: string;
  /** The Gateway's data-plane pods, for NetworkPolicy rules. */
  readonly podPeer: k8s.NetworkPolicyPeer;
}

/** Gateway API Gateways defined elsewhere (usually by the platform team). */
export class Gateway {
  /** A Gateway named by its attributes, validated in one pass. */
  public static fromAttributes(attributes: GatewayAttributes): GatewayReference {
    const scope = 'Gateway.fromAttributes';
    const v = new ValidationPass();
    const name = v.check(() => checkDns1123Subdomain(scope, 'name', checkPresent(scope, 'name', attributes?.name, "the Gateway's metadata.name")));
    const namespace = v.check(() => checkDns1123Label(scope, 'namespace', checkPresent(scope, 'namespace', attributes?.namespace, "the Gateway's namespace")));
    const sectionName = attributes?.sectionName === undefined ? undefined : v.check(() => checkDns1123Subdomain(scope, 'sectionName', attributes.sectionName!));
    const routeNamespace = attributes?.routeNamespace === undefined ? undefined : v.check(() => checkDns1123Label(scope, 'routeNamespace', attributes.routeNamespace!));
    const podSelector = v.check(() => checkPodSelector(scope, 'podSelector',
      checkPresent(scope, 'podSelector', attributes?.podSelector, "the labels of the Gateway's data-plane pods"), "the Gateway's data-plane pods"));
    const podNamespace = attributes?.podNamespace === undefined ? namespace : v.check(() => checkDns1123Label(scope, 'podNamespace', attributes.podNamespace!));
    v.finish();
    return { name: name!, namespace: namespace!, sectionName, routeNamespace, podPeer: podsIn(podNamespace!, podSelector!) };
  }

  private constructor() {}
}
