import { spawnSync } from 'node:child_process';
import { copyFileSync, linkSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Chart, Cron, Testing } from 'cdk8s';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONSUL_SNAPSHOT_POLICY_RULES, ConsulCluster, ConsulSnapshotSchedule, GossipEncryption } from '../../lib';
import { AclTokens, ConsulTestCluster, consulBinary, generatedConsul } from '../support/consul';
import { podWorkDir } from '../support/pod';
import { generatedSnapshotJob, runSnapshotJob, snapshotFiles } from '../support/snapshot-job';
import { synthChart } from '../support/synth';

/**
 * The ConsulSnapshotSchedule's Job exactly as synthesized (its script, env, volumes), run
 * under busybox sh (the Consul image's shell) against a real Consul 1.8.7 server, and the
 * README's restore procedure ("Backup and restore") into a fresh cluster.
 */
const BUSYBOX = ['busybox', 'sh'];
const RETAIN = 2;
const TOKEN_SECRET = { secretName: 'consul-snapshot-token', key: 'token' };
/** Every ACL rule but `acl = "write"`: the snapshot must still be refused. */
const EVERYTHING_BUT_ACL_WRITE = [
  'acl = "read"', 'operator = "write"', 'keyring = "write"',
  'key_prefix "" { policy = "write" }', 'node_prefix "" { policy = "write" }', 'service_prefix "" { policy = "write" }',
  'session_prefix "" { policy = "write" }', 'agent_prefix "" { policy = "write" }', 'event_prefix "" { policy = "write" }',
  'query_prefix "" { policy = "write" }',
].join('\n');

