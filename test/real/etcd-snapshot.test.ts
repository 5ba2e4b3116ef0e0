import { copyFileSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Chart, Cron, Duration, Testing } from 'cdk8s';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EtcdCluster, EtcdSnapshotSchedule } from '../../lib';
import { EtcdTestServer, createTestPki, etcdctl, getKey, getKeyWithLease, leaseTimeToLive } from '../support/etcd';
import { Secrets, podWorkDir } from '../support/pod';
import { generatedSnapshotJob, runSnapshotJob, snapshotFiles } from '../support/snapshot-job';
import { synthChart } from '../support/synth';

/**
 * The EtcdSnapshotSchedule's Job exactly as synthesized (script, env, client TLS Secret, PVC
 * and sink volumes), run under dash (the default image is Debian's) against a real etcd that
 * requires client certificates, and the README's restore procedure into a fresh member.
 */
const DASH = ['dash'];
const RETAIN = 2;
const TLS_SECRET = 'etcd-snapshot-client-tls';
const REGISTRATION = '/services/user-service/user-service-6b7c9-x2x4q';

describe('real etcd: the snapshot CronJob and the README restore', () => {
  const chart = new Chart(Testing.app(), 'etcd', { namespace: 'etcd', disableResourceNameHashes: true });
  const etcd = new EtcdCluster(chart, 'etcd', { clientTls: { secretName: 'etcd-client-tls' } });
  new EtcdSnapshotSchedule(chart, 'snapshots', {
    cluster: etcd, schedule: Cron.schedule({ minute: '*/30' }), retain: RETAIN, clientTls: { secretName: TLS_SECRET }, sink: { claimName: 'etcd-backups' },
    // Each of the 3 attempts may wait 10 s for an unreachable member (ETCDCTL_COMMAND_TIMEOUT).
    activeDeadline: Duration.seconds(30), backoffLimit: 2,
  });
  const objects = synthChart(chart);
  const job = generatedSnapshotJob(objects, 'etcd-snapshot');
  const workDir = podWorkDir('etcd-snapshot');
  const claims = { snapshots: join(workDir, 'claims', 'snapshots'), sink: join(workDir, 'claims', 'sink') };
  const emptyBin = join(workDir, 'bin');
  let source: EtcdTestServer;
  let registrationLease: string;
  let runs = 0;
  const secrets = new Secrets();

  const run = (binDir = emptyBin) => runSnapshotJob(job, {
    name: `etcd-snapshot-2900${runs}-${runs++}`,
    address: '127.0.0.1',
    secrets,
    claims,
    binDir,
    // The client Service URL becomes the member's TLS listener; nothing else changes.
    rewrite: (value) => value.replace(job.env.ETCDCTL_ENDPOINTS, source.tlsEndpoint!),
    shell: DASH,
    workDir,
  });

  beforeAll(async () => {
    Object.values(claims).forEach((dir) => mkdirSync(dir, { recursive: true }));
    mkdirSync(emptyBin);
    mkdirSync(join(workDir, 'pki'));
    const pki = createTestPki(join(workDir, 'pki'));
    source = await EtcdTestServer.start({ tls: { ...pki.server, caFile: pki.caFile } });
    secrets.set(TLS_SECRET, { 'ca.crt': readFileSync(pki.caFile, 'utf8'), 'tls.crt': readFileSync(pki.client.certFile, 'utf8'), 'tls.key': readFileSync(pki.client.keyFile, 'utf8') });
    await etcdctl(source.endpoint, 'put', '/config/shop/payment-timeout', '2s');
    await etcdctl(source.endpoint, 'put', '/config/shop/flags/new-checkout', 'on');
    // A registration as EtcdLeaseRegistration writes it: a key on a lease.
    registrationLease = /lease ([0-9a-f]+) granted/.exec(await etcdctl(source.endpoint, 'lease', 'grant', '3600'))![1];
    await etcdctl(source.endpoint, 'put', `--lease=${registrationLease}`, REGISTRATION, '{"host":"10.1.2.3","port":8080,"tags":["v1"]}');
  }, 120_000);
  afterAll(async () => {
    await source?.cleanup();
    rmSync(workDir, { recursive: true, force: true });
  });

  it('saves a verified snapshot over client TLS, copies it to the sink, and keeps the newest `retain` over more runs', async () => {
    const names: string[] = [];
    for (let i = 0; i <= RETAIN; i++) {
      const { code, log } = await run();
      expect(code, log).toBe(0);
      names.push(/saved \/snapshots\/(etcd-\d{8}T\d{6}Z\.db)/.exec(log)![1]);
    }
    expect(readdirSync(claims.snapshots).sort()).toEqual(names.slice(1));
    expect(snapshotFiles(claims.sink)).toEqual(snapshotFiles(claims.snapshots));
  }, 120_000);

  it('fails without a client certificate and keeps the snapshots it has', async () => {
    const before = snapshotFiles(claims.snapshots);
    const good = secrets.get(TLS_SECRET)!;
    secrets.set(TLS_SECRET, { ...good, 'tls.crt': readFileSync(join(workDir, 'pki', 'server.crt'), 'utf8'), 'tls.key': readFileSync(join(workDir, 'pki', 'server.key'), 'utf8') });
    try {
      const { code, log } = await run();
      expect(code, log).not.toBe(0);
      expect(log).toContain('saving the snapshot failed; the existing snapshots are kept');
      expect(job.env.ETCDCTL_COMMAND_TIMEOUT).toBe('10s');
    } finally {
      secrets.set(TLS_SECRET, good);
    }
    expect(snapshotFiles(claims.snapshots)).toEqual(before);
  }, 60_000);

  it.each([
    ['empty', (_good: Buffer) => Buffer.alloc(0)],
    ['truncated', (good: Buffer) => good.subarray(0, Math.floor(good.length / 2))],
    // Same size, 64 bytes overwritten mid-file: only the hash check of the trial restore notices.
    ['corrupt', (good: Buffer) => Buffer.concat([good.subarray(0, good.length / 2), Buffer.alloc(64, 0xa5), good.subarray(good.length / 2 + 64)])],
  ])('fails on an %s snapshot and keeps the good ones', async (kind, damage) => {
    const before = snapshotFiles(claims.snapshots);
    // An etcdctl whose `snapshot save` reports success but writes a bad file; the rest is the real one.
    const binDir = join(workDir, `fake-etcdctl-${kind}`);
    mkdirSync(binDir);
    writeFileSync(join(binDir, 'bad.db'), damage(readFileSync(join(claims.snapshots, before.at(-1)!.name))));
    writeFileSync(join(binDir, 'etcdctl'), [
      '#!/bin/sh',
      'if [ "$1 $2" = "snapshot save" ]; then cat /opt/discovery-kit/bin/bad.db > "$3"; exit 0; fi',
      'exec /usr/bin/etcdctl "$@"',
      '',
    ].join('\n'), { mode: 0o755 });
    const { code, log } = await run(binDir);
    expect(code, log).not.toBe(0);
    expect(log).toMatch(/the snapshot (is empty|failed verification); the existing snapshots are kept/);
    expect(snapshotFiles(claims.snapshots)).toEqual(before);
    expect(snapshotFiles(claims.sink)).toEqual(before);
  }, 60_000);

  it("restores into a fresh member by the README's steps: the keys and the registration's lease are back", async () => {
    const latest = join(workDir, 'restore.db');
    copyFileSync(join(claims.snapshots, readdirSync(claims.snapshots).sort().at(-1)!), latest);
    await source.cleanup();
    const restored = await EtcdTestServer.restoreFrom(latest);
    try {
      expect(await getKey(restored.endpoint, '/config/shop/payment-timeout')).toBe('2s');
      expect(await getKey(restored.endpoint, '/config/shop/flags/new-checkout')).toBe('on');
      const registration = await getKeyWithLease(restored.endpoint, REGISTRATION);
      expect(registration).toEqual({ value: '{"host":"10.1.2.3","port":8080,"tags":["v1"]}', lease: registrationLease });
      const lease = await leaseTimeToLive(restored.endpoint, registrationLease);
      expect(lease?.keys).toEqual([REGISTRATION]);
      expect(lease?.grantedTtl).toBe(3600);
    } finally {
      await restored.cleanup();
    }
  }, 120_000);
});
