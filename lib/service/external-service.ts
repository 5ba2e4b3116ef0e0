import { isIP } from 'node:net';
import { ApiObject, Chart } from 'cdk8s';
import { k8s } from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import { recommendedLabels } from '../core/labels';
import { kubeObject } from '../core/kube-object';
import { claimServiceNames } from '../core/name-claims';
import { checkPeers, policyPort } from '../core/network-policy';
import { checkDns1035Label, checkDns1123Label, checkDns1123Subdomain, checkLabels, checkPresent, checkUnique, invalid, ValidationPass } from '../core/validation';
import { ServicePortOptions } from './props';
import { ResolvedPort, resolvePorts } from './resolve';

/** A port of an {@link ExternalService}: where the target listens. */
export type ExternalPortOptions = Omit<ServicePortOptions, 'containerPort'>;

/** Props of {@link ExternalService}: set exactly one of `externalName` and `addresses`. */
export interface ExternalServiceProps {
  /** Service name: a DNS-1035 label. @default - the construct id */
  readonly name?: string;
  /** Namespace. @default - the chart's namespace, else 'default' */
  readonly namespace?: string;
  /** The named ports the target listens on (consumers bind one of them). */
  readonly ports: ExternalPortOptions[];
  /**
   * A DNS name (a managed database's endpoint, a Service of another namespace): an
   * `ExternalName` Service, a CNAME in cluster DNS. It has no SRV records. TLS clients must
   * verify the certificate against this name, not the Service's.
   * @default - none: set `addresses`
   */
  readonly externalName?: string;
  /**
   * Fixed IP addresses: a ClusterIP Service without selector, whose EndpointSlices list them.
   * Consumers' egress is limited to exactly these addresses.
   * @default - none: set `externalName`
   */
  readonly addresses?: string[];
  /**
   * Where `externalName` resolves to, for the consumers' egress (NetworkPolicy matches
   * addresses, never names): `{ ipBlock: { cidr } }` for a managed service, a pod selector
   * for a Service of another namespace. Required with `externalName`; with `addresses` the
   * egress is derived from them.
   * @default - the `addresses`, each as a single-address ipBlock
   */
  readonly egress?: k8s.NetworkPolicyPeer[];
  /** Kubernetes cluster DNS domain. @default 'cluster.local' */
  readonly clusterDomain?: string;
  /** Extra labels on every object. @default - none */
  readonly labels?: Record<string, string>;
  /** `app.kubernetes.io/part-of`. @default - none */
  readonly partOf?: string;
}

/** How one port of an {@link ExternalService} is reached. */
export interface ExternalServiceEndpoint {
  readonly portName: string;
  readonly port: number;
  /** The Service's DNS name (a CNAME to `externalName`, or the virtual IP in front of `addresses`). */
  readonly host: string;
  /** `<appProtocol>://<host>:<port>`. */
  readonly url: string;
  /** `_<port>._<proto>.<host>`, for `addresses` only: cluster DNS serves no SRV records for an ExternalName. */
  readonly srv?: string;
}

/** EndpointSlices of Services without selector name their manager; the controller leaves them alone. */
const MANAGED_BY_LABEL = 'endpointslice.kubernetes.io/managed-by';
const MANAGER = 'discovery-kit.io';

/**
 * Something consumers discover that is not a {@link DiscoverableService}: a managed database,
 * a service outside the cluster or in another namespace. `discover()` accepts it like a
 * DiscoverableService: the same variables (SRV where cluster DNS serves it) and egress
 * limited to its addresses and ports.
 */
export class ExternalService extends Construct {
  public readonly serviceName: string;
  public readonly namespace: string;
  public readonly clusterDomain: string;
  public readonly labels: Record<string, string>;
  /** Whether it is an `ExternalName` Service (else a Service in front of fixed addresses). */
  public readonly isExternalName: boolean;
  /** Where consumers may connect to. */
  public readonly egressPeers: readonly k8s.NetworkPolicyPeer[];
  public readonly service: ApiObject;
  /** One per address family of `addresses`. */
  public readonly endpointSlices: ApiObject[] = [];
  private readonly ports: readonly ResolvedPort[];

