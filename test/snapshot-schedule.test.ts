import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { Chart, Cron, Duration, Testing } from 'cdk8s';
import { describe, expect, it } from 'vitest';
import {
  CONSUL_MESH_LABEL, ConsulCluster, ConsulSnapshotSchedule, ConsulSnapshotScheduleProps, ETCD_CLIENT_LABEL, EtcdCluster,
  EtcdSnapshotSchedule, GossipEncryption,
} from '../lib';
import type { KubeObject } from './support/schema';
import { expectRejection, rejectionOf } from './support/errors';
import { findObject, synthChart } from './support/synth';

const TOKEN = { secretName: 'consul-snapshot-token', key: 'token' };

function consulChart(tls = false): { chart: Chart; consul: ConsulCluster } {
  const chart = new Chart(Testing.app(), 'consul', { namespace: 'consul', disableResourceNameHashes: true });
  const consul = new ConsulCluster(chart, 'consul', {
    gossipEncryption: GossipEncryption.disabled(),
    tls: tls ? { ca: { secretName: 'consul-ca', key: 'ca.crt' }, serverCertificate: { secretName: 's' }, agentCertificate: { secretName: 'a' } } : undefined,
  });
  return { chart, consul };
}

const podSpecOf = (cronJob: KubeObject) => cronJob.spec.jobTemplate.spec.template.spec;
const envOf = (cronJob: KubeObject) => Object.fromEntries(podSpecOf(cronJob).containers[0].env.map((e: any) => [e.name, e.value ?? e.valueFrom]));

describe('ConsulSnapshotSchedule', () => {
  const { chart, consul } = consulChart(true);
  new ConsulSnapshotSchedule(chart, 'snapshots', {
    cluster: consul, schedule: Cron.schedule({ minute: '15', hour: '*/6' }), retain: 7, aclToken: TOKEN,
    caCertificate: { secretName: 'consul-ca', key: 'ca.crt' }, sink: { claimName: 'offsite-backups' }, storageClassName: 'fast',
  });
  const objects = synthChart(chart);
  const own = objects.filter((o) => o.metadata.labels?.['app.kubernetes.io/component'] === 'snapshot');
  const cronJob = findObject(objects, 'CronJob', 'consul-snapshot');

  it('synthesizes a CronJob, its PVC, ServiceAccount, scripts and NetworkPolicy', () => {
    expect(own).toMatchSnapshot();
  });

  it('runs one snapshot at a time, on schedule, within deadlines, keeping a bounded history', () => {
    expect(cronJob.spec).toMatchObject({
      schedule: '15 */6 * * *', timeZone: 'Etc/UTC', concurrencyPolicy: 'Forbid', startingDeadlineSeconds: 300,
      successfulJobsHistoryLimit: 3, failedJobsHistoryLimit: 3, jobTemplate: { spec: { backoffLimit: 2, activeDeadlineSeconds: 600 } },
    });
  });

  it('takes the snapshot from the servers over HTTPS with the token Secret and the CA', () => {
    expect(envOf(cronJob)).toMatchObject({
      CONSUL_HTTP_ADDR: 'https://consul-server.consul.svc.cluster.local:8501',
      CONSUL_HTTP_TOKEN: { secretKeyRef: { name: 'consul-snapshot-token', key: 'token' } },
      CONSUL_CACERT: '/snapshot-secrets/consul-ca/ca.crt',
      SNAPSHOT_DIR: '/snapshots', SNAPSHOT_RETAIN: '7', SNAPSHOT_SINK_DIR: '/snapshot-sink',
    });
    // The server certificate carries the name the Job connects to.
    expect(consul.tlsDnsNames.server).toContain('consul-server.consul.svc.cluster.local');
    expect(findObject(objects, 'PersistentVolumeClaim', 'consul-snapshot').spec).toMatchObject({ storageClassName: 'fast', resources: { requests: { storage: '1Gi' } } });
    expect(podSpecOf(cronJob).volumes).toContainEqual({ name: 'sink', persistentVolumeClaim: { claimName: 'offsite-backups' } });
  });

  it('runs under Pod Security "restricted" without a service account token', () => {
    const spec = podSpecOf(cronJob);
    expect(spec.automountServiceAccountToken).toBe(false);
    expect(spec.serviceAccountName).toBe('consul-snapshot');
    expect(findObject(objects, 'ServiceAccount', 'consul-snapshot').automountServiceAccountToken).toBe(false);
    expect(spec.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 10001, seccompProfile: { type: 'RuntimeDefault' } });
    expect(spec.containers[0].securityContext).toEqual({
      allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, runAsNonRoot: true, capabilities: { drop: ['ALL'] }, seccompProfile: { type: 'RuntimeDefault' },
    });
  });

  it("is admitted to the servers' API port alone by an ingress-only policy next to them, and may reach only that and cluster DNS", () => {
    const labels = cronJob.spec.jobTemplate.spec.template.metadata.labels;
    // No client or mesh identity: the servers' own policy does not admit it.
    expect(labels[CONSUL_MESH_LABEL]).toBeUndefined();
    const admission = findObject(objects, 'NetworkPolicy', 'consul-snapshot-to-server');
    expect(admission.spec).toEqual({
      podSelector: { matchLabels: consul.serverPodSelector },
      policyTypes: ['Ingress'],
      ingress: [{
        from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'consul' } }, podSelector: { matchLabels: expect.any(Object) } }],
        ports: [{ port: 8501, protocol: 'TCP' }],
      }],
    });
    expect(Object.entries(admission.spec.ingress[0].from[0].podSelector.matchLabels).every(([k, v]) => labels[k] === v)).toBe(true);
    const own = findObject(objects, 'NetworkPolicy', 'consul-snapshot');
    expect(own.spec.policyTypes).toEqual(['Ingress', 'Egress']);
    expect(own.spec.ingress).toEqual([]);
    expect(own.spec.egress).toEqual([
      { to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'consul' } }, podSelector: { matchLabels: consul.serverPodSelector } }], ports: [{ port: 8501, protocol: 'TCP' }] },
      expect.objectContaining({ ports: [{ port: 53, protocol: 'UDP' }, { port: 53, protocol: 'TCP' }] }),
    ]);
    expect(Object.entries(own.spec.podSelector.matchLabels).every(([k, v]) => labels[k] === v)).toBe(true);
  });

  it('works from ConsulCluster.fromAttributes as from the construct', () => {
    const other = new Chart(Testing.app(), 'ops', { namespace: 'ops', disableResourceNameHashes: true });
    const schedule = new ConsulSnapshotSchedule(other, 'snapshots', {
      cluster: ConsulCluster.fromAttributes({ name: 'consul', namespace: 'consul', tls: true }), schedule: Cron.daily(), aclToken: TOKEN,
      caCertificate: { secretName: 'consul-ca', key: 'ca.crt' }, namespace: 'ops',
    });
    expect(schedule.serverUrl).toBe('https://consul-server.consul.svc.cluster.local:8501');
    expect(synthChart(other).filter((o) => o.kind === 'CronJob').map((o) => o.metadata.namespace)).toEqual(['ops']);
  });
});

