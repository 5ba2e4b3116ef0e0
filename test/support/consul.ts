import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { Resolver } from 'node:dns/promises';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { CONSUL_AGENT_POLICY_RULES, CONSUL_DNS_READ_POLICY_RULES } from '../../lib';
import { CONSUL_PORTS } from '../../lib/consul/config';
import type { KubeObject } from './schema';
import { findObject } from './synth';
import { Pod, Secrets, podWorkDir, sleep } from './pod';

/**
 * Real Consul agents on loopback, started from what ConsulCluster generates: the server and
 * agent pod specs (command, args, env, volumes, readiness probe) and the JSON of their
 * ConfigMaps, run through test/support/pod.ts. On loopback only addresses change: each pod
 * gets its own 127.x.y.z with Consul's default ports, `-bind`, `-client` and `-node` are
 * appended (a pod binds 0.0.0.0 and its hostname is its name), the servers' headless Service
 * in `retry_join` becomes the servers' addresses, and `127.0.0.1` in probes and
 * `CONSUL_HTTP_ADDR` becomes the pod's own address.
 *
 * The binary is Debian bullseye's Consul 1.8.7 (tools/ensure-consul.sh; the global setup
 * sets DK_CONSUL_BIN). The generated config targets Consul 1.20, so {@link forConsul187}
 * removes exactly the keys 1.8.7 predates.
 */

/**
 * Keys of the generated configuration that Consul 1.8.7 rejects ("invalid config key"),
 * with the release that introduced them. They are removed before 1.8.7 reads a config.
 */
export const KEYS_NEWER_THAN_1_8_7: readonly { readonly path: readonly string[]; readonly since: string; readonly why: string }[] = [
  { path: ['ports', 'grpc_tls'], since: '1.14', why: 'gRPC over TLS got its own port in 1.14; 1.8.7 has only ports.grpc' },
  { path: ['ui_config'], since: '1.9', why: 'the ui_config block replaced the top-level `ui` flag in 1.9' },
  { path: ['acl', 'tokens', 'dns'], since: '1.17', why: 'a dedicated DNS token; 1.8.7 answers DNS with the default (else anonymous) token' },
];

/**
 * The `tls` block (Consul 1.12) holds the same settings 1.8.7 reads from top-level keys.
 * These are renamed, not dropped, so TLS runs on 1.8.7 with the generated files and
 * verification settings. `tls.grpc` has no 1.8.7 counterpart (1.8.7 serves gRPC with the
 * HTTPS settings) and is dropped.
 */
export const TLS_KEYS_FOR_1_8_7: readonly { readonly from: readonly string[]; readonly to: string | undefined }[] = [
  { from: ['tls', 'defaults', 'ca_file'], to: 'ca_file' },
  { from: ['tls', 'defaults', 'cert_file'], to: 'cert_file' },
  { from: ['tls', 'defaults', 'key_file'], to: 'key_file' },
  { from: ['tls', 'defaults', 'verify_outgoing'], to: 'verify_outgoing' },
  { from: ['tls', 'internal_rpc', 'verify_incoming'], to: 'verify_incoming_rpc' },
  { from: ['tls', 'internal_rpc', 'verify_server_hostname'], to: 'verify_server_hostname' },
  { from: ['tls', 'https', 'verify_incoming'], to: 'verify_incoming_https' },
  { from: ['tls', 'grpc', 'verify_incoming'], to: undefined },
];

/** A copy of a generated config (or tokens file) that Consul 1.8.7 accepts; see the two lists above. */
export function forConsul187(config: Record<string, any>): Record<string, any> {
  const copy = structuredClone(config);
  for (const { path } of KEYS_NEWER_THAN_1_8_7) deletePath(copy, path);
  for (const { from, to } of TLS_KEYS_FOR_1_8_7) {
    const value = getPath(copy, from);
    if (value === undefined) continue;
    deletePath(copy, from);
    if (to) copy[to] = value;
  }
  if (copy.tls && Object.keys(copy.tls).length > 0) throw new Error(`tls keys without a 1.8.7 mapping: ${JSON.stringify(copy.tls)}`);
  delete copy.tls;
  return copy;
}