  constructor(scope: Construct, id: string, props: ExternalServiceProps) {
    super(scope, id);
    const v = new ValidationPass();
    const name = v.check(() => checkDns1035Label(this, 'name', props.name ?? id));
    const namespace = v.check(() => checkDns1123Label(this, 'namespace', props.namespace ?? Chart.of(this).namespace ?? 'default'));
    const clusterDomain = v.check(() => checkDns1123Subdomain(this, 'clusterDomain', props.clusterDomain ?? 'cluster.local'), '');
    const ports = v.check(() => resolvePorts(this, checkPresent(this, 'ports', props.ports, 'the named ports the target listens on')));
    const userLabels = v.check(() => checkLabels(this, 'labels', props.labels ?? {}), {});
    if ((props.externalName === undefined) === (props.addresses === undefined)) {
      v.report(this, 'externalName', props.externalName, 'must be set, or else addresses: exactly one of them names the target');
    }
    const externalName = props.externalName === undefined ? undefined : v.check(() => checkDns1123Subdomain(this, 'externalName', props.externalName!));
    const addresses = props.addresses === undefined ? undefined : v.check(() => checkAddresses(this, props.addresses!));
    let egress: k8s.NetworkPolicyPeer[] | undefined;
    if (props.externalName !== undefined) {
      egress = v.check(() => checkPeers(this, 'egress', checkPresent(this, 'egress', props.egress,
        'where externalName resolves to ({ ipBlock: { cidr } } or a pod selector): NetworkPolicy matches addresses, not names')));
    } else if (props.egress !== undefined) {
      v.report(this, 'egress', props.egress, 'must be left out with addresses: the egress is exactly the addresses');
    }
    if (v.ok) v.check(() => claimServiceNames(this, namespace!, [name!]));
    v.finish();

    this.serviceName = name!;
    this.namespace = namespace!;
    this.clusterDomain = clusterDomain;
    this.ports = ports!;
    this.isExternalName = externalName !== undefined;
    this.labels = { ...userLabels, ...recommendedLabels({ name: name!, instance: name!, partOf: props.partOf }) };
    this.egressPeers = egress ?? addresses!.map((a) => ({ ipBlock: { cidr: isIP(a) === 6 ? `${a}/128` : `${a}/32` } }));
    const metadata = { name: this.serviceName, namespace: this.namespace, labels: this.labels };
    const servicePorts = this.ports.map((p) => ({ name: p.name, port: p.port, protocol: p.protocol, appProtocol: p.appProtocol }));
    this.service = kubeObject(this, 'service', k8s.KubeService, {
      metadata,
      spec: externalName ? { type: 'ExternalName', externalName, ports: servicePorts } : { type: 'ClusterIP', ports: servicePorts },
    });
    for (const family of ['IPv4', 'IPv6'] as const) {
      const members = (addresses ?? []).filter((a) => isIP(a) === (family === 'IPv4' ? 4 : 6));
      if (members.length === 0) continue;
      this.endpointSlices.push(kubeObject(this, `endpoints-${family.toLowerCase()}`, k8s.KubeEndpointSlice, {
        metadata: {
          name: `${this.serviceName}-${family.toLowerCase()}`,
          namespace: this.namespace,
          labels: { ...this.labels, 'kubernetes.io/service-name': this.serviceName, [MANAGED_BY_LABEL]: MANAGER },
        },
        addressType: family,
        ports: servicePorts,
        endpoints: members.map((address) => ({ addresses: [address], conditions: { ready: true } })),
      }));
    }
  }

  /** The endpoint of one named port (default: the first port). */
  public endpoint(portName: string = this.ports[0].name): ExternalServiceEndpoint {
    const port = this.port(portName);
    const host = `${this.serviceName}.${this.namespace}.svc.${this.clusterDomain}`;
    return {
      portName: port.name,
      port: port.port,
      host,
      url: `${port.appProtocol}://${host}:${port.port}`,
      ...(this.isExternalName ? {} : { srv: `_${port.name}._${port.protocol.toLowerCase()}.${host}` }),
    };
  }

  /** The egress a consumer of one port needs: its peers, on the target's port. */
  public egressRule(portName: string): k8s.NetworkPolicyEgressRule {
    const port = this.port(portName);
    return { to: [...this.egressPeers], ports: [policyPort(port.port, port.protocol)] };
  }

  private port(portName: string): ResolvedPort {
    const port = this.ports.find((p) => p.name === portName);
    if (!port) invalid(this, 'port', portName, `must name one of the ports of '${this.serviceName}': ${this.ports.map((p) => p.name).join(', ')}`);
    return port;
  }
}

function checkAddresses(scope: Construct, addresses: string[]): string[] {
  if (!Array.isArray(addresses) || addresses.length === 0) invalid(scope, 'addresses', addresses, 'must list at least one IP address');
  const v = new ValidationPass();
  addresses.forEach((a, i) => v.check(() => {
    if (typeof a !== 'string' || isIP(a) === 0) invalid(scope, `addresses[${i}]`, a, 'must be an IPv4 or IPv6 address (use externalName for a DNS name)');
    // The API server refuses these as endpoint addresses.
    if (/^(127\.|169\.254\.|0\.|22[4-9]\.|2[3-5]\d\.)/.test(a) || /^(::1?$|fe[89ab][0-9a-f]:|ff)/i.test(a)) {
      invalid(scope, `addresses[${i}]`, a, 'must not be a loopback, link-local, multicast or unspecified address');
    }
  }));
  v.check(() => checkUnique(scope, (i) => `addresses[${i}]`, addresses));
  v.finish();
  return addresses;
}
