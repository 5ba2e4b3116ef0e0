import { Duration } from 'cdk8s';
import { describe, expect, it } from 'vitest';
import { ConsulCluster, ConsulClusterProps, DiscoveryKitValidationError, GossipEncryption } from '../lib';
import { expectRejection, rejectionOf } from './support/errors';
import { testChart } from './support/synth';

const GOSSIP = GossipEncryption.fromSecret({ secretName: 'consul-gossip-key', key: 'key' });
const TLS = {
  ca: { secretName: 'consul-ca', key: 'ca.crt' },
  serverCertificate: { secretName: 'consul-server-tls' },
  agentCertificate: { secretName: 'consul-agent-tls' },
};

/** Builds a cluster with `overrides` and returns the synth-time error. */
function errorOf(overrides: Partial<ConsulClusterProps>): DiscoveryKitValidationError {
  return rejectionOf((chart) => new ConsulCluster(chart, 'consul', { gossipEncryption: GOSSIP, ...overrides }), 'consul');
}

/** A Secret reference with one half missing, as JavaScript or YAML-driven callers can pass it. */
function halfSecret(half: 'secretName' | 'key'): any {
  return half === 'secretName' ? { secretName: 'consul-gossip-key' } : { key: 'key' };
}

describe('ConsulCluster rejects bad input at synth time', () => {
  const cases: [string, Partial<ConsulClusterProps>, string, RegExp][] = [
    ['even server count', { replicas: 4 }, 'replicas', /4 is invalid: must be 3, 5 or 7: an even count tolerates no more failures/],
    ['two servers', { replicas: 2 }, 'replicas', /must be 3, 5 or 7/],
    ['more than 7 servers', { replicas: 9 }, 'replicas', /more than 7 slows every Raft write/],
    ['zero servers', { replicas: 0 }, 'replicas', /must be 3, 5 or 7/],
    ['fractional servers', { replicas: 3.5 }, 'replicas', /must be 3, 5 or 7/],
    ['one server without the development flag', { replicas: 1 }, 'replicas', /single server needs developmentSingleServer: true/],
    ['development flag with 3 servers', { developmentSingleServer: true, replicas: 3 }, 'replicas', /must be 1 with developmentSingleServer: true/],
    ['bootstrap_expect below replicas', { replicas: 5, bootstrapExpect: 3 }, 'bootstrapExpect', /3 is invalid: must not be below replicas \(5\).*split brain/],
    ['bootstrap_expect above replicas', { bootstrapExpect: 5 }, 'bootstrapExpect', /must not exceed replicas \(3\)/],
    ['fractional bootstrap_expect', { bootstrapExpect: 2.5 }, 'bootstrapExpect', /integer/],
    ['datacenter with an underscore', { datacenter: 'dc_1' }, 'datacenter', /"dc_1".*RFC 1123 DNS label/],
    ['datacenter with a dot', { datacenter: 'eu.west' }, 'datacenter', /DNS label/],
    ['uppercase datacenter', { datacenter: 'DC1' }, 'datacenter', /lowercase/],
    ['domain with a dot', { domain: 'consul.local' }, 'domain', /"consul.local".*DNS label/],
    ['domain starting with a hyphen', { domain: '-consul' }, 'domain', /DNS label/],
    ['gossip Secret name without a key', { gossipEncryption: GossipEncryption.fromSecret(halfSecret('secretName')) }, 'gossipEncryption.key', /undefined is invalid: must be a Secret key/],
    ['gossip Secret key without a name', { gossipEncryption: GossipEncryption.fromSecret(halfSecret('key')) }, 'gossipEncryption.secretName', /undefined is invalid: must be a DNS-1123 subdomain/],
    ['gossip Secret as a bare string', { gossipEncryption: GossipEncryption.fromSecret('consul-gossip-key' as any) }, 'gossipEncryption', /must name a Secret key: \{ secretName, key \}/],
    ['gossip Secret with a bad name', { gossipEncryption: GossipEncryption.fromSecret({ secretName: 'Gossip_Key', key: 'key' }) }, 'gossipEncryption.secretName', /DNS-1123 subdomain/],
    ['gossip Secret with a bad key', { gossipEncryption: GossipEncryption.fromSecret({ secretName: 'gossip', key: 'the key' }) }, 'gossipEncryption.key', /Secret key/],
    ['no gossip choice', { gossipEncryption: undefined }, 'gossipEncryption', /must be chosen explicitly: GossipEncryption.fromSecret.*GossipEncryption.disabled\(\)/],
    ['ACL tokens Secret name without a key', { acl: { tokensSecret: halfSecret('secretName') } }, 'acl.tokensSecret.key', /must be a Secret key/],
    ['per-agent certificates without Connect', { tls: { ...TLS, agentCertificate: undefined }, connect: false }, 'connect', /must stay on without tls.agentCertificate.*auto_encrypt/],
    ['TLS CA without a key', { tls: { ...TLS, ca: halfSecret('secretName') } }, 'tls.ca.key', /must be a Secret key/],
    ['TLS certificate with a bad Secret name', { tls: { ...TLS, serverCertificate: { secretName: 'Server TLS' } } }, 'tls.serverCertificate.secretName', /DNS-1123 subdomain/],
    ['storage size in GB', { storageSize: '10GB' }, 'storageSize', /"10GB".*Kubernetes quantity/],
    ['storage size without a number', { storageSize: 'Gi' }, 'storageSize', /quantity/],
    ['zero storage', { storageSize: '0' }, 'storageSize', /positive quantity/],
    ['bad StorageClass name', { storageClassName: 'Fast_SSD' }, 'storageClassName', /DNS-1123 subdomain/],
    ['reconnect timeout as a Go duration string', { reconnectTimeout: '72h' as any }, 'reconnectTimeout', /"72h".*must be a cdk8s Duration such as Duration.seconds\(10\)/],
    ['reconnect timeout below 8h', { reconnectTimeout: Duration.hours(1) }, 'reconnectTimeout', /3600s is invalid: .*at least 8h/],
    ['last contact threshold in bare milliseconds', { autopilot: { lastContactThreshold: 200 as any } }, 'autopilot.lastContactThreshold', /cdk8s Duration/],
    ['zero last contact threshold', { autopilot: { lastContactThreshold: Duration.millis(0) } }, 'autopilot.lastContactThreshold', /at least 1ms/],
    ['stabilization time as a Go duration string', { autopilot: { serverStabilizationTime: '10s' as any } }, 'autopilot.serverStabilizationTime', /"10s".*cdk8s Duration/],
    ['ClusterIP octet above 255', { dnsClusterIp: '10.96.0.300' }, 'dnsClusterIp', /"10.96.0.300".*IPv4 address/],
    ['headless ClusterIP', { dnsClusterIp: 'None' }, 'dnsClusterIp', /IPv4/],
    ['IPv6 ClusterIP', { dnsClusterIp: 'fd00::53' }, 'dnsClusterIp', /IPv4/],
    ['ClusterIP with three octets', { dnsClusterIp: '10.96.53' }, 'dnsClusterIp', /IPv4/],
    ['ClusterIP with a leading zero', { dnsClusterIp: '10.96.0.053' }, 'dnsClusterIp', /no leading zeros/],
    ['image without a tag', { image: 'hashicorp/consul' }, 'image', /pinned/],
    ['image tagged latest', { image: 'hashicorp/consul:latest' }, 'image', /other than 'latest'/],
    ['malformed image', { image: 'hashicorp/Consul:1.20.6' }, 'image', /pinned/],
    ['uppercase name', { name: 'Consul' }, 'name', /DNS-1035/],
    ['name too long for the StatefulSet', { name: 'c'.repeat(46) }, 'name', /at most 45 characters.*controller-revision-hash/],
    ['bad namespace', { namespace: 'Platform_NS' }, 'namespace', /RFC 1123/],
    ['bad cluster domain', { clusterDomain: 'Cluster.Local' }, 'clusterDomain', /DNS-1123 subdomain/],
    ['server request above limit', { serverResources: { requests: { cpu: '2' }, limits: { cpu: '1' } } }, 'serverResources.requests.cpu', /must not exceed serverResources.limits.cpu \(1\)/],
    ['agent memory in GB', { agentResources: { limits: { memory: '1GB' } } }, 'agentResources.limits.memory', /quantity/],
    ['root user', { runAsUser: 0 }, 'runAsUser', /from 1/],
    ['root group', { runAsGroup: 0 }, 'runAsGroup', /from 1/],
    ['bad label', { labels: { team: 'plat form' } }, 'labels["team"]', /63 alphanumerics/],
    ['bad part-of', { partOf: 'service discovery' }, 'labels["app.kubernetes.io/part-of"]', /63 alphanumerics/],
  ];

  it.each(cases)('%s', (_title, overrides, field, message) => {
    const error = errorOf(overrides);
    expect(error.constructPath).toBe("ConsulCluster 'test/consul'");
    expectRejection(error, "ConsulCluster 'test/consul'", field, message);
    // One bad value is one problem: no check repeats another's complaint.
    expect(error.problems).toHaveLength(1);
  });

  it('names each missing certificate of TLS without certificates', () => {
    const error = errorOf({ tls: {} as any });
    expect(error.problems.map((p) => p.field)).toEqual(['tls.ca', 'tls.serverCertificate']);
    expect(error.problems.every((p) => /TLS needs certificates/.test(p.allowed))).toBe(true);
  });

  it('reports every bad field at once, each naming the construct, field, value and what is allowed', () => {
    const error = errorOf({
      replicas: 4,
      datacenter: 'dc_1',
      gossipEncryption: GossipEncryption.fromSecret({ secretName: 'gossip', key: 'the key' }),
      tls: { ...TLS, ca: undefined as any },
      storageSize: '10GB',
      reconnectTimeout: Duration.hours(1),
      autopilot: { lastContactThreshold: Duration.millis(0) },
      dnsClusterIp: '10.96.0.300',
      runAsUser: 0,
      labels: { team: 'plat form' },
    });
    expect(error.problems.map((p) => [p.field, p.value])).toEqual([
      ['datacenter', 'dc_1'],
      ['replicas', 4],
      ['gossipEncryption.key', 'the key'],
      ['tls.ca', undefined],
      ['storageSize', '10GB'],
      ['reconnectTimeout', Duration.hours(1)],
      ['autopilot.lastContactThreshold', Duration.millis(0)],
      ['dnsClusterIp', '10.96.0.300'],
      ['runAsUser', 0],
      ['labels["team"]', 'plat form'],
    ]);
    for (const p of error.problems) {
      expect(p.constructPath).toBe("ConsulCluster 'test/consul'");
      expect(p.nodePath).toBe('test/consul');
      expect(p.allowed).not.toBe('');
    }
    expect(error.message).toMatch(/^10 invalid values:\n  - ConsulCluster 'test\/consul': datacenter = "dc_1" is invalid: must be an RFC 1123 DNS label/);
    expect(error.message).toContain("ConsulCluster 'test/consul': reconnectTimeout = 3600s is invalid: must be at least 8h");
  });

  it('accepts a single server only with the explicit development flag', () => {
    expect(() => new ConsulCluster(testChart(), 'consul', { gossipEncryption: GOSSIP, developmentSingleServer: true })).not.toThrow();
  });
});