function getPath(object: Record<string, any>, path: readonly string[]): any {
  return path.reduce<any>((node, key) => (node && typeof node === 'object' ? node[key] : undefined), object);
}

/** Deletes a key and then every object it leaves empty. */
function deletePath(object: Record<string, any>, path: readonly string[]): void {
  const parent = getPath(object, path.slice(0, -1));
  if (!parent || typeof parent !== 'object' || !(path.at(-1)! in parent)) return;
  delete parent[path.at(-1)!];
  if (path.length > 1 && Object.keys(parent).length === 0) deletePath(object, path.slice(0, -1));
}

/** The consul binary the global setup installed. */
export function consulBinary(): string {
  const binary = process.env.DK_CONSUL_BIN;
  if (!binary) throw new Error('DK_CONSUL_BIN is not set: run the tests through vitest (its global setup runs tools/ensure-consul.sh)');
  return binary;
}

/** What ConsulCluster generated, from synthesized objects. */
export interface GeneratedConsul {
  readonly name: string;
  readonly statefulSet: KubeObject;
  readonly daemonSet: KubeObject;
  /** ConfigMaps of the cluster's namespace, by name. */
  readonly configMaps: Record<string, Record<string, string>>;
  /** The server and agent config files exactly as generated. */
  readonly serverConfig: string;
  readonly agentConfig: string;
}

export function generatedConsul(objects: readonly KubeObject[], name = 'consul'): GeneratedConsul {
  const statefulSet = findObject(objects, 'StatefulSet', `${name}-server`);
  const namespace = statefulSet.metadata.namespace;
  const configMaps = Object.fromEntries(objects
    .filter((o) => o.kind === 'ConfigMap' && o.metadata.namespace === namespace)
    .map((o) => [o.metadata.name, o.data as Record<string, string>]));
  return {
    name,
    statefulSet,
    daemonSet: findObject(objects, 'DaemonSet', `${name}-agent`),
    configMaps,
    serverConfig: configMaps[`${name}-server-config`]['server.json'],
    agentConfig: configMaps[`${name}-agent-config`]['agent.json'],
  };
}

/** The address block of one test cluster: servers at .11 up, agents at .31 up, app pods at .51 up. */
export class LoopbackBlock {
  /** Picks a block of 127.x.y.0/24 where nothing listens on Consul's ports yet. */
  static async allocate(): Promise<LoopbackBlock> {
    for (let attempt = 0; attempt < 10; attempt++) {
      const block = new LoopbackBlock(`127.${64 + Math.floor(Math.random() * 128)}.${1 + Math.floor(Math.random() * 250)}`);
      if (await block.free()) return block;
    }
    throw new Error('no free loopback block for Consul after 10 attempts');
  }

  private constructor(readonly prefix: string) {}

  server(i: number): string {
    return `${this.prefix}.${11 + i}`;
  }

  agent(i: number): string {
    return `${this.prefix}.${31 + i}`;
  }

  app(i: number): string {
    return `${this.prefix}.${51 + i}`;
  }

  private async free(): Promise<boolean> {
    const ports = Object.values(CONSUL_PORTS);
    const checks = [0, 1, 2, 3, 4].flatMap((i) => [this.server(i), this.agent(i)]).flatMap((host) => ports.map((port) => portFree(host, port)));
    return (await Promise.all(checks)).every(Boolean);
  }
}

function portFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}

/** The tokens of the documented ACL setup. */
export interface AclTokens {
  readonly bootstrap: string;
  readonly agent: string;
  readonly dns: string;
}

/** Consul's built-in anonymous token (its accessor ID). */
const ANONYMOUS_TOKEN = '00000000-0000-0000-0000-000000000002';

/** Options of {@link ConsulTestCluster.start}. */
export interface ConsulTestClusterOptions {
  /** Client agents to start (each stands for one node's DaemonSet pod). @default 1 */
  readonly agents?: number;
  /** The namespace's Secrets; the gossip key Secret is added when the StatefulSet reads one. */
  readonly secrets?: Secrets;
  /** Replaces `/bin/sh` in the containers (e.g. busybox's). */
  readonly shell?: readonly string[];
  /** The loopback block, when the test must know the pods' addresses first. @default - a free one */
  readonly block?: LoopbackBlock;
  /** Runs before any pod starts, e.g. to create Secrets that name the pods' addresses. */
  readonly beforeStart?: (cluster: ConsulTestCluster) => void;
}

