import { Testing } from 'cdk8s';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildExampleApp } from '../../examples/discovery-setup';
import { AclTokens, ConsulTestCluster, generatedConsul } from '../support/consul';
import { sleep } from '../support/pod';
import { synthApp } from '../support/synth';

/**
 * The example's Consul cluster (3 servers, gossip key, ACLs deny, tokens Secret) from the
 * generated manifests, driven through the README's platform steps in their order: deploy,
 * bootstrap ACLs, then create the tokens Secret.
 */
describe('real Consul 1.8.7: the generated cluster through the README platform steps', () => {
  const generated = generatedConsul(synthApp(buildExampleApp(Testing.app())));
  let cluster: ConsulTestCluster;
  let tokens: AclTokens;
  let serviceToken: string;
  const pids = new Map<string, number | undefined>();

  beforeAll(async () => {
    // No tokens Secret yet: it is made from `consul acl bootstrap`, which needs running servers.
    cluster = await ConsulTestCluster.start(generated, { agents: 2 });
    for (const pod of [...cluster.servers, ...cluster.agents]) pids.set(pod.name, pod.pid);
  }, 120_000);
  afterAll(() => cluster?.cleanup());

  it('starts every server and agent before the ACL tokens Secret exists, and they pass their readiness probes', async () => {
    await Promise.all([...cluster.servers, ...cluster.agents].map((pod) => pod.waitReady(60_000)));
    expect(cluster.serverConfig().bootstrap_expect).toBe(3);
    // Without an agent token an agent cannot write its own node under "deny".
    await waitFor(() => /Node info update blocked by ACLs/.test(cluster.agents[0].log()), 30_000);
  }, 90_000);

  it('denies anonymous writes', async () => {
    expect((await cluster.api(cluster.agents[0], 'PUT', '/v1/kv/anything', { body: 'x' })).status).toBe(403);
  });

  it('takes up the tokens Secret when it appears and when it changes, without restarting a pod', async () => {
    const agent = cluster.agents[0];
    const reloaded = (since: number) => waitFor(() => agent.log().slice(since).includes('consul-entrypoint: a file in /consul/acl changed: reloading consul'), 15_000);
    // The agent token is what an agent sends its network coordinate with (every 15-30 s).
    const coordinate = async (token = tokens.bootstrap) => JSON.stringify((await cluster.api(cluster.servers[0], 'GET', `/v1/coordinate/node/${agent.name}`, { token })).body?.[0]?.Coord ?? null);
    const agentToken = async () => (await cluster.api(agent, 'GET', '/v1/agent/self', { token: tokens.bootstrap })).body.DebugConfig.ACLAgentToken;

    let since = agent.log().length;
    const appeared = Date.now();
    // Until the tokens Secret exists the agent has sent no coordinate (checked just before it is written).
    tokens = await cluster.setUpAcls(async (bootstrap) => expect(await coordinate(bootstrap)).toBe('null'));
    // As the README says: one token per registering service, from its service identity.
    serviceToken = await cluster.createToken(['-service-identity=payment-service'], tokens.bootstrap);
    await reloaded(since);
    expect(await agentToken()).toBe('hidden');
    await waitFor(async () => (await coordinate()) !== 'null', 45_000, () => agent.log().slice(since));
    const tookUp = Date.now() - appeared;

    // Rotation: a new agent token in the Secret, then the old one is deleted.
    const rotated = await cluster.createToken(['-description=consul agents, rotated', '-policy-name=consul-agents'], tokens.bootstrap);
    since = agent.log().length;
    const changed = Date.now();
    cluster.setTokensSecret({ acl: { tokens: { agent: rotated, dns: tokens.dns } } });
    await reloaded(since);
    await cluster.consul(cluster.servers[0], ['acl', 'token', 'delete', `-id=${await accessorOf(tokens.agent)}`], tokens.bootstrap);
    const before = await coordinate();
    await waitFor(async () => (await coordinate()) !== before, 45_000, () => agent.log().slice(since));
    expect(agent.log().slice(since)).not.toMatch(/blocked by ACLs/);
    console.log(`the agent worked with the tokens Secret ${tookUp} ms after it appeared and with the rotated token ${Date.now() - changed} ms after the change`);
    for (const pod of [...cluster.servers, ...cluster.agents]) expect(pod.pid, `${pod.name} restarted`).toBe(pids.get(pod.name));
  }, 150_000);

  it('keeps the gossip pool encrypted with the key from the Secret', async () => {
    const keyring = await cluster.consul(cluster.servers[0], ['keyring', '-list'], tokens.bootstrap);
    expect(keyring).toContain(cluster.secrets.get('consul-gossip-key')!.key);
    expect(keyring).toMatch(/\[5\/5\]/);
    const members = (await cluster.consul(cluster.servers[0], ['members'], tokens.bootstrap)).split('\n').filter((l) => / alive /.test(l));
    expect(members.length).toBe(5);
  });

  it('answers Consul DNS under default deny with the documented DNS policy', async () => {
    const answers = await cluster.srv('consul');
    expect(answers.map((a) => a.port)).toEqual([8300, 8300, 8300]);
  });

  it('gives a service-identity token exactly its own service', { timeout: 90_000 }, async () => {
    const token = serviceToken;
    const register = (name: string) => cluster.api(cluster.agents[0], 'PUT', '/v1/agent/service/register', {
      token, body: { ID: `${name}-1`, Name: name, Port: 8080 },
    });
    await cluster.waitForServiceToken('payment-service', token, 60_000);
    const registered = await register('payment-service');
    expect(registered.status, JSON.stringify(registered.body)).toBe(200);
    expect((await register('order-service')).status).toBe(403);
    expect((await cluster.api(cluster.agents[0], 'PUT', '/v1/agent/service/deregister/payment-service-1', { token })).status).toBe(200);
  });

  async function accessorOf(secretId: string): Promise<string> {
    const { body } = await cluster.api(cluster.servers[0], 'GET', '/v1/acl/token/self', { token: secretId });
    return body.AccessorID;
  }

  it('takes a snapshot in a server pod, as `kubectl exec consul-server-0 -- consul snapshot save` does', async () => {
    const server = cluster.servers[0];
    const saved = await server.exec(['consul', 'snapshot', 'save', '/tmp/backup.snap'], { env: { CONSUL_HTTP_TOKEN: tokens.bootstrap } });
    expect(saved.code, `${saved.stdout}${saved.stderr}`).toBe(0);
    const inspected = await cluster.consul(server, ['snapshot', 'inspect', '/tmp/backup.snap'], tokens.bootstrap);
    expect(inspected).toMatch(/Index\s+\d+/);
  });

});

async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs: number, context = () => ''): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms\n${context()}`);
    await sleep(200);
  }
}