describe('real Consul 1.8.7: the snapshot CronJob and the README restore', () => {
  const chart = new Chart(Testing.app(), 'consul', { namespace: 'consul', disableResourceNameHashes: true });
  const consul = new ConsulCluster(chart, 'consul', {
    developmentSingleServer: true,
    gossipEncryption: GossipEncryption.fromSecret({ secretName: 'consul-gossip-key', key: 'key' }),
    acl: { tokensSecret: { secretName: 'consul-acl-tokens', key: 'tokens.json' } },
  });
  new ConsulSnapshotSchedule(chart, 'snapshots', { cluster: consul, schedule: Cron.hourly(), retain: RETAIN, aclToken: TOKEN_SECRET });
  const objects = synthChart(chart);
  const job = generatedSnapshotJob(objects, 'consul-snapshot');
  const serverUrl = new URL(job.env.CONSUL_HTTP_ADDR);
  const workDir = podWorkDir('consul-snapshot');
  const snapshots = join(workDir, 'claims', 'snapshots');
  let source: ConsulTestCluster;
  let tokens: AclTokens;
  let runs = 0;

  /** One Job run against `cluster`, with the consul binary of `binDir`. */
  const run = (cluster: ConsulTestCluster, binDir = dirname(consulBinary())) => runSnapshotJob(job, {
    name: `consul-snapshot-2900${runs}-${runs++}`,
    address: cluster.block.app(runs),
    secrets: cluster.secrets,
    claims: { snapshots },
    binDir,
    // The servers' Service name becomes the first server's loopback address; nothing else changes.
    rewrite: (value) => value.replace(`//${serverUrl.host}`, `//${cluster.block.server(0)}:${serverUrl.port}`),
    shell: BUSYBOX,
    workDir,
  });

  beforeAll(async () => {
    mkdirSync(snapshots, { recursive: true });
    source = await ConsulTestCluster.start(generatedConsul(objects), { agents: 1, shell: BUSYBOX });
    tokens = await source.setUpAcls();
    // The README's token setup: a policy of CONSUL_SNAPSHOT_POLICY_RULES, a token of it in the Secret.
    await source.consul(source.servers[0], ['acl', 'policy', 'create', '-name=consul-snapshot', `-rules=${CONSUL_SNAPSHOT_POLICY_RULES}`], tokens.bootstrap);
    const token = await source.createToken(['-description=consul snapshots', '-policy-name=consul-snapshot'], tokens.bootstrap);
    source.secrets.set(TOKEN_SECRET.secretName, { [TOKEN_SECRET.key]: token });
    // What only a snapshot brings back: KV, and services registered in the catalog alone (as catalog sync does).
    // (The API helper sends each value JSON-encoded.)
    const server = source.servers[0];
    for (const [key, value] of Object.entries({ 'shop/config/payment-timeout': '2s', 'shop/flags/new-checkout': 'on' })) {
      expect((await source.api(server, 'PUT', `/v1/kv/${key}`, { token: tokens.bootstrap, body: value })).status).toBe(200);
    }
    const register = await source.api(server, 'PUT', '/v1/catalog/register', {
      token: tokens.bootstrap,
      body: { Node: 'k8s-sync', Address: '127.0.0.1', NodeMeta: { 'external-source': 'kubernetes' }, Service: { Service: 'billing', Port: 8443, Tags: ['v2'] } },
    });
    expect(register.status).toBe(200);
  }, 300_000);
  afterAll(async () => {
    await source?.cleanup();
    rmSync(workDir, { recursive: true, force: true });
  });

  it('saves a verified snapshot with the least-privilege token, and keeps the newest `retain` over more runs', async () => {
    const names: string[] = [];
    for (let i = 0; i <= RETAIN; i++) {
      const { code, log } = await run(source);
      expect(code, log).toBe(0);
      expect(log).toMatch(/saved \/snapshots\/consul-\d{8}T\d{6}Z\.snap/);
      names.push(/saved \/snapshots\/(consul-\S+\.snap)/.exec(log)![1]);
    }
    // N+1 runs keep N: the oldest is gone, the newest RETAIN stay, nothing partial is left.
    expect(readdirSync(snapshots).sort()).toEqual(names.slice(1));
    for (const name of names.slice(1)) {
      const inspect = spawnSync(consulBinary(), ['snapshot', 'inspect', join(snapshots, name)], { encoding: 'utf8' });
      expect(inspect.status, inspect.stderr).toBe(0);
      expect(inspect.stdout).toMatch(/Index\s+\d+/);
    }
  }, 120_000);

  it('is refused with every ACL rule but acl = "write", so nothing narrower than CONSUL_SNAPSHOT_POLICY_RULES works', async () => {
    const before = snapshotFiles(snapshots);
    await source.consul(source.servers[0], ['acl', 'policy', 'create', '-name=almost-everything', `-rules=${EVERYTHING_BUT_ACL_WRITE}`], tokens.bootstrap);
    const almost = await source.createToken(['-policy-name=almost-everything'], tokens.bootstrap);
    const good = source.secrets.get(TOKEN_SECRET.secretName)!;
    source.secrets.set(TOKEN_SECRET.secretName, { [TOKEN_SECRET.key]: almost });
    try {
      const { code, log } = await run(source);
      expect(code, log).not.toBe(0);
      expect(log).toContain('Permission denied');
      expect(log).toContain('the existing snapshots are kept');
    } finally {
      source.secrets.set(TOKEN_SECRET.secretName, good);
    }
    expect(snapshotFiles(snapshots)).toEqual(before);
  }, 60_000);

  it.each([
    ['empty', ': > "$3"'],
    ['truncated', 'head -c 600 /opt/discovery-kit/bin/good.snap > "$3"'],
  ])('fails on an %s snapshot and keeps the good ones', async (kind, fake) => {
    const before = snapshotFiles(snapshots);
    // A consul whose `snapshot save` reports success but writes a bad file; `inspect` is the real one.
    const binDir = join(workDir, `fake-consul-${kind}`);
    mkdirSync(binDir, { recursive: true });
    linkSync(consulBinary(), join(binDir, 'consul.real'));
    copyFileSync(join(snapshots, before.at(-1)!.name), join(binDir, 'good.snap'));
    writeFileSync(join(binDir, 'consul'), [
      '#!/bin/sh',
      `if [ "$1 $2" = "snapshot save" ]; then ${fake}; exit 0; fi`,
      'exec /opt/discovery-kit/bin/consul.real "$@"',
      '',
    ].join('\n'), { mode: 0o755 });
    const { code, log } = await run(source, binDir);
    expect(code, log).not.toBe(0);
    expect(log).toMatch(/the snapshot (is empty|failed verification); the existing snapshots are kept/);
    expect(snapshotFiles(snapshots)).toEqual(before);
  }, 60_000);

  it("restores into a fresh cluster by the README's steps: the catalog-only services and the KV are back", async () => {
    const latest = readdirSync(snapshots).sort().at(-1)!;
    // The source cluster is lost.
    await source.cleanup();
    const target = await ConsulTestCluster.start(generatedConsul(objects), { agents: 1, shell: BUSYBOX });
    try {
      // 1. A fresh cluster of the same name and datacenter; `consul acl bootstrap` gives the token that may restore.
      const fresh = await target.setUpAcls();
      const server = target.servers[0];
      // 2. `kubectl cp` the snapshot into the first server's /tmp (its scratch volume).
      copyFileSync(join(snapshots, latest), join(server.volumeDir('tmp'), 'restore.snap'));
      // 3. `kubectl exec consul-server-0 -- consul snapshot restore /tmp/restore.snap` with the fresh bootstrap token.
      expect(await target.consul(server, ['snapshot', 'restore', '/tmp/restore.snap'], fresh.bootstrap)).toContain('Restored snapshot');
      // 4. The snapshot's ACLs replace the fresh ones: the old tokens work, the fresh bootstrap token is gone.
      expect((await target.api(server, 'GET', '/v1/acl/token/self', { token: fresh.bootstrap })).status).toBe(403);
      const kv = await target.api(server, 'GET', '/v1/kv/shop?recurse=true', { token: tokens.bootstrap });
      expect(kv.status).toBe(200);
      expect(Object.fromEntries((kv.body as any[]).map((e) => [e.Key, JSON.parse(Buffer.from(e.Value, 'base64').toString())]))).toEqual({
        'shop/config/payment-timeout': '2s', 'shop/flags/new-checkout': 'on',
      });
      const billing = await target.api(server, 'GET', '/v1/catalog/service/billing', { token: tokens.bootstrap });
      expect((billing.body as any[]).map((s) => [s.Node, s.ServicePort, s.ServiceTags])).toEqual([['k8s-sync', 8443, ['v2']]]);
      expect(await target.srv('billing')).toEqual([expect.objectContaining({ port: 8443 })]);
    } finally {
      await target.cleanup();
    }
  }, 300_000);
});