describe('EtcdSnapshotSchedule', () => {
  const chart = new Chart(Testing.app(), 'etcd', { namespace: 'etcd', disableResourceNameHashes: true });
  const etcd = new EtcdCluster(chart, 'etcd', { clientTls: { secretName: 'etcd-client-tls' } });
  new EtcdSnapshotSchedule(chart, 'snapshots', { cluster: etcd, schedule: Cron.hourly(), clientTls: { secretName: 'etcd-snapshot-tls' } });
  const objects = synthChart(chart);
  const cronJob = findObject(objects, 'CronJob', 'etcd-snapshot');

  it('takes the snapshot from one member with client certificates, each attempt within its share of the deadline', () => {
    expect(envOf(cronJob)).toMatchObject({
      ETCDCTL_ENDPOINTS: 'https://etcd-client.etcd.svc.cluster.local:2379',
      ETCDCTL_CACERT: '/snapshot-secrets/etcd-client-tls/ca.crt',
      ETCDCTL_CERT: '/snapshot-secrets/etcd-client-tls/tls.crt',
      ETCDCTL_KEY: '/snapshot-secrets/etcd-client-tls/tls.key',
      ETCDCTL_COMMAND_TIMEOUT: '200s',
    });
    expect(podSpecOf(cronJob).volumes).toContainEqual(expect.objectContaining({ name: 'etcd-client-tls', secret: expect.objectContaining({ secretName: 'etcd-snapshot-tls', defaultMode: 0o440 }) }));
  });

  it("is admitted by the members' NetworkPolicy on the client port, and may reach only that and cluster DNS", () => {
    const labels = cronJob.spec.jobTemplate.spec.template.metadata.labels;
    expect(labels[ETCD_CLIENT_LABEL]).toBe('etcd');
    const members = findObject(objects, 'NetworkPolicy', 'etcd');
    expect(members.spec.ingress).toContainEqual({ from: [{ namespaceSelector: {}, podSelector: { matchLabels: { [ETCD_CLIENT_LABEL]: 'etcd' } } }], ports: [{ port: 2379, protocol: 'TCP' }] });
    const own = findObject(objects, 'NetworkPolicy', 'etcd-snapshot');
    expect(own.spec.ingress).toEqual([]);
    expect(own.spec.egress[0]).toEqual({
      to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'etcd' } }, podSelector: { matchLabels: etcd.podSelector } }], ports: [{ port: 2379, protocol: 'TCP' }],
    });
  });
});

