import { describe, expect, it } from 'vitest';
import { CONSUL_MESH_LABEL, ConsulCluster, ConsulClusterProps, DiscoveryKitValidationError, GossipEncryption } from '../lib';
import { expectRejection, rejectionOf } from './support/errors';
import type { KubeObject } from './support/schema';
import { findObject, synthChart, testChart } from './support/synth';

const API_SERVER = [{ ipBlock: { cidr: '192.0.2.10/32' } }];
const TLS = { ca: { secretName: 'consul-ca', key: 'ca.crt' }, serverCertificate: { secretName: 'consul-server-tls' }, agentCertificate: { secretName: 'consul-agent-tls' } };

function build(props: Partial<ConsulClusterProps> = {}) {
  const chart = testChart('consul');
  const cluster = new ConsulCluster(chart, 'consul', { gossipEncryption: GossipEncryption.disabled(), ...props });
  return { cluster, objects: synthChart(chart) };
}

function rules(objects: KubeObject[], direction: 'ingress' | 'egress'): { peers: unknown; ports: string[] }[] {
  return findObject(objects, 'NetworkPolicy', 'consul-server').spec[direction].map((r: any) => ({
    peers: r.from ?? r.to, ports: (r.ports ?? []).map((p: any) => `${p.port}/${p.protocol}`),
  }));
}

const meshPods = { namespaceSelector: {}, podSelector: { matchLabels: { [CONSUL_MESH_LABEL]: 'consul' } } };
const controlPlane = { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'consul-k8s' } }, podSelector: { matchLabels: { app: 'consul' } } };

describe('the Consul servers and consul-k8s', () => {
  it('admit mesh pods (and only them, of all application pods) to gRPC and the HTTP API', () => {
    const { objects } = build();
    expect(rules(objects, 'ingress')).toContainEqual({ peers: [meshPods], ports: ['8502/TCP', '8500/TCP'] });
    const toApi = rules(objects, 'ingress').filter((r) => r.ports.includes('8500/TCP'));
    expect(toApi).toEqual([{ peers: [meshPods], ports: ['8502/TCP', '8500/TCP'] }]);
  });

  it("admit consul-k8s's control plane and call the API server when consul-k8s is configured", () => {
    const { cluster, objects } = build({ consulK8s: { namespace: 'consul-k8s', apiServer: API_SERVER } });
    expect(rules(objects, 'ingress')).toContainEqual({ peers: [controlPlane], ports: ['8502/TCP', '8500/TCP'] });
    expect(rules(objects, 'egress')).toContainEqual({ peers: API_SERVER, ports: ['6443/TCP'] });
    expect(cluster.consulK8sHelmValues).toEqual({
      global: {
        enabled: false, name: 'consul-k8s', datacenter: 'dc1', domain: 'consul', tls: { enabled: false },
        acls: { manageSystemACLs: true, bootstrapToken: { secretName: 'consul-bootstrap-token', secretKey: 'token' } },
      },
      server: { enabled: false },
      client: { enabled: false },
      // httpsPort is consul-k8s's HTTP port too when TLS is off.
      externalServers: { enabled: true, hosts: ['consul-server.consul.svc.cluster.local'], httpsPort: 8500, grpcPort: 8502 },
      connectInject: {
        enabled: true, default: false, cni: { enabled: true },
        namespaceSelector: { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['consul', 'consul-k8s', 'kube-system'] }] },
      },
    });
  });

  it('point consul-k8s at HTTPS, the TLS gRPC listener and the servers\' certificate name under TLS', () => {
    const { cluster, objects } = build({ tls: TLS, consulK8s: { namespace: 'consul-k8s', apiServer: API_SERVER, apiServerPort: 443 } });
    expect(rules(objects, 'ingress')).toContainEqual({ peers: [meshPods], ports: ['8502/TCP', '8501/TCP'] });
    expect(rules(objects, 'egress')).toContainEqual({ peers: API_SERVER, ports: ['443/TCP'] });
    expect(cluster.consulK8sHelmValues).toMatchObject({
      global: { tls: { enabled: true, caCert: { secretName: 'consul-ca', secretKey: 'ca.crt' } } },
      externalServers: { httpsPort: 8501, grpcPort: 8502, tlsServerName: 'server.dc1.consul', useSystemRoots: false },
    });
  });

  it('make no consul-k8s rules or values unless asked', () => {
    const { cluster, objects } = build();
    expect(cluster.consulK8sHelmValues).toBeUndefined();
    expect(rules(objects, 'egress').flatMap((r) => r.ports)).not.toContain('6443/TCP');
  });

  it.each([
    ['no API server peers', { namespace: 'consul-k8s' }, 'consulK8s.apiServer', /is required/],
    ['a bad namespace', { namespace: 'Consul K8s', apiServer: API_SERVER }, 'consulK8s.namespace', /RFC 1123/],
    ["a bootstrap token in the chart's shape", { namespace: 'consul-k8s', apiServer: API_SERVER, bootstrapToken: { secretName: 'token', secretKey: 'token' } }, 'consulK8s.bootstrapToken.key', /must be a Secret key/],
  ])('rejects %s', (_title, consulK8s, field, message) => {
    expectRejection(rejectionOf((chart) => new ConsulCluster(chart, 'consul', { gossipEncryption: GossipEncryption.disabled(), consulK8s: consulK8s as any }), 'consul'),
      "ConsulCluster 'test/consul'", field, message);
  });
});

describe('ConsulCluster.fromAttributes', () => {
  it('gives an app team the same agent endpoint and control plane the cluster publishes', () => {
    for (const props of [{}, { tls: TLS, datacenter: 'eu1', domain: 'corp', clusterDomain: 'k8s.internal' }] as Partial<ConsulClusterProps>[]) {
      const { cluster } = build(props);
      const reference = ConsulCluster.fromAttributes({
        name: 'consul', namespace: 'consul', tls: props.tls !== undefined, datacenter: props.datacenter, domain: props.domain, clusterDomain: props.clusterDomain,
      });
      expect(reference).toEqual({ agent: cluster.agent, meshControlPlane: cluster.meshControlPlane });
    }
  });

  it('names a missing attribute', () => {
    expect(() => ConsulCluster.fromAttributes({ name: 'consul' } as any)).toThrow(/ConsulCluster.fromAttributes: namespace = undefined is invalid: is required/);
  });

  it('names every bad attribute at once', () => {
    let error: DiscoveryKitValidationError | undefined;
    try {
      ConsulCluster.fromAttributes({ name: 'Consul', namespace: 'consul', datacenter: 'dc_1' });
    } catch (e) {
      error = e as DiscoveryKitValidationError;
    }
    expect(error).toBeInstanceOf(DiscoveryKitValidationError);
    expect(error!.problems.map((p) => [p.constructPath, p.field, p.value])).toEqual([
      ['ConsulCluster.fromAttributes', 'name', 'Consul'],
      ['ConsulCluster.fromAttributes', 'datacenter', 'dc_1'],
    ]);
  });
});
