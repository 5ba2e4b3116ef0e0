import { App, Chart, Duration, Testing } from 'cdk8s';
import { describe, expect, it } from 'vitest';
import {
  CONSUL_SERVICE_TOKEN_LABEL, ConsulAgentAddress, ConsulAgentRegistration, ConsulAgentRegistrationProps, ConsulAgentToken, ConsulBootstrap, ConsulCluster,
  ConsulServiceToken, DiscoverableService, DiscoveryKitValidationError, consulBootstrapSecrets, GossipEncryption,
} from '../lib';
import { expectRejection, rejectionOf } from './support/errors';
import type { KubeObject } from './support/schema';
import { envOf, findContainer, findObject, synthApp, synthChart } from './support/synth';

const AGENT: ConsulAgentAddress = {
  url: 'http://consul-agent.consul.svc.cluster.local:8500',
  port: 8500,
  clusterName: 'consul',
  namespace: 'consul',
  podSelector: { 'app.kubernetes.io/name': 'consul', 'app.kubernetes.io/component': 'agent' },
};
const BOOTSTRAP = ConsulBootstrap.fromAttributes({ clusterName: 'consul', namespace: 'consul' });

function registering(chart: Chart, name: string, props: Partial<ConsulAgentRegistrationProps> = {}, extra: { namespace?: string } = {}): DiscoverableService {
  return new DiscoverableService(chart, name, {
    image: `ghcr.io/acme/${name}:1.0.0`, namespace: extra.namespace,
    registration: new ConsulAgentRegistration({ agent: AGENT, aclToken: ConsulAgentToken.fromBootstrap(BOOTSTRAP), ...props }),
  });
}

const shopChart = (app: App = Testing.app(), id = 'shop') => new Chart(app, id, { namespace: 'shop', disableResourceNameHashes: true });
const declarations = (objects: readonly KubeObject[]) => objects.filter((o) => o.kind === 'ConfigMap' && o.metadata.labels?.[CONSUL_SERVICE_TOKEN_LABEL])
  .map((o) => `${o.metadata.namespace}/${o.metadata.name}`);
const rbac = (objects: readonly KubeObject[]) => objects.filter((o) => o.kind === 'Role' || o.kind === 'RoleBinding')
  .map((o) => `${o.kind} ${o.metadata.namespace}/${o.metadata.name}`);