/**
 * A Consul datacenter from generated manifests: one pod per StatefulSet replica (with a
 * persistent data claim each) and the requested number of agent pods.
 */
export class ConsulTestCluster {
  static async start(generated: GeneratedConsul, options: ConsulTestClusterOptions = {}): Promise<ConsulTestCluster> {
    const cluster = new ConsulTestCluster(generated, options.block ?? await LoopbackBlock.allocate(), options);
    try {
      options.beforeStart?.(cluster);
      for (const pod of cluster.servers) pod.start();
      for (const pod of cluster.agents) pod.start();
      await cluster.waitForLeader(60_000);
    } catch (error) {
      await cluster.cleanup();
      throw error;
    }
    return cluster;
  }

  readonly secrets: Secrets;
  readonly servers: Pod[];
  readonly agents: Pod[];
  readonly workDir = podWorkDir('consul-real');
  private readonly replicas: number;
  private readonly configMaps: Record<string, Record<string, string>>;

  private constructor(readonly generated: GeneratedConsul, readonly block: LoopbackBlock, private readonly options: ConsulTestClusterOptions) {
    this.secrets = options.secrets ?? new Secrets();
    this.replicas = generated.statefulSet.spec.replicas;
    this.configMaps = {
      ...generated.configMaps,
      [`${generated.name}-server-config`]: { 'server.json': JSON.stringify(this.serverConfig(), null, 2) },
      [`${generated.name}-agent-config`]: { 'agent.json': JSON.stringify(this.agentConfig(), null, 2) },
    };
    const gossip = generated.statefulSet.spec.template.spec.containers[0].env.find((e: any) => e.name === 'CONSUL_GOSSIP_KEY');
    const gossipRef = gossip?.valueFrom?.secretKeyRef;
    if (gossipRef && !this.secrets.get(gossipRef.name)) this.secrets.set(gossipRef.name, { [gossipRef.key]: randomBytes(32).toString('base64') });
    this.servers = Array.from({ length: this.replicas }, (_, i) => this.serverPod(i));
    this.agents = Array.from({ length: options.agents ?? 1 }, (_, i) => this.agentPod(i, `${generated.name}-agent-${i}`));
  }

  /** The generated server config as 1.8.7 runs it here. */
  serverConfig(): Record<string, any> {
    return this.forLoopback(JSON.parse(this.generated.serverConfig));
  }

  agentConfig(): Record<string, any> {
    return this.forLoopback(JSON.parse(this.generated.agentConfig));
  }

  /**
   * An app pod's container (e.g. a registration sidecar) on node `node`: the node-local
   * agent Service in its env becomes that node's agent address. `secrets` stands for the
   * Secrets of the pod's namespace (default: the cluster's).
   */
  appPod(workload: KubeObject, containerName: string, objects: readonly KubeObject[], options: {
    name: string; address: string; node: number; shell?: readonly string[]; envOverrides?: Record<string, string>; secrets?: Secrets;
    /** Reach the agent by its Service name, resolved in the pod's /etc/hosts, instead of rewriting it to the address (HTTPS verifies the name). */
    agentByName?: boolean;
  }): Pod {
    const spec = workload.spec.template.spec;
    // The ConfigMaps of the workload's namespace as synthesized (the registration script's).
    const configMaps = Object.fromEntries(objects
      .filter((o) => o.kind === 'ConfigMap' && o.metadata.namespace === workload.metadata.namespace)
      .map((o) => [o.metadata.name, o.data as Record<string, string>]));
    const container = spec.containers.find((c: any) => c.name === containerName);
    const agentService = new RegExp(`//${this.generated.daemonSet.metadata.name}\\.${this.generated.daemonSet.metadata.namespace}\\.svc\\.[^:/]+`, 'g');
    const agent = this.block.agent(options.node);
    return new Pod({
      name: options.name,
      address: options.address,
      container: { ...container, terminationGracePeriodSeconds: spec.terminationGracePeriodSeconds },
      volumes: spec.volumes ?? [],
      configMaps,
      secrets: options.secrets ?? this.secrets,
      binDir: dirname(consulBinary()),
      rewrite: options.agentByName ? undefined : (value) => value.replace(agentService, `//${agent}`),
      hosts: options.agentByName ? { [`${this.generated.daemonSet.metadata.name}.${this.generated.daemonSet.metadata.namespace}.svc.cluster.local`]: agent } : undefined,
      envOverrides: options.envOverrides,
      shell: options.shell,
      workDir: this.workDir,
    });
  }

