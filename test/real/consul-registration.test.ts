import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Server, createServer as createNetServer } from 'node:net';
import { createServer } from 'node:http';
import { App, Chart, Testing } from 'cdk8s';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addConsulChart, buildExampleApp } from '../../examples/discovery-setup';
import { ConsulAgentRegistration, ConsulAgentToken, ConsulBootstrap, DiscoverableService } from '../../lib';
import { parseGoDuration } from '../support/go-duration';
import { AclTokens, ConsulTestCluster, generatedConsul } from '../support/consul';
import { Secrets, sleep } from '../support/pod';
import type { KubeObject } from '../support/schema';
import { envOf, findContainer, findObject, synthApp } from '../support/synth';

/**
 * The registration sidecar exactly as generated for the example's payment-service (its
 * command, env and volumes, and the script's ConfigMap: lib/consul/agent-registration.sh),
 * run against real Consul 1.8.7 agents of the example cluster, with a real HTTP endpoint
 * standing for the app's readiness. The sidecar runs under busybox sh, the shell of the
 * Consul image, and under dash.
 */
const BUSYBOX = ['busybox', 'sh'];
const SHELLS: [string, readonly string[]][] = [['busybox sh', BUSYBOX], ['dash', ['dash']]];
/**
 * Back in DNS after a new agent starts: its start, one resync interval (5 s) until the
 * sidecar sees the registration missing, the first check (Consul staggers it by up to one
 * interval, 5 s), the sync to the servers.
 */
const BACK_WITHIN_MS = 15_000;
/** One resync interval of the sidecar, plus the calls that follow it on a loaded machine. */
const ONE_RESYNC_MS = 5000 + 2500;