describe('snapshot schedules reject bad props at synth time', () => {
  it('reports every bad field of a ConsulSnapshotSchedule at once', () => {
    const error = rejectionOf((chart) => {
      const { consul } = consulChart(true);
      new ConsulSnapshotSchedule(chart, 'snapshots', {
        cluster: consul,
        schedule: Cron.schedule({ minute: '61' }),
        timeZone: 'Mars/Olympus',
        retain: 0,
        aclToken: { secretName: 'Bad_Name', key: 'token' },
        storageSize: '1GB',
        startingDeadline: Duration.seconds(5),
        activeDeadline: Duration.millis(90_500),
        backoffLimit: -1,
        image: 'hashicorp/consul:latest',
      } as ConsulSnapshotScheduleProps);
    });
    expect(error.problems.map((p) => p.field)).toEqual([
      'aclToken.secretName', 'caCertificate', 'schedule', 'timeZone', 'retain', 'storageSize', 'startingDeadline', 'activeDeadline', 'backoffLimit', 'image',
    ]);
    expect(error.message).toMatch(/^10 invalid values:/);
    expect(error.message).toContain("has minute '61': values must be 0-59");
  });

  it.each([
    ['a day of month of 0', Cron.schedule({ minute: '0', day: '0' }), /day of month '0': values must be 1-31/],
    ['a backwards range', Cron.schedule({ minute: '30-10' }), /must not run backwards/],
    ['a zero step', Cron.schedule({ minute: '*/0' }), /a step is '\/' and a positive integer/],
    ['six fields', Cron.schedule({ minute: '0 0' }), /must have five fields/],
    ['a plain string', '0 * * * *' as unknown as Cron, /must be a cdk8s Cron/],
  ])('rejects a schedule with %s', (_, schedule, message) => {
    const error = rejectionOf((chart) => {
      const etcd = new EtcdCluster(new Chart(Testing.app(), 'etcd'), 'etcd');
      new EtcdSnapshotSchedule(chart, 'snapshots', { cluster: etcd, schedule });
    });
    expectRejection(error, "EtcdSnapshotSchedule 'test/snapshots'", 'schedule', message);
  });

  it.each([
    ['names', Cron.schedule({ minute: '0', hour: '3', month: 'jan-jun', weekDay: 'MON-FRI' })],
    ['steps and lists', Cron.schedule({ minute: '5/15,50', hour: '*/2', day: '?' })],
  ])('accepts a schedule with %s', (_, schedule) => {
    const etcd = new EtcdCluster(new Chart(Testing.app(), 'etcd'), 'etcd');
    expect(() => new EtcdSnapshotSchedule(new Chart(Testing.app(), 'x'), 'snapshots', { cluster: etcd, schedule, clientTls: undefined })).not.toThrow();
  });

  it('requires client certificates for an etcd cluster with client TLS', () => {
    const error = rejectionOf((chart) => {
      const etcd = new EtcdCluster(new Chart(Testing.app(), 'etcd'), 'etcd', { clientTls: { secretName: 'etcd-client-tls' } });
      new EtcdSnapshotSchedule(chart, 'snapshots', { cluster: etcd, schedule: Cron.hourly() });
    });
    expectRejection(error, "EtcdSnapshotSchedule 'test/snapshots'", 'clientTls', /requires client certificates/);
  });

  it('refuses client certificates for an etcd cluster that serves clients plain HTTP', () => {
    const error = rejectionOf((chart) => {
      const etcd = new EtcdCluster(new Chart(Testing.app(), 'etcd'), 'etcd');
      new EtcdSnapshotSchedule(chart, 'snapshots', { cluster: etcd, schedule: Cron.hourly(), clientTls: { secretName: 'etcd-snapshot-client-tls' } });
    });
    expectRejection(error, "EtcdSnapshotSchedule 'test/snapshots'", 'cluster.clientEndpoints[0]', /"http:\/\/etcd-client\.default\.svc\.cluster\.local:2379" is invalid: must use https:\/\/ with clientTls/);
  });
});

describe('the snapshot scripts', () => {
  it.each(['lib/consul/snapshot.sh', 'lib/etcd/snapshot.sh', 'lib/core/snapshot-lib.sh'])('%s is shellcheck-clean as POSIX sh', (script) => {
    const result = spawnSync('shellcheck', ['-x', '-s', 'sh', script], { cwd: join(__dirname, '..'), encoding: 'utf8' });
    expect(result.error).toBeUndefined();
    expect(result.stdout + result.stderr).toBe('');
    expect(result.status).toBe(0);
  });
});