describe('ConsulAgentToken.fromBootstrap', () => {
  const chart = shopChart();
  registering(chart, 'payment-service');
  registering(chart, 'order-service', { serviceName: 'orders' });
  const objects = synthChart(chart);
  const deployment = findObject(objects, 'Deployment', 'payment-service');
  const sidecar = findContainer(deployment, 'consul-registration');

  it('declares exactly one ConsulServiceToken per registering service, under its Consul service name', () => {
    expect(declarations(objects)).toEqual(['consul/consul-token-payment-service.shop', 'consul/consul-token-orders.shop']);
    expect(findObject(objects, 'ConfigMap', 'consul-token-orders.shop', 'consul').data).toEqual(
      { service: 'orders', namespace: 'shop', secretName: 'orders-consul-token', key: 'token' });
    expect(rbac(objects)).toEqual([
      'Role shop/consul-token-payment-service', 'RoleBinding shop/consul-token-payment-service', 'Role shop/consul-token-orders', 'RoleBinding shop/consul-token-orders',
    ]);
    expect(findObject(objects, 'RoleBinding', 'consul-token-payment-service', 'shop').subjects).toEqual([{ kind: 'ServiceAccount', name: 'consul-bootstrap', namespace: 'consul' }]);
  });

  it('makes the declaration a child of the service, with stable names', () => {
    const again = synthChart((() => {
      const c = shopChart();
      registering(c, 'payment-service');
      registering(c, 'order-service', { serviceName: 'orders' });
      return c;
    })());
    expect(declarations(again)).toEqual(declarations(objects));
    expect(chart.node.findAll().filter((c) => c instanceof ConsulServiceToken).map((c) => c.node.path))
      .toEqual(['shop/payment-service/consul-service-token', 'shop/order-service/consul-service-token']);
  });

  it('mounts the token Secret the bootstrap writes as an optional, read-only volume and names the file for the consul CLI', () => {
    expect(envOf(sidecar, 'CONSUL_HTTP_TOKEN_FILE')).toEqual({ name: 'CONSUL_HTTP_TOKEN_FILE', value: '/consul-registration-token/token' });
    expect(envOf(sidecar, 'CONSUL_HTTP_TOKEN')).toBeUndefined();
    expect(sidecar.env.filter((e: any) => e.valueFrom?.secretKeyRef)).toEqual([]);
    expect(sidecar.volumeMounts).toContainEqual({ name: 'consul-registration-token', mountPath: '/consul-registration-token', readOnly: true });
    expect(deployment.spec.template.spec.volumes).toContainEqual({
      name: 'consul-registration-token',
      secret: { secretName: 'payment-service-consul-token', items: [{ key: 'token', path: 'token' }], defaultMode: 0o440, optional: true },
    });
    // 0440 is readable through the pod's fsGroup.
    expect(deployment.spec.template.spec.securityContext.fsGroup).toBe(deployment.spec.template.spec.securityContext.runAsUser);
  });

  it("verifies an HTTPS agent with the CA bundle the bootstrap writes next to the token, unless caCert says otherwise", () => {
    const HTTPS_AGENT = { ...AGENT, url: 'https://consul-agent.consul.svc.cluster.local:8501', port: 8501 };
    const https = shopChart();
    registering(https, 'payment-service', { agent: HTTPS_AGENT });
    registering(https, 'order-service', { agent: HTTPS_AGENT, caCert: { secretName: 'consul-ca', key: 'ca.pem' } });
    const built = synthChart(https);
    const payment = findObject(built, 'Deployment', 'payment-service');
    expect(envOf(findContainer(payment, 'consul-registration'), 'CONSUL_CACERT').value).toBe('/consul-registration-token/ca.crt');
    expect(payment.spec.template.spec.volumes).toContainEqual({
      name: 'consul-registration-token',
      secret: { secretName: 'payment-service-consul-token', items: [{ key: 'token', path: 'token' }, { key: 'ca.crt', path: 'ca.crt' }], defaultMode: 0o440, optional: true },
    });
    const order = findObject(built, 'Deployment', 'order-service');
    expect(envOf(findContainer(order, 'consul-registration'), 'CONSUL_CACERT').value).toBe('/consul-registration-ca/ca.pem');
    expect(order.spec.template.spec.volumes.find((v: any) => v.name === 'consul-registration-token').secret.items).toEqual([{ key: 'token', path: 'token' }]);
    // Over plain HTTP nothing is verified: no CA file at all.
    expect(envOf(sidecar, 'CONSUL_CACERT')).toBeUndefined();
  });

  it("refuses a token Secret key of ca.crt, where the bootstrap writes the CA bundle", () => {
    const { message } = rejectionOf((chart) => new ConsulServiceToken(chart, 'token', {
      bootstrap: BOOTSTRAP, serviceName: 'payment-service', namespace: 'shop', secret: { secretName: 'payment-service-consul-token', key: 'ca.crt' },
    }));
    expect(message).toContain("secret.key = \"ca.crt\" is invalid: must not be 'ca.crt': the bootstrap writes the agents' CA bundle under that key of the same Secret");
  });

  it('takes the bootstrap construct itself in the platform program', () => {
    const app = Testing.app();
    const platform = new Chart(app, 'consul', { namespace: 'consul', disableResourceNameHashes: true });
    const s = consulBootstrapSecrets('consul');
    const cluster = new ConsulCluster(platform, 'consul', { gossipEncryption: GossipEncryption.fromSecret(s.gossipKey), acl: { tokensSecret: s.aclTokens } });
    const bootstrap = new ConsulBootstrap(platform, 'bootstrap', { cluster, apiServer: [{ ipBlock: { cidr: '10.0.0.10/32' } }] });
    const shop = shopChart(app);
    new DiscoverableService(shop, 'payment-service', {
      image: 'ghcr.io/acme/payment-service:1.8.2', registration: new ConsulAgentRegistration({ agent: cluster.agent, aclToken: ConsulAgentToken.fromBootstrap(bootstrap) }),
    });
    expect(declarations(synthApp(app))).toEqual(['consul/consul-token-payment-service.shop']);
  });

  it('declares a Consul service once when two Deployments of a namespace register under its name, also across charts', () => {
    const app = Testing.app();
    registering(shopChart(app, 'a'), 'payment-blue', { serviceName: 'payment' });
    registering(shopChart(app, 'b'), 'payment-green', { serviceName: 'payment' });
    registering(shopChart(app, 'c'), 'payment-billing', { serviceName: 'payment' }, { namespace: 'billing' });
    const objects = synthApp(app);
    expect(declarations(objects)).toEqual(['consul/consul-token-payment.shop', 'consul/consul-token-payment.billing']);
    expect(rbac(objects)).toHaveLength(4);
  });

  it('uses a declaration made by hand, and refuses one made after the service declared it', () => {
    const chart = shopChart();
    new ConsulServiceToken(chart, 'by-hand', { bootstrap: BOOTSTRAP, serviceName: 'payment-service', namespace: 'shop' });
    registering(chart, 'payment-service');
    expect(declarations(synthChart(chart))).toEqual(['consul/consul-token-payment-service.shop']);

    const later = shopChart();
    registering(later, 'payment-service');
    const error = rejectionOf(() => new ConsulServiceToken(later, 'by-hand', { bootstrap: BOOTSTRAP, serviceName: 'payment-service', namespace: 'shop' }));
    expectRejection(error, "ConsulServiceToken 'shop/by-hand'", 'serviceName', /declared once per namespace: shop\/payment-service\/consul-service-token already declares/);
  });

  it('refuses a service whose token was declared by hand into another Secret', () => {
    const error = rejectionOf((chart) => {
      new ConsulServiceToken(chart, 'by-hand', { bootstrap: BOOTSTRAP, serviceName: 'payment-service', namespace: 'production', secret: { secretName: 'custom', key: 'token' } });
      registering(chart, 'payment-service');
    });
    expectRejection(error, "DiscoverableService 'test/payment-service'", 'registration.aclToken', /match the token Secret custom \(key token\) that test\/by-hand already declares/);
  });
});

