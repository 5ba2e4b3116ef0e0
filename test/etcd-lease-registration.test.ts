import { Duration } from 'cdk8s';
import { describe, expect, it } from 'vitest';
import { DiscoverableService, DiscoveryKitValidationError, EtcdCluster, EtcdClusterAddress, EtcdLeaseRegistration, EtcdLeaseRegistrationProps } from '../lib';
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
    registration: new EtcdLeaseRegistration({ cluster: etcd, tags: ['v1'], ttl: Duration.seconds(6), ...props }),
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

  it('matches the reviewed manifests', () => {
    expect(deployment).toMatchSnapshot();
  });

  it('adds a sidecar that runs the namespace\'s script and knows its pod, pointed at the cluster by default', () => {
    expect(sidecar.command).toEqual(['/bin/sh', '/discovery-kit/lease-registration.sh']);
    expect(findObject(objects, 'ConfigMap', 'discovery-kit-etcd-lease', 'production').data['lease-registration.sh']).toMatch(/^#!\/bin\/sh\n/);
    expect(deployment.spec.template.metadata.annotations['discovery-kit.io/script-checksum']).toMatch(/^[0-9a-f]{64}$/);
    expect(envOf(sidecar, 'ETCDCTL_ENDPOINTS').value).toBe('http://etcd-client.etcd.svc.cluster.local:2379');
    expect(envOf(sidecar, 'ETCD_LEASE_TTL_SECONDS').value).toBe('6');
    expect(envOf(sidecar, 'ETCD_KEEPALIVE_INTERVAL_SECONDS').value).toBe('2');
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

// The synthesized sidecar runs as a real process against a real etcd in test/etcd-lease-script.test.ts.

describe('EtcdLeaseRegistration rejects bad input at synth time', () => {
  it.each<[string, Partial<EtcdLeaseRegistrationProps>, string, RegExp]>([
    ['a TTL below 5 s', { ttl: Duration.seconds(4) }, 'registration.ttl', /4s.*from 5s/],
    ['a fractional TTL', { ttl: Duration.millis(7500) }, 'registration.ttl', /7\.5s.*whole number of seconds/],
    ['a TTL as bare seconds (plain JavaScript)', { ttl: 15 as unknown as Duration }, 'registration.ttl', /must be a cdk8s Duration/],
    ['a keep-alive as long as the TTL', { ttl: Duration.seconds(10), keepAliveInterval: Duration.seconds(10) }, 'registration.keepAliveInterval', /from 1s to 9s/],
    ['a keep-alive below 1 s', { keepAliveInterval: Duration.millis(500) }, 'registration.keepAliveInterval', /whole number of seconds/],
    ['a duplicated tag', { tags: ['v1', 'v1'] }, 'registration.tags[1]', /unique/],
    ['a key prefix ending in /', { keyPrefix: '/services/' }, 'registration.keyPrefix', /not end with '\/'/],
    ['a key prefix with a newline', { keyPrefix: '/services\n' }, 'registration.keyPrefix', /whitespace or control characters/],
    ['no endpoints', { cluster: { ...ETCD_ADDRESS, clientEndpoints: [] } }, 'registration.cluster.clientEndpoints', /at least one/],
    ['an endpoint with a path', { cluster: { ...ETCD_ADDRESS, clientEndpoints: ['http://etcd:2379/v3'] } }, 'registration.cluster.clientEndpoints[0]', /no path/],
    ['an http endpoint with client TLS', { cluster: { ...ETCD_ADDRESS, clientEndpoints: ['http://etcd:2379'] }, clientTls: { secretName: 'etcd-client' } },
      'registration.cluster.clientEndpoints[0]', /must use https:\/\//],
    ['an empty member selector', { cluster: { ...ETCD_ADDRESS, podSelector: {} } }, 'registration.cluster.podSelector', /empty selector/],
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

describe('EtcdLeaseRegistration reports every bad field at once', () => {
  it('names the TTL, the tags, the key prefix, the port and the image in one error', () => {
    const error = rejectionOf((chart) => registered({
      ttl: Duration.seconds(2), tags: ['Bad'], keyPrefix: 'services', port: 'admin', image: 'bitnami/etcd:latest',
    }, chart));
    expect(error.problems.map((p) => p.field).sort()).toEqual([
      'registration.image', 'registration.keyPrefix', 'registration.port', 'registration.tags[0]', 'registration.ttl',
    ]);
    expect(error).toBeInstanceOf(DiscoveryKitValidationError);
    expect(error.message).toMatch(/^5 invalid values:/);
  });
});
