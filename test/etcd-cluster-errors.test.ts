import { Duration, Testing } from 'cdk8s';
import { describe, expect, it } from 'vitest';
import { DiscoveryKitValidationError, EtcdCluster, EtcdClusterProps, EtcdTlsOptions, VolumeClaimRetention } from '../lib';
import { expectRejection, rejectionOf } from './support/errors';
import { testChart } from './support/synth';

/** Builds a cluster with `props` and returns the synth-time error. */
function errorOf(props: EtcdClusterProps): DiscoveryKitValidationError {
  return rejectionOf((chart) => new EtcdCluster(chart, 'registry-etcd', props));
}

describe('EtcdCluster rejects bad input at synth time', () => {
  const cases: [string, EtcdClusterProps, string, RegExp][] = [
    ['2 members', { replicas: 2 }, 'replicas', /= 2 .*must be odd: 2 members tolerate 0 failure/],
    ['4 members', { replicas: 4 }, 'replicas', /must be odd: 4 members tolerate 1 failure\(s\), no more than 3/],
    ['6 members', { replicas: 6 }, 'replicas', /must be odd/],
    ['0 members', { replicas: 0 }, 'replicas', /from 1 to 7/],
    ['9 members', { replicas: 9 }, 'replicas', /= 9 .*from 1 to 7/],
    ['fractional members', { replicas: 3.5 }, 'replicas', /integer/],
    ['1 member without the development flag', { replicas: 1 }, 'replicas', /tolerates no failure.*allowSingleMember: true/],
    ['uppercase name', { name: 'Etcd' }, 'name', /"Etcd".*DNS-1035/],
    ['name starting with a digit', { name: '1etcd' }, 'name', /starting with a letter/],
    ['name too long for the revision-hash label', { name: 'e'.repeat(53) }, 'name', /at most 52 characters.*controller-revision-hash/],
    ['bad namespace', { namespace: 'Discovery_1' }, 'namespace', /RFC 1123/],
    ['bad cluster domain', { clusterDomain: 'cluster..local' }, 'clusterDomain', /DNS-1123 subdomain/],
    ['image without tag', { image: 'gcr.io/etcd-development/etcd' }, 'image', /pinned/],
    ['image tagged latest', { image: 'gcr.io/etcd-development/etcd:latest' }, 'image', /other than 'latest'/],
    ['malformed image', { image: 'gcr.io/etcd development/etcd:v3.5.21' }, 'image', /pinned/],
    ['etcd without /livez and /readyz', { image: 'gcr.io/etcd-development/etcd:v3.5.11' }, 'image', /etcd 3\.5\.12 or later/],
    ['etcd 3.4', { image: 'registry.k8s.io/etcd:3.4.13-0' }, 'image', /3\.5\.12 or later/],
    ['bad storage quantity', { storageSize: '8GB' }, 'storageSize', /"8GB".*Kubernetes quantity/],
    ['storage too small for the quota', { storageSize: '4Gi' }, 'storageSize', /at least 5Gi: twice the backend quota/],
    ['storage too small for a larger quota', { storageSize: '8Gi', backendQuota: '4Gi' }, 'storageSize', /at least 9Gi/],
    ['bad storage class', { storageClassName: 'Fast_SSD' }, 'storageClassName', /DNS-1123 subdomain/],
    ['bad quota quantity', { backendQuota: '2GB' }, 'backendQuota', /Kubernetes quantity/],
    ['quota above 8Gi', { backendQuota: '16Gi', storageSize: '64Gi' }, 'backendQuota', /from 64Mi to 8Gi/],
    ['quota without a unit', { backendQuota: '2' }, 'backendQuota', /"2".*from 64Mi/],
    ['fractional quota bytes', { backendQuota: '100.1Mi' }, 'backendQuota', /whole number of bytes/],
    ['sub-second compaction retention', { autoCompactionRetention: Duration.millis(90_500) }, 'autoCompactionRetention', /90.5s.*whole number of seconds/],
    ['compaction retention under a minute', { autoCompactionRetention: Duration.seconds(30) }, 'autoCompactionRetention', /30s.*>= 60s/],
    ['startup window too short', { maxStartupTime: Duration.seconds(10) }, 'maxStartupTime', /from 30s to 3600s/],
    ['startup window over an hour', { maxStartupTime: Duration.hours(2) }, 'maxStartupTime', /7200s/],
    ['client TLS without certificates', { clientTls: {} as EtcdTlsOptions }, 'clientTls.secretName', /TLS cannot be on without certificates/],
    ['peer TLS with an empty Secret name', { peerTls: { secretName: '' } }, 'peerTls.secretName', /TLS cannot be on without certificates/],
    ['bad TLS Secret name', { clientTls: { secretName: 'Etcd_TLS' } }, 'clientTls.secretName', /DNS-1123 subdomain/],
    ['TLS Secret without a certificate key', { clientTls: { secretName: 'etcd-tls', certKey: '' } }, 'clientTls.certKey', /must be a Secret key/],
    ['TLS Secret with a bad key', { peerTls: { secretName: 'etcd-tls', keyKey: 'tls key' } }, 'peerTls.keyKey', /"tls key".*Secret key/],
    ['TLS keys that collide', { peerTls: { secretName: 'etcd-tls', caKey: 'tls.crt' } }, 'peerTls.certKey', /"tls.crt".*must be unique: peerTls.caKey has the same value/],
    ['bad resource quantity', { resources: { limits: { memory: '1GB' } } }, 'resources.limits.memory', /quantity/],
    ['request above limit', { resources: { requests: { cpu: '4' } } }, 'resources.requests.cpu', /must not exceed resources.limits.cpu \(2\)/],
    ['root user', { runAsUser: 0 }, 'runAsUser', /from 1/],
    ['bad label', { labels: { team: 'plat form' } }, 'labels["team"]', /63 alphanumerics/],
  ];

  it.each(cases)('%s', (_title, props, field, message) => {
    const error = errorOf(props);
    expectRejection(error, "EtcdCluster 'test/registry-etcd'", field, message);
    // One bad value is one problem: no check repeats another's complaint.
    expect(error.problems).toHaveLength(1);
  });

  it('reports every bad field at once, each naming the construct, field, value and what is allowed', () => {
    const error = errorOf({
      name: 'Etcd',
      replicas: 4,
      image: 'gcr.io/etcd-development/etcd:v3.5.11',
      backendQuota: '16Gi',
      storageSize: '8GB',
      maxStartupTime: Duration.seconds(10),
      clientTls: { secretName: 'Etcd_TLS' },
      peerTls: { secretName: 'etcd-tls', keyKey: 'tls key' },
      runAsUser: 0,
    });
    expect(error.problems.map((p) => [p.field, p.value])).toEqual([
      ['name', 'Etcd'],
      ['replicas', 4],
      ['image', 'gcr.io/etcd-development/etcd:v3.5.11'],
      ['backendQuota', '16Gi'],
      ['storageSize', '8GB'],
      ['maxStartupTime', Duration.seconds(10)],
      ['clientTls.secretName', 'Etcd_TLS'],
      ['peerTls.keyKey', 'tls key'],
      ['runAsUser', 0],
    ]);
    for (const p of error.problems) {
      expect(p.constructPath).toBe("EtcdCluster 'test/registry-etcd'");
      expect(p.nodePath).toBe('test/registry-etcd');
    }
    expect(error.message).toMatch(/^9 invalid values:\n  - EtcdCluster 'test\/registry-etcd': name = "Etcd" is invalid: must be a DNS-1035 label/);
    expect(error.message).toContain("EtcdCluster 'test/registry-etcd': replicas = 4 is invalid: must be odd");
  });

  it('accepts images whose tag names no version, which it cannot check', () => {
    expect(() => new EtcdCluster(testChart(), 'etcd', { image: `mirror.internal/etcd@sha256:${'a'.repeat(64)}` })).not.toThrow();
  });
});

