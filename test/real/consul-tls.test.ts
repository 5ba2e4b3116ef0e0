import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { Chart, Testing } from 'cdk8s';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConsulCluster, ConsulClusterProps, GossipEncryption } from '../../lib';
import { CONSUL_PORTS } from '../../lib/consul/config';
import { ConsulTestCluster, generatedConsul } from '../support/consul';
import { sleep } from '../support/pod';
import { synthChart } from '../support/synth';

const CA = { secretName: 'consul-ca', key: 'ca.crt' };
const SERVER_TLS = { secretName: 'consul-server-tls' };

/**
 * A single TLS server (and `agents` agents) from ConsulCluster's TLS settings, its CA and
 * server certificate issued by openssl into the Secrets the pods mount; cleaned up after the suite.
 */
function tlsCluster(chartName: string, props: Pick<ConsulClusterProps, 'acl' | 'tls' | 'dnsClusterIp'>, agents: number) {
  const chart = new Chart(Testing.app(), chartName, { namespace: 'consul', disableResourceNameHashes: true });
  const consul = new ConsulCluster(chart, 'consul', {
    developmentSingleServer: true,
    gossipEncryption: GossipEncryption.fromSecret({ secretName: 'consul-gossip-key', key: 'key' }),
    ...props,
  });
  const generated = generatedConsul(synthChart(chart));
  const pki = mkdtempSync(join(tmpdir(), 'consul-pki-'));
  const state: { cluster?: ConsulTestCluster } = {};
  beforeAll(async () => {
    const ca = createCa(pki);
    state.cluster = await ConsulTestCluster.start(generated, { agents, beforeStart: (c) => {
      c.secrets.set('consul-ca', { 'ca.crt': ca.cert });
      c.secrets.set('consul-server-tls', issue(pki, 'server-a', [...consul.tlsDnsNames.server, `IP:${c.block.server(0)}`]));
    } });
    await state.cluster.servers[0].waitReady(60_000);
  }, 120_000);
  afterAll(async () => {
    await state.cluster?.cleanup();
    rmSync(pki, { recursive: true, force: true });
  });
  return { consul, generated, pki, cluster: () => state.cluster! };
}

/**
 * A TLS-only server from ConsulCluster's TLS settings (HTTPS 8501, plain HTTP off), whose
 * certificate is rotated the way cert-manager and kubelet do it: the Secret changes and the
 * mounted files are swapped in place. Consul 1.8.7 reads the generated `tls` block under its
 * older top-level names (see TLS_KEYS_FOR_1_8_7).
 */
describe('real Consul 1.8.7: certificate rotation on a TLS server', () => {
  const { consul, pki, cluster } = tlsCluster('tls', {
    dnsClusterIp: '10.96.0.53',
    acl: { tokensSecret: { secretName: 'consul-acl-tokens', key: 'tokens.json' } },
    tls: { ca: CA, serverCertificate: SERVER_TLS, agentCertificate: { secretName: 'consul-agent-tls' } },
  }, 0);

  it('serves HTTPS only, with the certificate from the Secret', async () => {
    expect(cluster().serverConfig().ports).toMatchObject({ http: -1, https: CONSUL_PORTS.https });
    expect(await servedCertificate(cluster().servers[0].address)).toBe(fingerprint(cluster().secrets.get('consul-server-tls')!['tls.crt']));
  });

  it('serves a rotated certificate within seconds, without a restart', async () => {
    const server = cluster().servers[0];
    const pid = server.pid;
    const rotated = issue(pki, 'server-b', [...consul.tlsDnsNames.server, `IP:${server.address}`]);
    const changed = Date.now();
    cluster().secrets.set('consul-server-tls', rotated);
    const deadline = changed + 15_000;
    while ((await servedCertificate(server.address)) !== fingerprint(rotated['tls.crt'])) {
      if (Date.now() > deadline) throw new Error(`the old certificate is still served 15 s after the Secret changed:\n${server.logTail()}`);
      await sleep(250);
    }
    console.log(`the rotated certificate was served ${Date.now() - changed} ms after the Secret changed`);
    expect(server.pid).toBe(pid);
    expect(server.log()).toMatch(/consul-entrypoint: a file in \/consul\/tls\/ca \/consul\/tls\/cert .*changed: reloading consul/);
    // The API still answers over TLS with the new certificate, verified with the CA.
    expect((await cluster().api(server, 'GET', '/v1/status/leader')).status).toBe(200);
  }, 60_000);
});

/**
 * Without `tls.agentCertificate` each agent asks the servers for its own certificate at start
 * (`auto_encrypt`), signed by Consul's Connect CA: no certificate Secret is shared by every node.
 * ACLs are off here: with them on, the agent needs its agent token first (the bootstrap writes it).
 */