describe.concurrent('real Consul 1.8.7: the generated registration sidecar', () => {
  const app = buildExampleApp(Testing.app());
  const hostile = `'; touch /tmp/pwned; echo '$(id)\`id\`"`;
  const hostileChart = addHostileChart(app, hostile);
  addBootstrapTokenChart(app);
  const objects = synthApp(app);
  const deployment = findObject(objects, 'Deployment', 'payment-service', 'production');
  const hostileDeployment = findObject(objects, 'Deployment', 'payment-service', 'hostile');
  const bootstrapDeployment = findObject(objects, 'Deployment', 'payment-service', 'bootstrapped');
  const sidecar = findContainer(deployment, 'consul-registration');
  /** The token's Secret volume and the file the sidecar reads, as generated. */
  const tokenVolume = (workload: KubeObject) => {
    const volume = workload.spec.template.spec.volumes.find((v: any) => v.name === 'consul-registration-token');
    const file = envOf(findContainer(workload, 'consul-registration'), 'CONSUL_HTTP_TOKEN_FILE').value as string;
    return { secretName: volume.secret.secretName as string, key: volume.secret.items[0].key as string, optional: volume.secret.optional as boolean, file };
  };
  /** The Secrets of a namespace of its own, holding the token Secret `workload` mounts (or none). */
  const namespaceSecrets = (workload: KubeObject, token?: string) => {
    const secrets = new Secrets();
    const { secretName, key } = tokenVolume(workload);
    if (token !== undefined) secrets.set(secretName, { [key]: token });
    return { secrets, setToken: (value: string) => secrets.set(secretName, { [key]: value }) };
  };
  const check = {
    interval: envOf(sidecar, 'CONSUL_CHECK_INTERVAL').value as string,
    failures_before_critical: Number(envOf(sidecar, 'CONSUL_CHECK_FAILURES_BEFORE_CRITICAL').value),
    deregister_critical_service_after: envOf(sidecar, 'CONSUL_DEREGISTER_CRITICAL_SERVICE_AFTER').value as string,
  };
  const service = 'payment-service';
  let cluster: ConsulTestCluster;
  let tokens: AclTokens;
  let serviceToken: string;
  let nextApp = 0;

  beforeAll(async () => {
    cluster = await ConsulTestCluster.start(generatedConsul(objects), { agents: 2 });
    tokens = await cluster.setUpAcls();
    serviceToken = await cluster.createToken([`-service-identity=${service}`], tokens.bootstrap);
    const { secretName, key } = tokenVolume(deployment);
    cluster.secrets.set(secretName, { [key]: serviceToken });
    await cluster.waitForServiceToken(service, serviceToken, 90_000);
    expect(hostileChart.namespace).toBe('hostile');
  }, 240_000);

  it('runs lib/consul/agent-registration.sh from the namespace ConfigMap', () => {
    expect(sidecar.command).toEqual(['/bin/sh', '/discovery-kit/agent-registration.sh']);
    const configMap = findObject(objects, 'ConfigMap', 'discovery-kit-consul-registration', 'production');
    expect(configMap.data['agent-registration.sh']).toBe(readFileSync(join(__dirname, '../../lib/consul/agent-registration.sh'), 'utf8'));
    expect(configMap.data['common.sh']).toBe(readFileSync(join(__dirname, '../../lib/registration/common.sh'), 'utf8'));
  });
  afterAll(() => cluster?.cleanup());

  /** An app pod: its readiness endpoint (a real HTTP server on the pod IP) and its sidecar. */
  async function instance(name: string, options: { node?: number; shell?: readonly string[]; workload?: KubeObject; envOverrides?: Record<string, string>; secrets?: Secrets } = {}) {
    const address = cluster.block.app(nextApp++);
    const health = await readinessEndpoint(address, 8080);
    const pod = cluster.appPod(options.workload ?? deployment, 'consul-registration', objects, {
      name, address, node: options.node ?? 0, shell: options.shell ?? BUSYBOX, envOverrides: options.envOverrides, secrets: options.secrets,
    });
    pod.start();
    return { name, address, pod, health, agent: cluster.agents[options.node ?? 0] };
  }
  type Instance = Awaited<ReturnType<typeof instance>>;

  const agentHas = async (i: Instance) => (await cluster.api(i.agent, 'GET', `/v1/agent/service/${i.name}`, { token: tokens.bootstrap })).status === 200;
  const inDns = async (i: Instance) => (await cluster.srvAddresses(service)).includes(i.address);
  const status = async (i: Instance) => {
    const { body } = await cluster.api(cluster.servers[0], 'GET', `/v1/health/checks/${service}`, { token: tokens.bootstrap });
    return (body as any[]).find((c) => c.ServiceID === i.name)?.Status ?? 'absent';
  };

  it('registers with the agent, passes, goes critical and back, and Consul DNS follows the check', async () => {
    const i = await instance('payment-service-7d9f-abcd1');
    const registered = await until(() => inDns(i), 20_000, () => i.pod.log());
    expect(i.pod.log()).toContain(`consul-registration: registered ${i.name} at ${i.address}`);
    const { body } = await cluster.api(i.agent, 'GET', `/v1/agent/service/${i.name}`, { token: tokens.bootstrap });
    expect(body).toMatchObject({ ID: i.name, Service: service, Address: i.address, Port: 8080, Tags: ['v1'], Meta: { 'k8s-pod': i.name, 'k8s-namespace': 'production' } });
    i.health.ready = false;
    const critical = await until(async () => !(await inDns(i)), 40_000);
    expect(await status(i)).toBe('critical');
    i.health.ready = true;
    const back = await until(() => inDns(i), 20_000);
    console.log(`in DNS ${registered} ms after start; out ${critical} ms after readiness failed; back ${back} ms after it recovered`);
    // failures_before_critical checks, interval apart, then the sync to the servers.
    expect(critical).toBeGreaterThanOrEqual((check.failures_before_critical - 1) * parseGoDuration(check.interval)!);
    await i.pod.stop();
    i.health.close();
  }, 120_000);

  it.each(SHELLS)('deregisters within 1 s of SIGTERM (%s)', async (_shell, shell) => {
    const i = await instance(`payment-service-7d9f-term${shell.length}`, { shell });
    await until(() => agentHas(i), 20_000, () => i.pod.log());
    const sent = Date.now();
    const exit = await i.pod.stop('SIGTERM');
    const gone = !(await agentHas(i));
    const took = Date.now() - sent;
    expect(exit).toBe(0);
    expect(gone).toBe(true);
    expect(took).toBeLessThan(1000);
    expect(i.pod.log()).toContain(`consul-registration: deregistered ${i.name}`);
    i.health.close();
  }, 60_000);

  it('starts deregistering within 1 s of SIGTERM even while a call to the agent hangs', async () => {
    // A node whose agent accepts connections and never answers.
    const connections: number[] = [];
    const silent: Server = createNetServer(() => connections.push(Date.now()));
    await new Promise<void>((resolve) => silent.listen(8500, cluster.block.agent(4), resolve));
    const i = await instance('payment-service-7d9f-hang1', { node: 4 });
    await until(async () => connections.length === 1, 5000);
    const sent = Date.now();
    const exited = i.pod.stop('SIGTERM');
    // The hanging lookup is abandoned at once and the deregistration call goes out.
    await until(async () => connections.length === 2, 1000);
    expect(await exited).toBe(0);
    // It gives up after its own timeout (the pod's shutdownSeconds), not the hanging call's.
    expect(Date.now() - sent).toBeLessThan(6500);
    expect(i.pod.log()).toMatch(/deregistration of payment-service-7d9f-hang1 failed \(no answer from the agent/);
    silent.close();
    i.health.close();
  }, 60_000);

  it('is reaped after deregister_critical_service_after when the pod is killed (SIGKILL)', async () => {
    const i = await instance('payment-service-7d9f-kill1');
    await until(() => inDns(i), 20_000, () => i.pod.log());
    await i.pod.stop('SIGKILL');
    i.health.close();
    const critical = await until(async () => (await status(i)) === 'critical', 30_000);
    const reapAfter = parseGoDuration(check.deregister_critical_service_after)!;
    // Consul's reaper runs every 30 s: gone after reapAfter, and at most 30 s (plus slack) later.
    const reaped = await until(async () => !(await agentHas(i)), reapAfter + 45_000);
    console.log(`critical ${critical} ms after SIGKILL, reaped ${reaped} ms after that (deregister_critical_service_after ${check.deregister_critical_service_after})`);
    expect(reaped).toBeGreaterThanOrEqual(reapAfter - 1000);
    expect(await status(i)).toBe('absent');
  }, 180_000);

  it('comes back within the bound after an agent replacement and an agent restart, and says so in its log', async () => {
    const i = await instance('payment-service-7d9f-node1', { node: 1 });
    await until(() => inDns(i), 20_000, () => i.pod.log());

    // The agent pod is replaced: a new pod on the same node with a fresh data dir, which
    // knows no services until the sidecar registers again. The node has no agent for a
    // moment (longer than the sidecar's interval, so the sidecar sees the agent gone).
    await cluster.agents[1].stop();
    // The servers drop the node when they process its leave: asynchronous, within seconds.
    await until(async () => !(await inDns(i)), LEFT_WITHIN_MS, () => i.pod.log());
    await sleep(6000);
    const agent = cluster.agentPod(1, 'consul-agent-1-replaced');
    cluster.agents.push(agent);
    agent.start();
    const afterReplacement = await until(() => inDns(i), BACK_WITHIN_MS, () => `${i.pod.log()}\n${agent.logTail()}`);
    expect(i.pod.log()).toContain(`consul-registration: the agent had lost ${i.name} (restarted or replaced): registered it again`);
    expect(i.pod.log()).toMatch(/consul-registration: the agent answers again after \d+ failed attempts in \d+s/);

    // The agent's container restarts: the same pod, its emptyDir data dir kept.
    await agent.stop();
    await until(async () => !(await inDns(i)), LEFT_WITHIN_MS, () => i.pod.log());
    agent.start({ containerRestart: true });
    const afterRestart = await until(() => inDns(i), BACK_WITHIN_MS, () => `${i.pod.log()}\n${agent.logTail()}`);
    console.log(`back in DNS ${afterReplacement} ms after the replacement agent started, ${afterRestart} ms after the agent restarted (bound ${BACK_WITHIN_MS} ms)`);
    // Between agent changes the sidecar only reads: it registered at start and after the replacement.
    expect(i.pod.log().match(/consul-registration: registered |registered it again/g)).toHaveLength(2);
    await i.pod.stop();
    i.health.close();
  }, 120_000);

  it('tells why when the token may not register the service', async () => {
    const i = await instance('payment-service-7d9f-deny1', { secrets: namespaceSecrets(deployment, tokens.dns).secrets });
    await until(async () => /registration failed, retrying every 2s: the ACL token was refused \(it needs service:write on the service\)/.test(i.pod.log()), 20_000, () => i.pod.log());
    expect(await agentHas(i)).toBe(false);
    await i.pod.stop();
    i.health.close();
  }, 60_000);

  it.each(SHELLS)('starts before its token Secret exists, says it waits, and registers within one resync of the token appearing (%s)', async (_shell, shell) => {
    const volume = tokenVolume(bootstrapDeployment);
    expect(volume).toEqual({ secretName: 'payment-service-consul-token', key: 'token', optional: true, file: '/consul-registration-token/token' });
    // The namespace has no token Secret yet: kubelet starts the pod with the optional volume empty.
    const { secrets, setToken } = namespaceSecrets(bootstrapDeployment);
    const i = await instance(`payment-service-7d9f-late${shell.length}`, { workload: bootstrapDeployment, secrets, shell });
    const waiting = 'consul-registration: waiting for the ACL token: /consul-registration-token/token is missing or empty';
    await until(async () => i.pod.log().includes(waiting), 10_000, () => i.pod.log());
    // Two resync intervals later it still waits, said so once, and never called the agent with no token.
    await sleep(11_000);
    expect(i.pod.running).toBe(true);
    expect(await agentHas(i)).toBe(false);
    expect(i.pod.log().split(waiting)).toHaveLength(2);
    expect(i.pod.log()).not.toMatch(/refused|failed|retrying/);
    // The bootstrap writes the Secret; kubelet projects it into the volume.
    setToken(serviceToken);
    const took = await until(() => agentHas(i), ONE_RESYNC_MS, () => i.pod.log());
    console.log(`registered ${took} ms after the token file appeared (${shell.join(' ')})`);
    expect(i.pod.log()).toContain('consul-registration: found the ACL token at /consul-registration-token/token');
    // The agent holds the registration a moment before the sidecar, back from its call, logs it.
    await until(async () => i.pod.log().includes(`consul-registration: registered ${i.name} at ${i.address}`), 5_000, () => i.pod.log());
    await until(() => inDns(i), 20_000, () => i.pod.log());
    expect(await i.pod.stop('SIGTERM')).toBe(0);
    expect(await agentHas(i)).toBe(false);
    expect(i.pod.log()).toContain(`consul-registration: deregistered ${i.name}`);
    i.health.close();
  }, 90_000);

  it('exits at once on SIGTERM while it waits for its token', async () => {
    const i = await instance('payment-service-7d9f-late-term', { workload: bootstrapDeployment, secrets: namespaceSecrets(bootstrapDeployment).secrets });
    await until(async () => /waiting for the ACL token/.test(i.pod.log()), 10_000, () => i.pod.log());
    const sent = Date.now();
    expect(await i.pod.stop('SIGTERM')).toBe(0);
    expect(Date.now() - sent).toBeLessThan(1000);
    expect(i.pod.log()).toContain('consul-registration: cannot deregister payment-service-7d9f-late-term without the ACL token at /consul-registration-token/token');
    i.health.close();
  }, 60_000);

  it('uses a rotated token from the next call on, without a restart', async () => {
    const { secrets, setToken } = namespaceSecrets(deployment, serviceToken);
    const i = await instance('payment-service-7d9f-rotate1', { secrets });
    await until(() => agentHas(i), 20_000, () => i.pod.log());
    const rotated = 'consul-registration: the ACL token at /consul-registration-token/token changed: using the new one';
    // Rotated to a token that may read but not register the service; the agent loses the
    // registration: only the new token is used for registering it again, and it is refused.
    setToken(tokens.dns);
    expect((await cluster.api(i.agent, 'PUT', `/v1/agent/service/deregister/${i.name}`, { token: tokens.bootstrap })).status).toBe(200);
    await until(async () => /registration failed, retrying every 2s: the ACL token was refused/.test(i.pod.log()), ONE_RESYNC_MS, () => i.pod.log());
    expect(i.pod.log()).toContain(rotated);
    expect(await agentHas(i)).toBe(false);
    // Rotated again, to a new token of the service: registered again with it.
    const next = await cluster.createToken([`-service-identity=${service}`, '-description=rotated payment-service token'], tokens.bootstrap);
    // Only once this agent accepts the new token (it resolves a new token through the servers).
    const probe = { ID: `${i.name}-token-check`, Name: service };
    await until(async () => (await cluster.api(i.agent, 'PUT', '/v1/agent/service/register', { token: next, body: probe })).status === 200, 60_000);
    await cluster.api(i.agent, 'PUT', `/v1/agent/service/deregister/${probe.ID}`, { token: next });
    setToken(next);
    await until(() => agentHas(i), ONE_RESYNC_MS, () => i.pod.log());
    // The consul CLI reads the file itself, so the registration can beat the log line by one loop.
    await until(async () => i.pod.log().split(rotated).length === 3, ONE_RESYNC_MS, () => i.pod.log());
    // The agent holds the registration a moment before the sidecar, back from its call, logs it.
    await until(async () => i.pod.log().includes(`consul-registration: registered ${i.name} again, with the new ACL token`), 5_000, () => i.pod.log());
    expect(i.pod.running).toBe(true);
    // The consul CLI reads the file too: the deregistration goes out with the new token.
    expect(await i.pod.stop('SIGTERM')).toBe(0);
    expect(await agentHas(i)).toBe(false);
    expect(i.pod.log()).toContain(`consul-registration: deregistered ${i.name}`);
    i.health.close();
  }, 120_000);

  it('registers again with a rotated token while still registered, so the catalog follows the check after the old token is revoked', async () => {
    const old = await cluster.createToken([`-service-identity=${service}`, '-description=payment-service token, to be revoked'], tokens.bootstrap);
    const { secrets, setToken } = namespaceSecrets(deployment, old);
    const i = await instance('payment-service-7d9f-revoke1', { secrets });
    await until(async () => (await status(i)) === 'passing', 30_000, () => i.pod.log());
    // The bootstrap writes a new token into the Secret and revokes the old one (a re-created declaration).
    const next = await cluster.createToken([`-service-identity=${service}`, '-description=payment-service token, new'], tokens.bootstrap);
    setToken(next);
    await until(async () => i.pod.log().includes(`consul-registration: registered ${i.name} again, with the new ACL token`), ONE_RESYNC_MS, () => i.pod.log());
    const { body: oldToken } = await cluster.api(cluster.servers[0], 'GET', '/v1/acl/token/self', { token: old });
    expect((await cluster.api(cluster.servers[0], 'DELETE', `/v1/acl/token/${oldToken.AccessorID}`, { token: tokens.bootstrap })).status).toBe(200);
    // The agent syncs the check's change to the catalog with the token it now holds.
    i.health.ready = false;
    await until(async () => (await status(i)) === 'critical', 30_000, () => i.pod.log());
    expect(await i.pod.stop('SIGTERM')).toBe(0);
    expect(await agentHas(i)).toBe(false);
    i.health.close();
  }, 120_000);

  it('registers hostile meta values verbatim and runs nothing from them', async () => {
    const i = await instance('payment-service-7d9f-meta1', { workload: hostileDeployment });
    await until(() => agentHas(i), 20_000, () => i.pod.log());
    const { body } = await cluster.api(i.agent, 'GET', `/v1/agent/service/${i.name}`, { token: tokens.bootstrap });
    expect(body.Meta.note).toBe(hostile);
    expect(body.Meta['k8s-namespace']).toBe('hostile');
    expect(existsSync('/tmp/pwned')).toBe(false);
    await i.pod.stop();
    i.health.close();
  }, 60_000);

  it('brackets an IPv6 pod address in the check URL it registers', async () => {
    const i = await instance('payment-service-7d9f-ipv61', { envOverrides: { POD_IP: 'fd00::12' } });
    await until(() => agentHas(i), 20_000, () => i.pod.log());
    const { body } = await cluster.api(i.agent, 'GET', `/v1/agent/service/${i.name}`, { token: tokens.bootstrap });
    expect(body.Address).toBe('fd00::12');
    const checks = (await cluster.api(i.agent, 'GET', '/v1/agent/checks', { token: tokens.bootstrap })).body;
    const own = Object.values(checks as Record<string, any>).find((c) => c.ServiceID === i.name);
    expect(own.Definition?.HTTP ?? own.Output).toBeDefined();
    expect(JSON.stringify(own)).not.toContain('http://fd00::12:');
    await i.pod.stop();
    i.health.close();
  }, 60_000);

  it.each([
    ['a pod name carrying shell', { POD_NAME: 'x;touch /tmp/pwned' }, /POD_NAME='x;touch \/tmp\/pwned' is not a pod name/],
    ['a pod name starting with a dash', { POD_NAME: '-p' }, /is not a pod name/],
    ['a missing pod IP', { POD_IP: '' }, /POD_IP='' is not an IP address/],
    ['a pod IP carrying JSON', { POD_IP: '1","x":"y' }, /is not an IP address/],
  ])('refuses %s before it calls the agent', async (_title, env, message) => {
    const i = await instance(`payment-service-7d9f-bad${nextApp}`, { envOverrides: env });
    expect(await i.pod.exited).toBe(2);
    expect(i.pod.log()).toMatch(message);
    expect(await agentHas(i)).toBe(false);
    i.health.close();
  });
});

/** The example's payment-service once more, in another namespace, with a meta value full of shell. */
function addHostileChart(app: App, note: string): Chart {
  const consul = addConsulChart(new App());
  const chart = new Chart(app, 'hostile', { namespace: 'hostile', disableResourceNameHashes: true });
  new DiscoverableService(chart, 'payment-service', {
    image: 'ghcr.io/acme/payment-service:1.8.2',
    ports: [{ name: 'http', port: 80, containerPort: 8080 }],
    registration: new ConsulAgentRegistration({
      agent: consul.agent, meta: { note }, aclToken: ConsulAgentToken.fromSecret({ secretName: 'payment-service-consul-token', key: 'token' }),
    }),
  });
  return chart;
}

/** The example's payment-service in namespace `bootstrapped`, its token from the platform's ConsulBootstrap. */
function addBootstrapTokenChart(app: App): void {
  const consul = addConsulChart(new App());
  const chart = new Chart(app, 'bootstrapped', { namespace: 'bootstrapped', disableResourceNameHashes: true });
  new DiscoverableService(chart, 'payment-service', {
    image: 'ghcr.io/acme/payment-service:1.8.2',
    ports: [{ name: 'http', port: 80, containerPort: 8080 }],
    registration: new ConsulAgentRegistration({
      agent: consul.agent, tags: ['v1'], aclToken: ConsulAgentToken.fromBootstrap(ConsulBootstrap.fromAttributes({ clusterName: 'consul', namespace: 'consul' })),
    }),
  });
}

/** A readiness endpoint on the pod IP: 200 while `ready`, else 503. */
async function readinessEndpoint(address: string, port: number) {
  const state = { ready: true, close: () => server.close() };
  const server = createServer((request, response) => {
    response.writeHead(request.url === '/health/ready' && state.ready ? 200 : 503).end();
  });
  await new Promise<void>((resolve) => server.listen(port, address, resolve));
  return state;
}

/** Polls until `condition` holds; resolves with the time it took. */
/** How soon a stopped agent's services leave DNS: its leave reaches the servers' catalog asynchronously. */
const LEFT_WITHIN_MS = 10_000;

async function until(condition: () => Promise<boolean>, timeoutMs: number, context = () => ''): Promise<number> {
  const started = Date.now();
  while (!(await condition().catch(() => false))) {
    if (Date.now() - started > timeoutMs) throw new Error(`condition not met within ${timeoutMs} ms\n${context()}`);
    await sleep(200);
  }
  return Date.now() - started;
}
