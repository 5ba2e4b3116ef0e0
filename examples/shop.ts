import { Chart, Duration } from 'cdk8s';
import {
  ConsulAgentAddress, ConsulAgentRegistration, ConsulAgentToken, DiscoverableService, EtcdClusterAddress, EtcdLeaseRegistration, HealthSpec, SecretKeyReference,
} from '../lib';

/**
 * The seed shop, shared by the cdk8s example (examples/discovery-setup.ts) and the Pulumi
 * apps stack (stacks/apps): its services and their default tags and replicas.
 */
export const SHOP_SERVICE_DEFAULTS = {
  'payment-service': { tag: '1.8.2', replicas: 3 },
  'order-service': { tag: '2.3.0', replicas: 2 },
  'user-service': { tag: '0.9.4', replicas: 2 },
} as const satisfies Record<string, ShopServiceSettings>;

export type ShopServiceName = keyof typeof SHOP_SERVICE_DEFAULTS;

/** The services that register with Consul, each under its own ACL token. */
export const CONSUL_REGISTERED_SERVICES = ['payment-service', 'order-service'] as const satisfies readonly ShopServiceName[];
export type ConsulRegisteredService = typeof CONSUL_REGISTERED_SERVICES[number];

/** What the apps stack's config sets per service. */
export interface ShopServiceSettings {
  /** Image tag (pinned: not `latest`). */
  readonly tag: string;
  readonly replicas: number;
}

/** Repository of the shop's images; each service's image is `<repository>/<service>:<tag>`. */
export const SHOP_IMAGE_REPOSITORY = 'ghcr.io/acme';

/** The Secret holding a service's Consul ACL token (service:write on itself). */
export function consulTokenSecret(service: ConsulRegisteredService): SecretKeyReference {
  return { secretName: `${service}-consul-token`, key: 'token' };
}

/** What {@link defineShop} builds on. */
export interface ShopOptions {
  readonly services: Record<ShopServiceName, ShopServiceSettings>;
  /** The platform's node-local Consul agent that payment-service and order-service register with. */
  readonly consulAgent: ConsulAgentAddress;
  /**
   * Consul enforces ACLs: the token each registering service reads, e.g.
   * `ConsulAgentToken.fromBootstrap(...)` or `ConsulAgentToken.fromSecret(consulTokenSecret(service))`.
   * @default - no token (ACLs off)
   */
  readonly consulToken?: (service: ConsulRegisteredService) => ConsulAgentToken;
  /** The etcd cluster user-service registers in. @default - user-service relies on Kubernetes DNS only */
  readonly etcd?: EtcdClusterAddress;
}

/**
 * The shop in `chart` (its namespace): payment-service and order-service register with
 * Consul, order-service discovers payment-service, and user-service registers in etcd when
 * one is given.
 */
export function defineShop(chart: Chart, options: ShopOptions): Record<ShopServiceName, DiscoverableService> {
  const image = (name: ShopServiceName) => `${SHOP_IMAGE_REPOSITORY}/${name}:${options.services[name].tag}`;
  const consulRegistration = (service: ConsulRegisteredService, tags: string[]) => new ConsulAgentRegistration({
    agent: options.consulAgent, tags, aclToken: options.consulToken?.(service),
  });
  const payment = new DiscoverableService(chart, 'payment-service', {
    image: image('payment-service'),
    ports: [{ name: 'http', port: 8080 }, { name: 'metrics', port: 9090 }],
    replicas: options.services['payment-service'].replicas,
    partOf: 'shop',
    registration: consulRegistration('payment-service', ['v1']),
  });
  const order = new DiscoverableService(chart, 'order-service', {
    image: image('order-service'),
    replicas: options.services['order-service'].replicas,
    partOf: 'shop',
    env: { LOG_LEVEL: 'info' },
    registration: consulRegistration('order-service', ['v2']),
  });
  order.discover(payment);
  const user = new DiscoverableService(chart, 'user-service', {
    image: image('user-service'),
    replicas: options.services['user-service'].replicas,
    partOf: 'shop',
    health: HealthSpec.http({ startup: { maxStartupTime: Duration.seconds(180) } }),
    registration: options.etcd ? new EtcdLeaseRegistration({
      cluster: options.etcd,
      tags: ['v1'],
      clientTls: options.etcd.tls?.client ? { secretName: 'user-service-etcd-client' } : undefined,
    }) : undefined,
  });
  return { 'payment-service': payment, 'order-service': order, 'user-service': user };
}
