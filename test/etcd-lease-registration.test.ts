import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DiscoverableService, EtcdCluster, EtcdClusterAddress, EtcdLeaseRegistration, EtcdLeaseRegistrationProps } from '../lib';
import { EtcdTestServer, getKeyWithLease, leaseTimeToLive } from './support/etcd';
import { expectRejection, rejectionOf } from './support/errors';
import { qualityViolations } from './support/quality';
import { envOf, findContainer, findObject, synthChart, testChart } from './support/synth';

/** An etcd cluster given by address, as the Pulumi apps stack receives it. */
const ETCD_ADDRESS: EtcdClusterAddress = {
  clientEndpoints: ['https://etcd-client.etcd.svc.cluster.local:2379'], clusterName: 'etcd', namespace: 'etcd',
  podSelector: { 'app.kubernetes.io/name': 'etcd' }, clientPort: 2379,
};

function registered(props: Partial<EtcdLeaseRegistrationProps> = {}, chart = testChart()) {
  const etcd = new EtcdCluster(chart, 'etcd', { namespace: 'etcd' });
  const user = new DiscoverableService(chart, 'user-service', {
    image: 'ghcr.io/acme/user-service:0.9.4',
    ports: [{ name: 'http', port: 80, containerPort: 8080 }, { name: 'grpc', port: 9090 }],
    registration: new EtcdLeaseRegistration({ cluster: etcd, tags: ['v1'], ttlSeconds: 6, ...props }),
  });
  const consumer = new DiscoverableService(chart, 'order-service', { image: 'ghcr.io/acme/order-service:2.3.0' });
  consumer.discover(user);
  return synthChart(chart);
}

describe('EtcdLeaseRegistration in the manifests', () => {
  const objects = registered();
  const deployment = findObject(objects, 'Deployment', 'user-service');
  const sidecar = findContainer(deployment, 'etcd-registration');
  const members = {
    namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'etcd' } },
    podSelector: { matchLabels: findObject(objects, 'StatefulSet', 'etcd').spec.selector.matchLabels },
  };

  it('adds a sidecar that knows its pod, pointed at the cluster by default', () => {
    expect(sidecar.command.slice(0, 2)).toEqual(['/bin/sh', '-c']);
    expect(sidecar.command[2]).toContain("'http://etcd-client.etcd.svc.cluster.local:2379'");
    expect(envOf(sidecar, 'POD_NAME').valueFrom.fieldRef.fieldPath).toBe('metadata.name');
    expect(envOf(sidecar, 'POD_IP').valueFrom.fieldRef.fieldPath).toBe('status.podIP');
    expect(sidecar.securityContext).toMatchObject({ readOnlyRootFilesystem: true, runAsNonRoot: true });
  });

  it('labels the pods as etcd clients and lets them reach the client port only', () => {
    expect(deployment.spec.template.metadata.labels['discovery-kit.io/etcd-client']).toBe('etcd');
    expect(findObject(objects, 'NetworkPolicy', 'user-service').spec.egress).toContainEqual({ to: [members], ports: [{ port: 2379, protocol: 'TCP' }] });
  });

  it('gives consumers the endpoints and key prefix, with the same label and egress', () => {
    const order = findObject(objects, 'Deployment', 'order-service');
    const app = findContainer(order, 'order-service');
    expect(envOf(app, 'ETCD_ENDPOINTS').value).toBe('http://etcd-client.etcd.svc.cluster.local:2379');
    expect(envOf(app, 'ETCD_SERVICES_PREFIX').value).toBe('/services');
    expect(order.spec.template.metadata.labels['discovery-kit.io/etcd-client']).toBe('etcd');
    expect(findObject(objects, 'NetworkPolicy', 'order-service').spec.egress).toContainEqual({ to: [members], ports: [{ port: 2379, protocol: 'TCP' }] });
  });

  it('passes the manifest-quality suite', () => {
    expect(qualityViolations(objects)).toEqual([]);
  });
});

// The script taken from the synthesized Deployment runs as a real process against a real etcd.
describe('the synthesized etcd registration sidecar against a real etcd', () => {
  let server: EtcdTestServer;
  beforeAll(async () => { server = await EtcdTestServer.start(); });
  afterAll(async () => { await server?.cleanup(); });

  it('registers under a lease with the configured TTL and deregisters within 1 s of SIGTERM', async () => {
    const deployment = findObject(registered(), 'Deployment', 'user-service');
    const script = (findContainer(deployment, 'etcd-registration').command[2] as string)
      .replace("'http://etcd-client.etcd.svc.cluster.local:2379'", `'${server.endpoint}'`);
    const child = spawn('sh', ['-c', script], { env: { PATH: process.env.PATH, POD_NAME: 'user-service-5c7d-x1', POD_IP: '10.2.3.4' } });
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    const key = '/services/user-service/user-service-5c7d-x1';
    let stored = await getKeyWithLease(server.endpoint, key);
    for (let i = 0; !stored && i < 100; i++) {
      await new Promise((r) => setTimeout(r, 100));
      stored = await getKeyWithLease(server.endpoint, key);
    }
    expect(stored, 'the key never appeared').toBeDefined();
    expect(JSON.parse(stored!.value)).toMatchObject({ host: '10.2.3.4', port: 8080, tags: ['v1'] });
    expect(stored!.lease, 'the key has no lease').toBeDefined();
    expect((await leaseTimeToLive(server.endpoint, stored!.lease!))?.grantedTtl).toBe(6);
    const sent = Date.now();
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(await getKeyWithLease(server.endpoint, key)).toBeUndefined();
    expect(Date.now() - sent).toBeLessThan(1000);
  });
});

describe('EtcdLeaseRegistration rejects bad input at synth time', () => {
  it.each<[string, Partial<EtcdLeaseRegistrationProps>, string, RegExp]>([
    ['a TTL below 5 s', { ttlSeconds: 4 }, 'registration.ttlSeconds', /4.*from 5/],
    ['a keep-alive not below the TTL', { ttlSeconds: 10, keepAliveIntervalSeconds: 10 }, 'registration.keepAliveIntervalSeconds', /from 1 to 9/],
    ['a tag that is not a DNS label', { tags: ['Blue'] }, 'registration.tags[0]', /RFC 1123/],
    ['a key prefix without a leading slash', { keyPrefix: 'services' }, 'registration.keyPrefix', /must start with '\/'/],
    ['a port the service does not have', { port: 'admin' }, 'registration.port', /"admin".*http, grpc/],
    ['a latest image', { image: 'bitnami/etcd:latest' }, 'registration.image', /pinned/],
    ['a cluster that requires client TLS, without a client certificate', { cluster: { ...ETCD_ADDRESS, tls: { client: true } } }, 'registration.clientTls', /requires client certificates/],
    ['a TLS Secret key with a slash', { clientTls: { secretName: 'etcd-client', caKey: 'a/b' } }, 'registration.clientTls.caKey', /Secret key/],
  ])('%s', (_title, props, field, message) => {
    expectRejection(rejectionOf((chart) => registered(props, chart)), "DiscoverableService 'test/user-service'", field, message);
  });
});