describe('ConsulAgentToken.fromBootstrap creates nothing for a rejected service', () => {
  it('leaves no declaration, Role or script behind, and a valid service after it still gets its own', () => {
    const app = Testing.app();
    const chart = shopChart(app);
    expect(() => registering(chart, 'bad', { resyncInterval: Duration.seconds(1) })).toThrow(DiscoveryKitValidationError);
    expect(() => new DiscoverableService(chart, 'bad-shutdown', {
      image: 'ghcr.io/acme/bad:1.0.0', shutdown: { terminationGracePeriod: Duration.seconds(3) },
      registration: new ConsulAgentRegistration({ agent: AGENT, aclToken: ConsulAgentToken.fromBootstrap(BOOTSTRAP) }),
    })).toThrow(DiscoveryKitValidationError);
    expect(chart.node.findAll().filter((c) => c instanceof ConsulServiceToken)).toEqual([]);
    expect(synthChart(chart)).toEqual([]);
    registering(chart, 'good');
    expect(declarations(synthChart(chart))).toEqual(['consul/consul-token-good.shop']);
  });

  it('reports a bad bootstrap reference together with every other bad prop', () => {
    const error = rejectionOf((chart) => new DiscoverableService(chart, 'payment-service', {
      image: 'ghcr.io/acme/payment-service:latest',
      registration: new ConsulAgentRegistration({
        agent: AGENT, tags: ['Bad'], resyncInterval: Duration.seconds(1),
        aclToken: ConsulAgentToken.fromBootstrap({ clusterName: 'Consul', namespace: 'consul', serviceAccountName: 'consul-bootstrap' }),
      }),
    }));
    expect(error.problems.map((p) => p.field).sort()).toEqual(['image', 'registration.aclToken.bootstrap.clusterName', 'registration.resyncInterval', 'registration.tags[0]']);
  });

  it('checks a token Secret even when the Consul service name is bad', () => {
    const error = rejectionOf((chart) => registering(chart, 'payment-service', {
      serviceName: 'Payment', aclToken: ConsulAgentToken.fromSecret({ secretName: 'payment_token', key: 'token' }),
    }));
    expect(error.problems.map((p) => p.field).sort()).toEqual(['registration.aclToken.secretName', 'registration.serviceName']);
  });

  it('names a token given the old way (a bare SecretKeyReference, from plain JavaScript)', () => {
    const error = rejectionOf((chart) => registering(chart, 'payment-service', { aclToken: { secretName: 'payment-token', key: 'token' } as unknown as ConsulAgentToken }));
    expectRejection(error, "DiscoverableService 'test/payment-service'", 'registration.aclToken', /must be a ConsulAgentToken: ConsulAgentToken.fromBootstrap/);
  });
});

describe('ConsulAgentToken.fromSecret', () => {
  const chart = shopChart();
  registering(chart, 'payment-service', { aclToken: ConsulAgentToken.fromSecret({ secretName: 'payment-token', key: 'secret-id' }) });
  const objects = synthChart(chart);
  const deployment = findObject(objects, 'Deployment', 'payment-service');

  it('mounts the same optional volume from your Secret and declares nothing', () => {
    expect(envOf(findContainer(deployment, 'consul-registration'), 'CONSUL_HTTP_TOKEN_FILE').value).toBe('/consul-registration-token/secret-id');
    expect(deployment.spec.template.spec.volumes).toContainEqual({
      name: 'consul-registration-token',
      secret: { secretName: 'payment-token', items: [{ key: 'secret-id', path: 'secret-id' }], defaultMode: 0o440, optional: true },
    });
    expect(declarations(objects)).toEqual([]);
    expect(rbac(objects)).toEqual([]);
  });

  it('without a token, mounts none', () => {
    const plain = shopChart();
    registering(plain, 'payment-service', { aclToken: undefined });
    const sidecar = findContainer(findObject(synthChart(plain), 'Deployment', 'payment-service'), 'consul-registration');
    expect(envOf(sidecar, 'CONSUL_HTTP_TOKEN_FILE')).toBeUndefined();
    expect(sidecar.volumeMounts.map((m: any) => m.name)).toEqual(['registration-script', 'consul-registration']);
  });
});
