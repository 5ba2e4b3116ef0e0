import { Testing } from 'cdk8s';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildExampleApp } from '../../examples/discovery-setup';
import { ConsulTestCluster, generatedConsul } from '../support/consul';
import { Pod, sleep } from '../support/pod';
import { synthApp } from '../support/synth';

/**
 * A rolling update of the example's servers, driven the way the StatefulSet controller
 * does it (RollingUpdate, podManagementPolicy Parallel changes nothing for updates):
 * highest ordinal first; each pod is deleted (SIGTERM, graceful leave), recreated with its
 * claim, and the next one waits until the new pod passes the generated readiness probe and
 * then stays Ready for the generated minReadySeconds. Meanwhile a client writes to the KV
 * store through its agent and watches the leader the agent reports.
 *
 * Quorum-safe means: every server is a Raft voter again before the next one stops, so the
 * voters never drop below quorum. When the leader itself restarts, its graceful leave ends
 * its term and the others elect a new leader (Consul 1.8.7 has no leadership transfer on
 * leave), a gap of about one election that Consul's rpc_hold_timeout (7s) hides from writes.
 * A write in flight at that moment, or on the connection to a server as it shuts down, ends
 * with an error whose outcome is unknown ("leadership lost while committing log", "stream
 * closed"); Consul never retries writes itself, so the client retries its idempotent PUT
 * once, as any client must. A write refused for want of a leader is never retried.
 */
const OUTCOME_UNKNOWN = /stream closed|EOF|connection reset|leadership lost while committing log/;
const ONE_ELECTION_MS = 6000;
describe('real Consul 1.8.7: a rolling update of the generated servers', () => {
  const generated = generatedConsul(synthApp(buildExampleApp(Testing.app())));
  const statefulSet = generated.statefulSet.spec;
  let cluster: ConsulTestCluster;
  let token: string;

  beforeAll(async () => {
    cluster = await ConsulTestCluster.start(generated);
    await Promise.all(cluster.servers.map((server) => server.waitReady(60_000)));
    token = JSON.parse(await cluster.consul(cluster.servers[0], ['acl', 'bootstrap', '-format=json'])).SecretID;
    // The roll starts from a whole cluster: the client's agent has joined and sees the leader.
    // (Its first retry_join can run before the servers listen; the next comes 30 s later.)
    for (const deadline = Date.now() + 60_000; (await cluster.leaderSeenBy(cluster.agents[0])) === ''; await sleep(250)) {
      if (Date.now() > deadline) throw new Error(`the agent sees no leader 60 s after the servers are Ready:\n${cluster.agents[0].logTail()}`);
    }
  }, 120_000);
  afterAll(() => cluster?.cleanup());

  /** The servers that are Raft voters, as a server's leader knows them. */
  async function votersSeenBy(server: Pod): Promise<string[]> {
    const { status, body } = await cluster.api(server, 'GET', '/v1/operator/raft/configuration', { token });
    if (status !== 200) throw new Error(`raft configuration from ${server.name}: ${status} ${JSON.stringify(body)}`);
    return body.Servers.filter((s: any) => s.Voter).map((s: any) => s.Node).sort();
  }

  it('keeps a leader and accepts every write while the servers restart in order', async () => {
    const client = cluster.agents[0];
    const writes: { at: number; ms: number; ok: boolean; detail: string }[] = [];
    const retried: string[] = [];
    const leaderSamples: { at: number; leader: string }[] = [];
    let rolling = true;
    const put = (n: number) => cluster.api(client, 'PUT', `/v1/kv/roll/${n}`, { token, body: n }).catch((error) => ({ status: 0, body: String(error) }));
    const writer = (async () => {
      for (let n = 0; rolling; n++) {
        const at = Date.now();
        let result = await put(n);
        if (result.status !== 200 && OUTCOME_UNKNOWN.test(String(result.body))) {
          retried.push(`${new Date(at).toISOString()}: ${result.body}`);
          result = await put(n);
        }
        writes.push({ at, ms: Date.now() - at, ok: result.status === 200 && result.body === true, detail: `${result.status} ${JSON.stringify(result.body)}` });
        await sleep(200);
      }
    })();
    const watcher = (async () => {
      while (rolling) {
        leaderSamples.push({ at: Date.now(), leader: await cluster.leaderSeenBy(client) });
        await sleep(200);
      }
    })();

    const steps: string[] = [];
    const votersBeforeStop: number[] = [];
    const started = Date.now();
    for (let i = cluster.servers.length - 1; i >= 0; i--) {
      const server = cluster.servers[i];
      const voters = await votersSeenBy(cluster.servers[i === 0 ? 1 : 0]);
      votersBeforeStop.push(voters.length);
      steps.push(`before stopping ${server.name}: voters ${voters.join(', ')}`);
      const stopStart = Date.now();
      await server.stop();
      server.start();
      const readyMs = await server.waitReady(120_000);
      await sleep(1000 * (statefulSet.minReadySeconds ?? 0));
      steps.push(`${server.name}: stopped in ${Date.now() - stopStart - readyMs - 1000 * (statefulSet.minReadySeconds ?? 0)} ms, Ready after ${readyMs} ms, then minReadySeconds ${statefulSet.minReadySeconds ?? 0}`);
    }
    const votersAfter = await votersSeenBy(cluster.servers[0]);
    steps.push(`after the roll: voters ${votersAfter.join(', ')}`);
    rolling = false;
    await Promise.all([writer, watcher]);

    const failed = writes.filter((w) => !w.ok);
    const slowest = Math.max(...writes.map((w) => w.ms));
    const leaderless = leaderSamples.filter((s) => s.leader === '');
    const summary = [
      `roll took ${Date.now() - started} ms; ${writes.length} writes, ${failed.length} failed, slowest ${slowest} ms, ${retried.length} retried once after a broken connection;`,
      `${leaderless.length} of ${leaderSamples.length} samples without a leader, the longest gap ${longestGap(leaderSamples)} ms`,
      ...steps,
      ...failed.slice(0, 5).map((w) => `failed at ${new Date(w.at).toISOString()} after ${w.ms} ms: ${w.detail}`),
      ...retried.slice(0, 5).map((r) => `retried: ${r}`),
    ].join('\n');
    console.log(summary);
    expect(votersBeforeStop, summary).toEqual(cluster.servers.map(() => cluster.servers.length));
    expect(votersAfter.length, summary).toBe(cluster.servers.length);
    expect(failed, summary).toEqual([]);
    expect(longestGap(leaderSamples), summary).toBeLessThan(ONE_ELECTION_MS);
    expect(slowest, summary).toBeLessThan(ONE_ELECTION_MS);
    expect(writes.length).toBeGreaterThan(50);
  }, 600_000);
});

/** The longest time from a sample without a leader to the next sample with one. */
function longestGap(samples: readonly { at: number; leader: string }[]): number {
  let longest = 0;
  let since: number | undefined;
  for (const sample of samples) {
    if (sample.leader === '') since ??= sample.at;
    else if (since !== undefined) {
      longest = Math.max(longest, sample.at - since);
      since = undefined;
    }
  }
  return since === undefined ? longest : Math.max(longest, samples.at(-1)!.at - since);
}