describe('real Consul 1.8.7: one certificate per agent (auto_encrypt)', () => {
  const { generated, cluster } = tlsCluster('auto-encrypt', { acl: { enabled: false }, tls: { ca: CA, serverCertificate: SERVER_TLS } }, 1);

  it('mounts no certificate into the agents, which take their own from the servers and join over verified RPC', async () => {
    const agentPod = generated.daemonSet.spec.template.spec;
    expect(agentPod.volumes.map((v: any) => v.name)).not.toContain('tls-cert');
    expect(cluster().agentConfig()).toMatchObject({ auto_encrypt: { tls: true, dns_san: ['consul-agent.consul.svc.cluster.local'] } });
    // As 1.8.7 reads it: the tls block under its older top-level names.
    expect(cluster().serverConfig()).toMatchObject({ auto_encrypt: { allow_tls: true }, verify_incoming_rpc: true });
    const agent = cluster().agents[0];
    // Asked of the server (whose certificate the test's CA signed): the agent's node is in the catalog.
    let node: any;
    for (const deadline = Date.now() + 60_000; !node?.Node; await sleep(500)) {
      if (Date.now() > deadline) throw new Error(`the agent's node is not in the catalog:\n${agent.logTail()}`);
      node = (await cluster().api(cluster().servers[0], 'GET', `/v1/catalog/node/${agent.name}`).catch(() => ({ body: undefined }))).body;
    }
    const served = await peerCertificate(agent.address);
    // Signed by Consul's Connect CA for this agent alone (a SPIFFE agent identity), not the test's CA.
    expect(served.issuer.CN).toMatch(/\.consul\.ca\./);
    expect(served.subjectaltname).toMatch(/URI:spiffe:\/\/[^/]+\/agent\/client\/dc\/dc1\/id\//);
    // It names the agent Service, which registration sidecars call and verify.
    expect(served.subjectaltname).toContain('DNS:consul-agent.consul.svc.cluster.local');
    expect(served.fingerprint256).not.toBe((await peerCertificate(cluster().servers[0].address)).fingerprint256);
    expect(agent.log()).toMatch(/agent.auto_config: automatically upgraded to TLS/);
  }, 90_000);
});

function openssl(...args: string[]): void {
  const result = spawnSync('openssl', args, { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`openssl ${args.join(' ')} failed: ${result.stderr}`);
}

const NEW_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

function createCa(dir: string): { cert: string } {
  openssl('req', '-x509', ...NEW_KEY, '-keyout', join(dir, 'ca.key'), '-out', join(dir, 'ca.crt'), '-subj', '/CN=discovery-kit test CA', '-days', '1');
  return { cert: readFileSync(join(dir, 'ca.crt'), 'utf8') };
}

/** A kubernetes.io/tls Secret's data for a certificate with these SANs (`DNS:` implied unless `IP:`). */
function issue(dir: string, name: string, sans: string[]): Record<string, string> {
  const file = (suffix: string) => join(dir, `${name}.${suffix}`);
  const altNames = sans.map((san) => (san.startsWith('IP:') ? san : `DNS:${san}`)).join(',');
  writeFileSync(file('ext'), `subjectAltName=${altNames}\nextendedKeyUsage=serverAuth,clientAuth\n`);
  openssl('req', ...NEW_KEY, '-keyout', file('key'), '-out', file('csr'), '-subj', `/CN=${name}`);
  openssl('x509', '-req', '-in', file('csr'), '-CA', join(dir, 'ca.crt'), '-CAkey', join(dir, 'ca.key'), '-CAcreateserial', '-out', file('crt'), '-days', '1', '-extfile', file('ext'));
  return { 'tls.crt': readFileSync(file('crt'), 'utf8'), 'tls.key': readFileSync(file('key'), 'utf8') };
}

function fingerprint(pem: string): string {
  const result = spawnSync('openssl', ['x509', '-noout', '-fingerprint', '-sha256'], { input: pem, encoding: 'utf8' });
  return result.stdout.trim().split('=')[1].replaceAll(':', '').toUpperCase();
}

/** The certificate a pod's HTTPS port presents. */
function peerCertificate(host: string): Promise<import('node:tls').PeerCertificate> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port: CONSUL_PORTS.https, rejectUnauthorized: false, timeout: 5000 }, () => {
      resolve(socket.getPeerCertificate());
      socket.end();
    });
    socket.on('error', reject);
  });
}

/** The SHA-256 fingerprint of the certificate the HTTPS port presents. */
function servedCertificate(host: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port: CONSUL_PORTS.https, rejectUnauthorized: false, timeout: 5000 }, () => {
      resolve(socket.getPeerCertificate().fingerprint256.replaceAll(':', '').toUpperCase());
      socket.end();
    });
    socket.on('error', reject);
  });
}
