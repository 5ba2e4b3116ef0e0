import { Chart, Testing } from 'cdk8s';
import { describe, expect, it } from 'vitest';
import { ConsulCluster, DiscoverableService, EtcdCluster, GossipEncryption, KUBE_DNS_PEER, setClusterDns } from '../lib';
import { findObject, synthApp } from './support/synth';

const NODE_LOCAL_DNS = { ipBlock: { cidr: '169.254.20.10/32' } };
const DNS_PORTS = [{ port: 53, protocol: 'UDP' }, { port: 53, protocol: 'TCP' }];

describe('the cluster DNS the NetworkPolicies allow', () => {
  it('defaults to the kube-dns pods in kube-system', () => {
    const app = Testing.app();
    new DiscoverableService(new Chart(app, 'apps', { namespace: 'production' }), 'svc', { image: 'ghcr.io/acme/svc:1.0.0' });
    expect(findObject(synthApp(app), 'NetworkPolicy', 'svc').spec.egress).toEqual([{ to: [KUBE_DNS_PEER], ports: DNS_PORTS }]);
  });

  it('follows setClusterDns for every construct under the app (e.g. NodeLocal DNSCache)', () => {
    const app = Testing.app();
    setClusterDns(app, { peers: [NODE_LOCAL_DNS, KUBE_DNS_PEER] });
    const apps = new Chart(app, 'apps', { namespace: 'production' });
    new DiscoverableService(apps, 'svc', { image: 'ghcr.io/acme/svc:1.0.0' });
    const registries = new Chart(app, 'registries', { namespace: 'consul' });
    new ConsulCluster(registries, 'consul', { gossipEncryption: GossipEncryption.disabled(), dnsClusterIp: '10.96.0.53' });
    new EtcdCluster(registries, 'etcd', { namespace: 'consul' });
    const objects = synthApp(app);
    const dnsRule = { to: [NODE_LOCAL_DNS, KUBE_DNS_PEER], ports: DNS_PORTS };
    for (const name of ['svc', 'consul-server', 'consul-agent', 'etcd']) {
      expect(findObject(objects, 'NetworkPolicy', name).spec.egress, name).toContainEqual(dnsRule);
    }
    expect(findObject(objects, 'NetworkPolicy', 'consul-server').spec.ingress).toContainEqual(expect.objectContaining({ from: [NODE_LOCAL_DNS, KUBE_DNS_PEER] }));
  });

  it('rejects an empty list of DNS peers', () => {
    expect(() => setClusterDns(Testing.app(), { peers: [] })).toThrow(/clusterDns.peers = \[\] is invalid: must name at least one DNS peer/);
  });
});
