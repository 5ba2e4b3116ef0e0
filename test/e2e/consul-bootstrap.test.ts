import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { connect } from 'node:tls';
import { dirname, join } from 'node:path';
import { App, Chart } from 'cdk8s';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConsulAgentRegistration } from '../../lib/consul/agent-registration';
import { ConsulAgentToken } from '../../lib/consul/agent-token';
import { ConsulCluster } from '../../lib/consul/cluster';
import { GossipEncryption } from '../../lib/consul/cluster-props';
import { ConsulBootstrap } from '../../lib/consul/bootstrap/bootstrap';
import { consulBootstrapSecrets } from '../../lib/consul/bootstrap/props';
import { DiscoverableService } from '../../lib/service/discoverable-service';
import { ConsulTestCluster, LoopbackBlock, consulBinary, generatedConsul } from '../support/consul';
import { Pod, Secrets, podWorkDir, sleep } from '../support/pod';
import type { KubeObject } from '../support/schema';
import { findContainer, findObject, synthApp } from '../support/synth';
import { ApiServer, startApiServer } from './support/apiserver';

/**
 * The ConsulBootstrap job's script, run as the synthesized Job's container (its env, its
 * script ConfigMap mounted where the pod mounts it, a read-only root) against a real
 * kube-apiserver and real Consul 1.8.7 servers and agents with ACLs on (default deny). The job
 * talks to the API server with a token the TokenRequest API minted for its ServiceAccount,
 * whose only permissions are the synthesized Role and the services' RoleBindings applied to
 * that API server: a missing verb fails the run.
 */

const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

function platform(app: App): { bootstrap: ConsulBootstrap } {
  const chart = new Chart(app, 'consul', { namespace: 'consul', disableResourceNameHashes: true });
  const s = consulBootstrapSecrets('consul');
  const cluster = new ConsulCluster(chart, 'consul', {
    developmentSingleServer: true,
    gossipEncryption: GossipEncryption.fromSecret(s.gossipKey),
    acl: { tokensSecret: s.aclTokens },
  });
  // Consul 1.8.7 answers DNS with the anonymous token only.
  const bootstrap = new ConsulBootstrap(chart, 'bootstrap', { cluster, apiServer: [{ ipBlock: { cidr: '10.0.0.1/32' } }], anonymousDnsRead: true, snapshotToken: true });
  return { bootstrap };
}

/** The app team's chart: each service registers with a token from the bootstrap, which declares it; nobody lists them. */
function appChart(app: App, services: string[], tls = false): void {
  const chart = new Chart(app, 'shop', { namespace: 'shop', disableResourceNameHashes: true });
  const agent = ConsulCluster.fromAttributes({ name: 'consul', namespace: 'consul', tls }).agent;
  const aclToken = ConsulAgentToken.fromBootstrap(ConsulBootstrap.fromAttributes({ clusterName: 'consul', namespace: 'consul' }));
  for (const name of services) {
    new DiscoverableService(chart, name, { image: `ghcr.io/acme/${name}:1.0.0`, registration: new ConsulAgentRegistration({ agent, aclToken }) });
  }
}

function synth(services: string[]): KubeObject[] {
  const app = new App();
  platform(app);
  appChart(app, services);
  return synthApp(app);
}

/**
 * A real API server holding the synthesized objects, and the bootstrap Job's pod as kubelet
 * runs it: its service account token (minted by the TokenRequest API) mounted where kubelet
 * mounts it, the API server's address in its env, the servers' Service name rewritten to the
 * loopback server's address.
 */