describe('EtcdCluster placement, staged upgrades and metrics', () => {
  it('renders placement, the update partition, the volume retention and the scrapers\' access', () => {
    const chart = Testing.chart();
    const prometheus = { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } }, podSelector: { matchLabels: { app: 'prometheus' } } };
    new EtcdCluster(chart, 'etcd', {
      namespace: 'discovery',
      placement: { nodeSelector: { 'node-role/registry': 'true' }, tolerations: [{ key: 'registry', operator: 'Exists', effect: 'NoSchedule' }], priorityClassName: 'registry-critical' },
      upgrade: { updatePartition: 2, volumeClaimRetention: { whenScaled: VolumeClaimRetention.DELETE } },
      metricsScrapers: [prometheus],
      prometheusAnnotations: true,
    });
    const objects = Testing.synth(chart);
    const sts = objects.find((o) => o.kind === 'StatefulSet');
    expect(sts.spec.updateStrategy).toEqual({ type: 'RollingUpdate', rollingUpdate: { partition: 2 } });
    expect(sts.spec.persistentVolumeClaimRetentionPolicy).toEqual({ whenDeleted: 'Retain', whenScaled: 'Delete' });
    expect(sts.spec.template.spec).toMatchObject({
      nodeSelector: { 'node-role/registry': 'true' }, priorityClassName: 'registry-critical',
      tolerations: [{ key: 'registry', operator: 'Exists', effect: 'NoSchedule' }],
    });
    expect(sts.spec.template.metadata.annotations).toEqual({ 'prometheus.io/scrape': 'true', 'prometheus.io/port': '8080', 'prometheus.io/path': '/metrics' });
    const policy = objects.find((o) => o.kind === 'NetworkPolicy');
    expect(policy.spec.ingress).toContainEqual({ from: [prometheus], ports: [{ port: 8080, protocol: 'TCP' }] });
  });

  it('reports every bad placement and upgrade value at once', () => {
    const error = rejectionOf((chart) => new EtcdCluster(chart, 'etcd', {
      placement: { priorityClassName: 'Critical', tolerations: [{ key: 'registry', operator: 'Exists', value: 'yes' }, { key: 'x', effect: 'NoSchedule', tolerationSeconds: 30 }] },
      upgrade: { updatePartition: 4, volumeClaimRetention: { whenDeleted: 'Keep' as VolumeClaimRetention } },
    }));
    expect(error.problems.map((p) => p.field)).toEqual([
      'placement.priorityClassName', 'placement.tolerations[0].value', 'placement.tolerations[1].tolerationSeconds',
      'upgrade.updatePartition', 'upgrade.volumeClaimRetention.whenDeleted',
    ]);
  });
});
