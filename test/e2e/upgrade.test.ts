import { App, Testing } from 'cdk8s';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildExampleApp } from '../../examples/discovery-setup';
import { SHOP_SERVICE_DEFAULTS } from '../../examples/shop';
import { ConsulCatalogSync, ConsulCluster, DiscoverableService, EtcdCluster } from '../../lib';
import type { KubeObject } from '../support/schema';
import { findObject, synthChart } from '../support/synth';
import { ApiServer, startApiServer } from './support/apiserver';
import { gatewayApiCrds, installCrds, serverSideApply, servable } from './support/apply';
import { GOSSIP, restrictedChart } from './support/charts';

// Version N, then version N+1 with the changes users make between releases, applied
// server-side by the same field manager to a real kube-apiserver: the second apply must
// touch no immutable field (selectors, volumeClaimTemplates, clusterIP) and raise no conflict.
let api: ApiServer;

beforeAll(async () => {
  api = await startApiServer();
  // The example routes payment-service through a Gateway: HTTPRoute is a CRD.
  await installCrds(api, gatewayApiCrds());
}, 120_000);

afterAll(async () => {
  await api?.stop();
});

function objectsOf(app: App): KubeObject[] {
  return app.charts.flatMap((chart) => servable(synthChart(chart)).applied);
}

/** The example as released (dist/), or its next release: a new payment-service image and replica count, and a new discover() binding. */
function example(next: boolean): KubeObject[] {
  if (!next) return objectsOf(buildExampleApp(Testing.app()));
  const app = buildExampleApp(Testing.app(), { ...SHOP_SERVICE_DEFAULTS, 'payment-service': { tag: '1.9.0', replicas: 4 } });
  const production = app.node.findChild('production');
  (production.node.findChild('user-service') as DiscoverableService).discover(production.node.findChild('payment-service') as DiscoverableService);
  return objectsOf(app);
}

/**
 * Variants the example does not change: a service that gains a port and starts registering
 * through catalog sync, a Consul cluster scaled from 3 to 5 servers, an etcd image bump.
 */
function variants(next: boolean): KubeObject[] {
  const app = Testing.app();
  const chart = restrictedChart(app, 'upgrade');
  new DiscoverableService(chart, 'catalog-service', {
    image: 'ghcr.io/acme/catalog-service:4.0.1',
    ports: next ? [{ name: 'http', port: 8080 }, { name: 'grpc', port: 9090, appProtocol: 'grpc' }] : [{ name: 'http', port: 8080 }],
    registration: next ? new ConsulCatalogSync({ tags: ['v4'] }) : undefined,
  });
  new ConsulCluster(chart, 'consul', { gossipEncryption: GOSSIP, replicas: next ? 5 : 3, runAsUser: 10100, runAsGroup: 10100 });
  new EtcdCluster(chart, 'etcd', { image: `gcr.io/etcd-development/etcd:${next ? 'v3.5.22' : 'v3.5.21'}` });
  return objectsOf(app);
}

async function get(kind: string, namespace: string, name: string): Promise<KubeObject> {
  return JSON.parse((await api.kubectl(['get', kind, name, '-n', namespace, '-o', 'json'])).stdout);
}

describe('an in-place upgrade on a real kube-apiserver', () => {
  it('applies the next release of the example over the current one', async () => {
    await serverSideApply(api, example(false));
    await serverSideApply(api, example(true));
    const payment = await get('deployment', 'production', 'payment-service');
    expect(payment.spec.replicas).toBe(4);
    expect(payment.spec.template.spec.containers[0].image).toBe('ghcr.io/acme/payment-service:1.9.0');
    const user = await get('deployment', 'production', 'user-service');
    expect(user.spec.template.spec.containers[0].env.map((e: any) => e.name)).toContain('PAYMENT_SERVICE_URL');
  });

  it('applies a new port, a new registration, more Consul servers and a new etcd image over the previous objects', async () => {
    await serverSideApply(api, variants(false));
    await serverSideApply(api, variants(true));
    expect((await get('service', 'upgrade', 'catalog-service')).spec.ports.map((p: any) => p.name)).toEqual(['http', 'grpc']);
    expect((await get('statefulset', 'upgrade', 'consul-server')).spec.replicas).toBe(5);
    expect((await get('statefulset', 'upgrade', 'etcd')).spec.template.spec.containers[0].image).toBe('gcr.io/etcd-development/etcd:v3.5.22');
  });

  // The check must be able to fail: a changed selector is refused.
  it('refuses a release that changes an immutable field', async () => {
    const next = example(false);
    findObject(next, 'Deployment', 'order-service', 'production').spec.selector.matchLabels['app.kubernetes.io/version'] = '2.4.0';
    findObject(next, 'Deployment', 'order-service', 'production').spec.template.metadata.labels['app.kubernetes.io/version'] = '2.4.0';
    await expect(serverSideApply(api, next)).rejects.toThrow(/The Deployment "order-service" is invalid: spec.selector: Invalid value: .*: field is immutable/);
  });
});