class JobHarness {
  static async start(objects: KubeObject[], namespaces: string[], prefix: string, extraEnv: { name: string; value: string }[] = []): Promise<JobHarness> {
    if (!process.env.DK_CONSUL_BIN) {
      const result = spawnSync('sh', [join(__dirname, '..', '..', 'tools', 'ensure-consul.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
      if (result.status !== 0) throw new Error('tools/ensure-consul.sh failed');
      process.env.DK_CONSUL_BIN = result.stdout.trim().split('\n').at(-1);
    }
    const api = await startApiServer();
    const harness = new JobHarness(api, objects, await LoopbackBlock.allocate(), prefix, extraEnv);
    try {
      for (const namespace of namespaces) await api.kubectl(['create', 'namespace', namespace]);
      await harness.apply(objects);
      const token = (await api.kubectl(['-n', 'consul', 'create', 'token', 'consul-bootstrap', '--duration=2h'])).stdout.trim();
      const ca = readFileSync(JSON.parse(readFileSync(api.kubeconfig, 'utf8')).clusters[0].cluster['certificate-authority'], 'utf8');
      harness.secrets.set('kube-api-access', { token, 'ca.crt': ca });
    } catch (error) {
      await harness.stop();
      throw error;
    }
    return harness;
  }

  readonly workDir: string;
  private readonly secrets = new Secrets();
  private runs = 0;

  private constructor(readonly api: ApiServer, objects: KubeObject[], readonly block: LoopbackBlock, private readonly prefix: string,
    private readonly extraEnv: { name: string; value: string }[]) {
    this.job = objects.find((o) => o.kind === 'Job' && o.metadata.name.startsWith('consul-bootstrap-'))!;
    this.scripts = findObject(objects, 'ConfigMap', 'consul-bootstrap-scripts');
    this.workDir = podWorkDir(prefix);
  }

  private readonly job: KubeObject;
  private readonly scripts: KubeObject;

  apply(items: KubeObject[]): Promise<unknown> {
    return this.api.kubectl(['apply', '--server-side', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items }));
  }

  /** A Secret's data, decoded. */
  async secret(namespace: string, name: string): Promise<Record<string, string>> {
    const data = JSON.parse((await this.api.kubectl(['-n', namespace, 'get', 'secret', name, '-o', 'json'])).stdout).data as Record<string, string>;
    return Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]));
  }

  jobPod(): Pod {
    this.runs += 1;
    const spec = this.job.spec.template.spec;
    const container = spec.containers[0];
    return new Pod({
      name: `${this.prefix}-run-${this.runs}`,
      address: this.block.app(this.runs),
      container: {
        ...container,
        env: [
          ...container.env, { name: 'KUBERNETES_SERVICE_HOST', value: '127.0.0.1' }, { name: 'KUBERNETES_SERVICE_PORT', value: new URL(this.api.server).port },
          ...this.extraEnv,
        ],
        volumeMounts: [...container.volumeMounts, { name: 'kube-api-access', mountPath: SA_DIR, readOnly: true }],
      },
      volumes: [...spec.volumes, { name: 'kube-api-access', secret: { secretName: 'kube-api-access' } }],
      configMaps: { [this.scripts.metadata.name]: this.scripts.data },
      secrets: this.secrets,
      binDir: dirname(consulBinary()),
      rewrite: (value) => value.replace('//consul-server.consul.svc.cluster.local:', `//${this.block.server(0)}:`),
      workDir: this.workDir,
    });
  }

  /** One run to completion; resolves with its log. */
  async run(): Promise<string> {
    const pod = this.jobPod();
    pod.start();
    expect(await pod.exited, pod.log()).toBe(0);
    return pod.log();
  }

  async stop(): Promise<void> {
    await this.api.stop();
    rmSync(this.workDir, { recursive: true, force: true });
  }
}