  /** A new agent pod on node `i` (a replacement starts with a fresh emptyDir data dir). */
  agentPod(i: number, name: string): Pod {
    return this.pod(name, this.block.agent(i), this.generated.daemonSet, undefined);
  }

  /**
   * The HTTP API of a pod's agent: HTTPS, verified with the CA of the generated TLS settings,
   * when the generated config turns plain HTTP off.
   */
  async api(pod: Pod, method: string, path: string, options: { token?: string; body?: unknown } = {}): Promise<{ status: number; body: any }> {
    const https = this.serverConfig().ports.http === -1;
    const send = https ? httpsRequest : httpRequest;
    const { status, text } = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = send({
        host: pod.address, port: https ? CONSUL_PORTS.https : CONSUL_PORTS.http, path, method, timeout: 10_000,
        headers: options.token ? { 'X-Consul-Token': options.token } : {},
        ...(https ? { ca: this.caCertificate() } : {}),
      }, (response) => {
        let data = '';
        response.on('data', (chunk) => { data += chunk; });
        response.on('end', () => resolve({ status: response.statusCode ?? 0, text: data }));
      });
      req.on('timeout', () => req.destroy(new Error(`${method} ${path} on ${pod.name}: no answer within 10 s`)));
      req.on('error', reject);
      req.end(options.body === undefined ? undefined : JSON.stringify(options.body));
    });
    let body: any = text;
    try {
      body = JSON.parse(text);
    } catch {
      // not JSON: keep the text
    }
    return { status, body };
  }

  /** The CA certificate from the Secret the generated TLS settings name. */
  private caCertificate(): string {
    const volume = this.generated.statefulSet.spec.template.spec.volumes.find((v: any) => v.name === 'tls-ca');
    const ca = this.secrets.get(volume.secret.secretName)?.[volume.secret.items[0].key];
    if (!ca) throw new Error(`the CA Secret ${volume.secret.secretName} is not set`);
    return ca;
  }

  /** The leader a pod's agent reports ('' for none or no answer). */
  async leaderSeenBy(pod: Pod): Promise<string> {
    try {
      const { status, body } = await this.api(pod, 'GET', '/v1/status/leader');
      return status === 200 && typeof body === 'string' ? body : '';
    } catch {
      return '';
    }
  }

  async waitForLeader(timeoutMs: number): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const leaders = await Promise.all(this.servers.filter((s) => s.running).map((s) => this.leaderSeenBy(s)));
      if (leaders.length > 0 && leaders.every((l) => l !== '' && l === leaders[0])) return leaders[0];
      if (Date.now() > deadline) throw new Error(`no leader within ${timeoutMs} ms:\n${this.servers.map((s) => `${s.name}: ${s.logTail(1500)}`).join('\n')}`);
      await sleep(250);
    }
  }

  /** `kubectl exec <pod> -- consul ...` with the pod's env (and a token, as an operator would export it). */
  async consul(pod: Pod, args: readonly string[], token?: string): Promise<string> {
    const result = await pod.exec(['consul', ...args], { env: token ? { CONSUL_HTTP_TOKEN: token } : {} });
    if (result.code !== 0) throw new Error(`consul ${args.join(' ')} in ${pod.name} failed (${result.code}): ${result.stderr}${result.stdout}`);
    return result.stdout;
  }

  /**
   * The README's platform steps once the pods run: `consul acl bootstrap` in the first
   * server, an agent token from `CONSUL_AGENT_POLICY_RULES` and a DNS token from
   * `CONSUL_DNS_READ_POLICY_RULES`, stored as `{"acl":{"tokens":{"agent":…,"dns":…}}}` in the
   * tokens Secret the pods mount. 1.8.7 has no `acl.tokens.dns` (see
   * {@link KEYS_NEWER_THAN_1_8_7}): there the DNS policy goes to the anonymous token, the
   * alternative `CONSUL_DNS_READ_POLICY_RULES` documents.
   */
  async setUpAcls(beforeSecret?: (bootstrap: string) => Promise<void>): Promise<AclTokens> {
    const server = this.servers[0];
    const bootstrap = JSON.parse(await this.untilAclsReady(() => this.consul(server, ['acl', 'bootstrap', '-format=json']))).SecretID;
    await this.consul(server, ['acl', 'policy', 'create', '-name=consul-agents', `-rules=${CONSUL_AGENT_POLICY_RULES}`], bootstrap);
    await this.consul(server, ['acl', 'policy', 'create', '-name=dns-read', `-rules=${CONSUL_DNS_READ_POLICY_RULES}`], bootstrap);
    const agent = await this.createToken(['-description=consul agents', '-policy-name=consul-agents'], bootstrap);
    const dns = await this.createToken(['-description=consul dns', '-policy-name=dns-read'], bootstrap);
    await this.consul(server, ['acl', 'token', 'update', `-id=${ANONYMOUS_TOKEN}`, '-policy-name=dns-read'], bootstrap);
    await beforeSecret?.(bootstrap);
    this.setTokensSecret({ acl: { tokens: { agent, dns } } });
    // Consul 1.8 agents resolve tokens the legacy way until every member has switched to
    // the new ACL system (serf tag acls=1), some 40 s after the bootstrap; until then a
    // service-identity token is refused. (Legacy ACLs are gone since 1.11.)
    const deadline = Date.now() + 90_000;
    for (;;) {
      const { body } = await this.api(server, 'GET', '/v1/agent/members', { token: bootstrap });
      if ((body as any[]).every((m) => m.Tags.acls === '1')) break;
      if (Date.now() > deadline) throw new Error(`not every member switched to the new ACL system: ${JSON.stringify((body as any[]).map((m) => [m.Name, m.Tags.acls]))}`);
      await sleep(500);
    }
    return { bootstrap, agent, dns };
  }

  /**
   * Retries `call` while a Consul 1.8 server still runs ACLs in legacy mode: for a few seconds
   * after the first leader election, and longer on a loaded machine.
   */
  private async untilAclsReady<T>(call: () => Promise<T>, timeoutMs = 60_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        return await call();
      } catch (error) {
        if (!/legacy mode/.test(String(error)) || Date.now() > deadline) throw error;
        await sleep(1000);
      }
    }
  }

  /**
   * Waits until every agent accepts a registration of `service` with `token`. A Consul 1.8
   * agent resolves a new token through the servers and caches a refusal for the token TTL
   * (30 s), so right after the bootstrap a first attempt can be refused for a while.
   */
  async waitForServiceToken(service: string, token: string, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (const agent of this.agents) {
      for (;;) {
        const { status, body } = await this.api(agent, 'PUT', '/v1/agent/service/register', { token, body: { ID: `${service}-token-check`, Name: service } });
        if (status === 200) break;
        if (Date.now() > deadline) throw new Error(`${agent.name} refused the token for ${service} for ${timeoutMs} ms: ${status} ${JSON.stringify(body)}`);
        await sleep(1000);
      }
      await this.api(agent, 'PUT', `/v1/agent/service/deregister/${service}-token-check`, { token });
    }
  }

  /** `consul acl token create <flags>`; returns the SecretID. */
  async createToken(flags: readonly string[], token: string): Promise<string> {
    return JSON.parse(await this.consul(this.servers[0], ['acl', 'token', 'create', ...flags, '-format=json'], token)).SecretID;
  }

  /** Creates or updates the ACL tokens Secret the generated pods mount, as 1.8.7 reads it. */
  setTokensSecret(content: Record<string, any>): void {
    const volume = this.generated.statefulSet.spec.template.spec.volumes.find((v: any) => v.name === 'acl-tokens');
    if (!volume) throw new Error('the generated servers mount no ACL tokens Secret');
    this.secrets.set(volume.secret.secretName, { [volume.secret.items[0].key]: JSON.stringify(forConsul187(content)) });
  }

  /** Waits until a pod's node is in the catalog (its agent could register it); resolves with the time taken. */
  async waitForNode(pod: Pod, token: string, timeoutMs: number): Promise<number> {
    const started = Date.now();
    for (;;) {
      const { status, body } = await this.api(pod, 'GET', `/v1/catalog/node/${pod.name}`, { token }).catch(() => ({ status: 0, body: null }));
      if (status === 200 && body?.Node) return Date.now() - started;
      if (Date.now() - started > timeoutMs) throw new Error(`node ${pod.name} was not in the catalog within ${timeoutMs} ms:\n${pod.logTail()}`);
      await sleep(250);
    }
  }

  /** Consul DNS SRV answers for a service, from a server's DNS port ([] when there is none). */
  async srv(service: string, server: Pod = this.servers[0]): Promise<{ port: number; name: string }[]> {
    const resolver = new Resolver({ timeout: 2000, tries: 1 });
    resolver.setServers([`${server.address}:${CONSUL_PORTS.dns}`]);
    try {
      return await resolver.resolveSrv(`_${service}._tcp.service.${this.serverConfig().domain}`);
    } catch (error: any) {
      if (['ENOTFOUND', 'ENODATA'].includes(error.code)) return [];
      throw error;
    }
  }

  /** The addresses behind a service's SRV answers (Consul names an instance's address `<hex IPv4>.addr.<dc>.<domain>`). */
  async srvAddresses(service: string, server: Pod = this.servers[0]): Promise<string[]> {
    return (await this.srv(service, server)).map(({ name }) => {
      const hex = /^([0-9a-f]{8})\.addr\./.exec(name)?.[1];
      return hex ? [0, 2, 4, 6].map((i) => parseInt(hex.slice(i, i + 2), 16)).join('.') : name;
    }).sort();
  }

  async cleanup(): Promise<void> {
    await Promise.all([...this.servers, ...this.agents].map((pod) => pod.stop('SIGKILL')));
    rmSync(this.workDir, { recursive: true, force: true });
  }

  /** Everything the pods logged, for failure messages. */
  logs(): string {
    return [...this.servers, ...this.agents].map((p) => `=== ${p.name}\n${p.logTail()}`).join('\n');
  }

  private serverPod(i: number): Pod {
    const claimNames: string[] = this.generated.statefulSet.spec.volumeClaimTemplates.map((t: any) => t.metadata.name);
    const podName = `${this.generated.statefulSet.metadata.name}-${i}`;
    const claims = Object.fromEntries(claimNames.map((claim) => [claim, join(this.workDir, 'claims', `${claim}-${podName}`)]));
    return this.pod(podName, this.block.server(i), this.generated.statefulSet, claims);
  }

  private pod(name: string, address: string, workload: KubeObject, claims: Record<string, string> | undefined): Pod {
    const spec = workload.spec.template.spec;
    const container = { ...spec.containers[0], terminationGracePeriodSeconds: spec.terminationGracePeriodSeconds };
    return new Pod({
      name,
      address,
      container,
      volumes: [...(spec.volumes ?? []), ...Object.keys(claims ?? {}).map((claim) => ({ name: claim }))],
      configMaps: this.configMaps,
      secrets: this.secrets,
      claims,
      binDir: dirname(consulBinary()),
      // Inside a pod, 127.0.0.1 is the pod itself.
      rewrite: (value) => value.replaceAll('127.0.0.1', address).replaceAll('//localhost:', `//${address}:`),
      extraArgs: [`-bind=${address}`, `-client=${address}`, `-node=${name}`],
      shell: this.options.shell,
      workDir: this.workDir,
    });
  }

  /** 1.8.7's keys, and the servers' headless Service replaced by the servers' addresses. */
  private forLoopback(config: Record<string, any>): Record<string, any> {
    const loopback = forConsul187(config);
    const serverService = `${this.generated.statefulSet.spec.serviceName}.`;
    loopback.retry_join = (loopback.retry_join as string[]).flatMap((target) => {
      if (!target.startsWith(serverService)) throw new Error(`unexpected retry_join target ${target}`);
      const port = target.split(':')[1];
      return Array.from({ length: this.replicas }, (_, i) => `${this.block.server(i)}:${port}`);
    });
    return loopback;
  }
}