describe('ConsulBootstrap against a real kube-apiserver and real Consul 1.8.7', () => {
  const objects = synth(['payment-service']);
  const generated = generatedConsul(objects);
  let h: JobHarness;
  let cluster: ConsulTestCluster;

  const secretValue = async (namespace: string, name: string, key: string) => (await h.secret(namespace, name))[key];
  const runJob = () => h.run();

  /** What a second run must leave alone: every Secret's resourceVersion and every token's accessor. */
  async function state(): Promise<{ secrets: Record<string, string>; tokens: string[] }> {
    const bootstrap = await secretValue('consul', 'consul-bootstrap-token', 'token');
    const list = JSON.parse((await h.api.kubectl(['get', 'secrets', '-A', '-o', 'json'])).stdout);
    const secrets = Object.fromEntries(list.items.map((s: any) => [`${s.metadata.namespace}/${s.metadata.name}`, s.metadata.resourceVersion]));
    const { body } = await cluster.api(cluster.servers[0], 'GET', '/v1/acl/tokens', { token: bootstrap });
    return { secrets, tokens: (body as any[]).map((t) => `${t.AccessorID} ${t.Description}`).sort() };
  }

  beforeAll(async () => {
    h = await JobHarness.start(objects, ['consul', 'shop'], 'consul-bootstrap');
  }, 180_000);

  afterAll(async () => {
    await cluster?.cleanup();
    await h?.stop();
  });

  it('has exactly the permissions of the synthesized Role: its own Secrets by name, create, list ConfigMaps', async () => {
    const can = async (verb: string, resource: string, namespace = 'consul') => {
      const result = await h.api.kubectl(['auth', 'can-i', verb, resource, '-n', namespace, '--as=system:serviceaccount:consul:consul-bootstrap']).catch((e) => ({ stdout: String(e) }));
      return result.stdout.trim().endsWith('yes');
    };
    expect(await can('get', 'secrets/consul-bootstrap-token')).toBe(true);
    expect(await can('update', 'secrets/consul-acl-tokens')).toBe(true);
    expect(await can('get', 'secrets/someone-elses')).toBe(false);
    expect(await can('list', 'secrets')).toBe(false);
    expect(await can('delete', 'secrets/consul-acl-tokens')).toBe(false);
    expect(await can('update', 'secrets/payment-service-consul-token', 'shop')).toBe(true);
    expect(await can('get', 'secrets/other', 'shop')).toBe(false);
  });

  it('bootstraps a fresh cluster: gossip key first (the servers wait for it), then ACLs and every token, written through the API server', async () => {
    const pod = h.jobPod();
    pod.start();
    // The servers cannot start before the gossip key exists: kubelet would hold them back.
    let key = '';
    for (const deadline = Date.now() + 60_000; !key; await sleep(500)) {
      key = await secretValue('consul', 'consul-gossip-key', 'key').catch(() => '');
      if (Date.now() > deadline) throw new Error(`no gossip key Secret:\n${pod.log()}`);
    }
    expect(Buffer.from(key, 'base64')).toHaveLength(32);
    const secrets = new Secrets();
    secrets.set('consul-gossip-key', { key });
    cluster = await ConsulTestCluster.start(generated, { agents: 1, secrets, block: h.block });
    expect(await pod.exited, pod.log()).toBe(0);
    expect(pod.log()).toMatch(/bootstrapped ACLs/);

    const bootstrap = await secretValue('consul', 'consul-bootstrap-token', 'token');
    const self = await cluster.api(cluster.servers[0], 'GET', '/v1/acl/token/self', { token: bootstrap });
    expect(self.body.Policies.map((p: any) => p.Name)).toEqual(['global-management']);
    const fragment = JSON.parse(await secretValue('consul', 'consul-acl-tokens', 'tokens.json'));
    const policiesOf = async (secretId: string) => {
      const { body } = await cluster.api(cluster.servers[0], 'GET', '/v1/acl/token/self', { token: secretId });
      return { policies: (body.Policies ?? []).map((p: any) => p.Name), identities: (body.ServiceIdentities ?? []).map((i: any) => i.ServiceName) };
    };
    expect(await policiesOf(fragment.acl.tokens.agent)).toEqual({ policies: ['consul-agent'], identities: [] });
    expect(await policiesOf(fragment.acl.tokens.dns)).toEqual({ policies: ['consul-dns-read'], identities: [] });
    const payment = await secretValue('shop', 'payment-service-consul-token', 'token');
    expect(await policiesOf(payment)).toEqual({ policies: [], identities: ['payment-service'] });
    const snapshot = await secretValue('consul', 'consul-snapshot-token', 'token');
    expect(await policiesOf(snapshot)).toEqual({ policies: ['consul-snapshot'], identities: [] });
    // The token a ConsulSnapshotSchedule reads takes a snapshot.
    await cluster.consul(cluster.servers[0], ['snapshot', 'save', '/tmp/bootstrap-test.snap'], snapshot);
    expect(await cluster.consul(cluster.servers[0], ['snapshot', 'inspect', '/tmp/bootstrap-test.snap'])).toMatch(/Index/);
    const rules = (await cluster.api(cluster.servers[0], 'GET', '/v1/acl/policies', { token: bootstrap })).body as any[];
    expect(rules.map((p) => p.Name).sort()).toEqual(['consul-agent', 'consul-dns-read', 'consul-snapshot', 'global-management']);
  }, 240_000);

  it('changes nothing on a second run: same tokens, no Secret written', async () => {
    const before = await state();
    const log = await runJob();
    expect(log).not.toMatch(/created|updated|bootstrapped/);
    expect(await state()).toEqual(before);
  }, 120_000);

  it('writes a deleted token Secret again, with the same token', async () => {
    const token = await secretValue('shop', 'payment-service-consul-token', 'token');
    await h.api.kubectl(['-n', 'shop', 'delete', 'secret', 'payment-service-consul-token']);
    const log = await runJob();
    expect(log).toMatch(/created Secret shop\/payment-service-consul-token/);
    expect(await secretValue('shop', 'payment-service-consul-token', 'token')).toBe(token);
  }, 120_000);

  it('gives a newly declared service its token on the next run', async () => {
    const added = synth(['payment-service', 'order-service']).filter((o) => o.metadata.namespace === 'shop' || /order-service/.test(o.metadata.name));
    await h.apply(added);
    const before = await state();
    const log = await runJob();
    expect(log).toMatch(/created token: discovery-kit consul: service shop\/order-service/);
    const after = await state();
    expect(after.tokens.length).toBe(before.tokens.length + 1);
    const order = await secretValue('shop', 'order-service-consul-token', 'token');
    const { body } = await cluster.api(cluster.servers[0], 'GET', '/v1/acl/token/self', { token: order });
    expect(body.ServiceIdentities.map((i: any) => i.ServiceName)).toEqual(['order-service']);
  }, 120_000);

  it("revokes the token of a service whose declaration is gone, and only that one", async () => {
    const order = await secretValue('shop', 'order-service-consul-token', 'token');
    const payment = await secretValue('shop', 'payment-service-consul-token', 'token');
    const before = await state();
    // The app team removes order-service: its declaration goes with it.
    await h.api.kubectl(['-n', 'consul', 'delete', 'configmap', 'consul-token-order-service.shop']);
    const log = await runJob();
    expect(log).toMatch(/revoked token [0-9a-f-]+ \(discovery-kit consul: service shop\/order-service\): its declaration is gone/);
    const after = await state();
    expect(after.tokens).toEqual(before.tokens.filter((t) => !t.endsWith('service shop/order-service')));
    expect(after.tokens).toHaveLength(before.tokens.length - 1);
    expect((await cluster.api(cluster.servers[0], 'GET', '/v1/acl/token/self', { token: order })).status).toBe(403);
    expect((await cluster.api(cluster.servers[0], 'GET', '/v1/acl/token/self', { token: payment })).status).toBe(200);
    // Nothing more to revoke on the next run.
    expect(await runJob()).not.toMatch(/revoked|created|updated/);
  }, 120_000);

  it('lets an agent with the written agent token join, a service register with its written token, and DNS answer with ACLs on', async () => {
    // kubelet projects the tokens Secret into the pods; 1.8.7 reads the fragment without acl.tokens.dns.
    cluster.setTokensSecret(JSON.parse(await secretValue('consul', 'consul-acl-tokens', 'tokens.json')));
    const bootstrap = await secretValue('consul', 'consul-bootstrap-token', 'token');
    const agent = cluster.agents[0];
    await cluster.waitForNode(agent, bootstrap, 60_000);
    const token = await secretValue('shop', 'payment-service-consul-token', 'token');
    await cluster.waitForServiceToken('payment-service', token, 90_000);
    const registered = await cluster.api(agent, 'PUT', '/v1/agent/service/register', { token, body: { ID: 'payment-service-1', Name: 'payment-service', Port: 8080, Address: h.block.app(40) } });
    expect(registered.status, JSON.stringify(registered.body)).toBe(200);
    expect((await cluster.api(agent, 'PUT', '/v1/agent/service/register', { token, body: { ID: 'x', Name: 'order-service', Port: 1 } })).status).toBe(403);
    let answers: string[] = [];
    for (const deadline = Date.now() + 30_000; answers.length === 0 && Date.now() < deadline; await sleep(500)) answers = await cluster.srvAddresses('payment-service');
    expect(answers).toEqual([h.block.app(40)]);
    const keyring = await cluster.consul(cluster.servers[0], ['keyring', '-list'], bootstrap);
    expect(keyring).toContain(await secretValue('consul', 'consul-gossip-key', 'key'));
  }, 180_000);

  it("registers the service from its generated sidecar, started before kubelet projected the token the job wrote", async () => {
    const deployment = findObject(objects, 'Deployment', 'payment-service', 'shop');
    // The shop namespace as the node's kubelet sees it: the token Secret not projected yet.
    const secrets = new Secrets();
    const pod = cluster.appPod(deployment, 'consul-registration', objects, { name: 'payment-service-5c6d-e2e01', address: h.block.app(41), node: 0, secrets });
    const bootstrap = await secretValue('consul', 'consul-bootstrap-token', 'token');
    const registered = async () => (await cluster.api(cluster.agents[0], 'GET', `/v1/agent/service/${pod.name}`, { token: bootstrap })).status === 200;
    pod.start();
    try {
      for (const deadline = Date.now() + 15_000; !/waiting for the ACL token/.test(pod.log()); await sleep(200)) {
        if (Date.now() > deadline) throw new Error(`the sidecar does not say it waits:\n${pod.log()}`);
      }
      expect(await registered()).toBe(false);
      const volume = deployment.spec.template.spec.volumes.find((v: any) => v.name === 'consul-registration-token').secret;
      expect(volume).toMatchObject({ secretName: 'payment-service-consul-token', optional: true });
      secrets.set(volume.secretName, await h.secret('shop', volume.secretName));
      const projected = Date.now();
      while (!(await registered())) {
        if (Date.now() - projected > 10_000) throw new Error(`not registered within one resync of the token appearing:\n${pod.log()}`);
        await sleep(200);
      }
      // The agent holds the registration a moment before the sidecar, back from its call, logs it.
      for (const deadline = Date.now() + 5_000; !pod.log().includes(`consul-registration: registered ${pod.name}`) && Date.now() < deadline;) await sleep(100);
      expect(pod.log()).toContain(`consul-registration: registered ${pod.name} at ${h.block.app(41)}`);
      expect(await pod.stop('SIGTERM')).toBe(0);
      expect(await registered()).toBe(false);
      expect(pod.log()).toContain(`consul-registration: deregistered ${pod.name}`);
    } finally {
      await pod.stop('SIGKILL');
    }
  }, 120_000);
});

/**
 * `tls: true`: the same job generates the CA and the servers' certificate before the
 * servers start, and real Consul 1.8.7 runs RPC TLS with them (verify_incoming,
 * verify_outgoing, verify_server_hostname) and serves HTTPS with the generated certificate.
 * The agent takes its own certificate from the servers (auto_encrypt) with the agent token
 * the job writes after the agent started: it waits for that token before starting Consul.
 */
describe('ConsulBootstrap with tls: true against a real kube-apiserver and real Consul 1.8.7', () => {
  const app = new App();
  const chart = new Chart(app, 'consul', { namespace: 'consul', disableResourceNameHashes: true });
  const s = consulBootstrapSecrets('consul');
  const consul = new ConsulCluster(chart, 'consul', {
    developmentSingleServer: true,
    gossipEncryption: GossipEncryption.fromSecret(s.gossipKey),
    acl: { tokensSecret: s.aclTokens },
    // Plain HTTP stays on for the test harness, which reaches pods by IP (the certificate names DNS names).
    // No agentCertificate: each agent asks the servers for its own (auto_encrypt), with the agent token the job writes.
    tls: { ca: s.ca, serverCertificate: s.serverCertificate, httpsOnly: false },
  });
  new ConsulBootstrap(chart, 'bootstrap', { cluster: consul, apiServer: [{ ipBlock: { cidr: '10.0.0.1/32' } }], tls: true, anonymousDnsRead: true });
  // The sidecars call their agent over HTTPS, verified with the CA bundle the job writes next to their token.
  appChart(app, ['payment-service'], true);
  const objects = synthApp(app);
  const generated = generatedConsul(objects);
  let h: JobHarness;
  let cluster: ConsulTestCluster;
  const secretData = (name: string) => h.secret('consul', name);

  beforeAll(async () => {
    // On loopback the Service name is rewritten to the server's IP, which the certificate does not name: verify the name DNS would have used.
    h = await JobHarness.start(objects, ['consul', 'shop'], 'consul-bootstrap-tls', [{ name: 'CONSUL_TLS_SERVER_NAME', value: 'consul-server.consul.svc.cluster.local' }]);
  }, 180_000);

  afterAll(async () => {
    await cluster?.cleanup();
    await h?.stop();
  });

  it('generates the gossip key, CA and server certificate first; the servers start with them, join over TLS, and the ACLs are bootstrapped', async () => {
    const pod = h.jobPod();
    pod.start();
    const secrets = new Secrets();
    for (const name of [s.gossipKey.secretName, s.ca.secretName, s.serverCertificate.secretName]) {
      for (const deadline = Date.now() + 60_000; ; await sleep(500)) {
        const data = await secretData(name).catch(() => undefined);
        if (data) { secrets.set(name, data); break; }
        if (Date.now() > deadline) throw new Error(`no Secret ${name}:\n${pod.log()}`);
      }
    }
    cluster = await ConsulTestCluster.start(generated, { agents: 1, secrets, block: h.block });
    expect(await pod.exited, pod.log()).toBe(0);
    expect(pod.log()).toMatch(/issued the server certificate/);
    expect(pod.log()).toMatch(/bootstrapped ACLs/);

    const server = await secretData(s.serverCertificate.secretName);
    const ca = await secretData(s.ca.secretName);
    const caKey = await secretData(s.caKey.secretName);
    expect(caKey['tls.crt']).toBe(ca['ca.crt']);
    const certFile = join(h.workDir, 'server.crt');
    const caFile = join(h.workDir, 'ca.crt');
    writeFileSync(certFile, server['tls.crt']);
    writeFileSync(caFile, ca['ca.crt']);
    const verified = spawnSync('openssl', ['verify', '-CAfile', caFile, certFile], { encoding: 'utf8' });
    expect(verified.stdout).toContain(': OK');
    const text = spawnSync('openssl', ['x509', '-in', certFile, '-noout', '-ext', 'subjectAltName'], { encoding: 'utf8' }).stdout;
    for (const name of consul.tlsDnsNames.server) expect(text).toContain(`DNS:${name}`);

    // The agent reaches the server over verified RPC TLS: its node is in the catalog with the written agent token.
    cluster.setTokensSecret(JSON.parse((await secretData(s.aclTokens.secretName))[s.aclTokens.key]));
    const bootstrap = (await secretData(s.bootstrapToken.secretName)).token;
    await cluster.waitForNode(cluster.agents[0], bootstrap, 60_000);
    // The agent started before its token existed: it waited for it, then took its own certificate (auto_encrypt) with it.
    const agentLog = cluster.agents[0].log();
    expect(agentLog).toContain('consul-entrypoint: waiting for /consul/acl/tokens.json (the ACL tokens) before starting consul');
    expect(agentLog).toMatch(/agent.auto_config: automatically upgraded to TLS/);
    // The server serves HTTPS with the generated certificate, verified with the generated CA.
    const served = await new Promise<string>((resolve, reject) => {
      const socket = connect({ host: h.block.server(0), port: 8501, ca: ca['ca.crt'], servername: 'server.dc1.consul' }, () => {
        resolve(socket.getPeerCertificate().fingerprint256);
        socket.end();
      });
      socket.on('error', reject);
    });
    expect(served).toBe(new X509Certificate(server['tls.crt']).fingerprint256);
  }, 240_000);

  it('reaches the goal with no manual step: the generated sidecar registers with the token the job wrote and DNS answers, with ACLs, gossip encryption and TLS all on', async () => {
    const bootstrap = (await secretData(s.bootstrapToken.secretName)).token;
    // Every layer is on in this one cluster: ACLs deny, the gossip pool is encrypted with the generated key, RPC is verified TLS.
    for (const pod of [cluster.servers[0], cluster.agents[0]]) {
      const self = await cluster.api(pod, 'GET', '/v1/agent/self', { token: bootstrap });
      expect(self.body.Stats.serf_lan.encrypted, pod.name).toBe('true');
      expect(self.body.DebugConfig.VerifyOutgoing, pod.name).toBe(true);
    }
    const keyring = await cluster.api(cluster.servers[0], 'GET', '/v1/operator/keyring', { token: bootstrap });
    expect(keyring.body.flatMap((pool: any) => Object.keys(pool.Keys))).toEqual(Array(keyring.body.length).fill((await secretData(s.gossipKey.secretName)).key));
    const anonymous = await cluster.api(cluster.agents[0], 'PUT', '/v1/agent/service/register', { body: { ID: 'x', Name: 'payment-service', Port: 1 } });
    expect(anonymous.status).toBe(403);

    const deployment = findObject(objects, 'Deployment', 'payment-service', 'shop');
    const volume = deployment.spec.template.spec.volumes.find((v: any) => v.name === 'consul-registration-token').secret;
    const secrets = new Secrets();
    secrets.set(volume.secretName, await h.secret('shop', volume.secretName));
    expect(findContainer(deployment, 'consul-registration').env).toEqual(expect.arrayContaining([
      { name: 'CONSUL_HTTP_ADDR', value: 'https://consul-agent.consul.svc.cluster.local:8501' },
      { name: 'CONSUL_CACERT', value: expect.stringMatching(/\/ca\.crt$/) },
    ]));
    // The bundle: the generated CA (servers) and the Connect CA root (which signed the agent's own certificate).
    const bundle = secrets.get(volume.secretName)!['ca.crt'];
    expect(bundle.match(/BEGIN CERTIFICATE/g)).toHaveLength(2);
    expect(bundle).toContain((await secretData(s.ca.secretName))['ca.crt'].trim());
    const pod = cluster.appPod(deployment, 'consul-registration', objects, { name: 'payment-service-5c6d-tls01', address: h.block.app(41), node: 0, secrets, agentByName: true });
    // The app container, healthy: DNS answers only with instances whose checks pass.
    const port = deployment.spec.template.spec.containers.find((c: any) => c.name === 'payment-service').ports[0].containerPort;
    const app = createServer((_request, response) => response.end('ok'));
    await new Promise<void>((resolve) => app.listen(port, h.block.app(41), resolve));
    pod.start();
    try {
      let answers: string[] = [];
      for (const deadline = Date.now() + 60_000; answers.length === 0; await sleep(500)) {
        if (Date.now() > deadline) throw new Error(`payment-service never answered in DNS:\n${pod.log()}`);
        answers = await cluster.srvAddresses('payment-service');
      }
      expect(answers).toEqual([h.block.app(41)]);
      expect(pod.log()).toContain(`consul-registration: registered ${pod.name} at ${h.block.app(41)}`);
      expect(await pod.stop('SIGTERM')).toBe(0);
      expect(pod.log()).toContain(`consul-registration: deregistered ${pod.name}`);
    } finally {
      await pod.stop('SIGKILL');
      app.close();
    }
  }, 120_000);

  it("verifies the agent for real: with the servers' CA alone (no Connect CA root) the sidecar refuses the agent's certificate", async () => {
    const deployment = findObject(objects, 'Deployment', 'payment-service', 'shop');
    const volume = deployment.spec.template.spec.volumes.find((v: any) => v.name === 'consul-registration-token').secret;
    const secrets = new Secrets();
    secrets.set(volume.secretName, { ...await h.secret('shop', volume.secretName), 'ca.crt': (await secretData(s.ca.secretName))['ca.crt'] });
    const pod = cluster.appPod(deployment, 'consul-registration', objects, { name: 'payment-service-5c6d-tls02', address: h.block.app(42), node: 0, secrets, agentByName: true });
    const bootstrap = (await secretData(s.bootstrapToken.secretName)).token;
    pod.start();
    try {
      // OpenSSL's words (curl of the host and of the Consul image): the issuer is not in the bundle.
      for (const deadline = Date.now() + 20_000; !/SSL certificate problem: unable to get local issuer certificate/.test(pod.log()); await sleep(250)) {
        if (Date.now() > deadline) throw new Error(`no certificate error from the sidecar:\n${pod.log()}`);
      }
      expect((await cluster.api(cluster.agents[0], 'GET', `/v1/agent/service/${pod.name}`, { token: bootstrap })).status).toBe(404);
    } finally {
      await pod.stop('SIGKILL');
    }
  }, 60_000);

  it('keeps the certificates on the next run and issues the server certificate again when it is due, with the same CA', async () => {
    const before = await secretData(s.serverCertificate.secretName);
    await h.run();
    expect(await secretData(s.serverCertificate.secretName)).toEqual(before);
    await h.api.kubectl(['-n', 'consul', 'annotate', '--overwrite', 'secret', s.serverCertificate.secretName, 'discovery-kit.io/not-after=1']);
    const ca = await secretData(s.ca.secretName);
    await h.run();
    const after = await secretData(s.serverCertificate.secretName);
    expect(after['tls.crt']).not.toBe(before['tls.crt']);
    expect(new X509Certificate(after['tls.crt']).verify(new X509Certificate(ca['ca.crt']).publicKey)).toBe(true);
    expect(await secretData(s.ca.secretName)).toEqual(ca);
  }, 120_000);
});
