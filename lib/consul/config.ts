import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { IConstruct } from 'constructs';
import { formatMs, invalid } from '../core/validation';

/** The Consul release servers, agents and registration sidecars run by default (pinned). */
export const DEFAULT_CONSUL_IMAGE = 'hashicorp/consul:1.20.6';

/** The ports Consul listens on (Consul's documented defaults). */
export const CONSUL_PORTS = {
  server: 8300,
  serfLan: 8301,
  serfWan: 8302,
  http: 8500,
  https: 8501,
  grpc: 8502,
  dns: 8600,
} as const;

/** Where the pods mount what Consul reads and writes. */
export const CONSUL_PATHS = {
  data: '/consul/data',
  config: '/consul/config',
  caFile: '/consul/tls/ca/ca.crt',
  certFile: '/consul/tls/cert/tls.crt',
  keyFile: '/consul/tls/cert/tls.key',
  /** The ACL tokens Secret, an optional volume read as a second config dir (empty until it exists). */
  aclDir: '/consul/acl',
  /** The ACL tokens fragment, in aclDir. */
  aclTokensFile: '/consul/acl/tokens.json',
  entrypoint: '/consul/entrypoint/consul-entrypoint.sh',
  /** Consul writes temporary files here, e.g. a server while it builds a snapshot. */
  tmp: '/tmp',
} as const;

/**
 * The containers' entrypoint (lib/consul/entrypoint.sh): runs Consul and reloads it when the
 * mounted ACL tokens or certificates change.
 */
export const CONSUL_ENTRYPOINT_SCRIPT = readFileSync(join(__dirname, 'entrypoint.sh'), 'utf8');

/**
 * ACL rules for the agents' `agent` token, the rules Consul documents for agent tokens: node
 * write to register and update their node (one shared token for the DaemonSet, so every
 * node name) and service read for what the agent looks up about services.
 */
export const CONSUL_AGENT_POLICY_RULES = 'node_prefix "" {\n  policy = "write"\n}\nservice_prefix "" {\n  policy = "read"\n}\n';

/**
 * Autopilot's reconcile interval (Consul's internal AutopilotInterval, 10s, not settable in
 * the agent configuration): a server that has been healthy for server_stabilization_time
 * becomes a voter at the next reconcile.
 */
const AUTOPILOT_INTERVAL_SECONDS = 10;

/**
 * The servers' StatefulSet `minReadySeconds`: a server is Ready ("a leader exists") seconds
 * after it rejoins, but votes only once autopilot promotes it, up to
 * server_stabilization_time plus one autopilot interval later. The rolling update must not
 * stop the next server before then, or the voters fall below quorum. One readiness period
 * more covers the probe that first saw it Ready.
 */
export function serverMinReadySeconds(serverStabilizationMs: number, readinessPeriodSeconds: number): number {
  return Math.ceil(serverStabilizationMs / 1000) + AUTOPILOT_INTERVAL_SECONDS + readinessPeriodSeconds;
}

/**
 * ACL rules that let DNS answer under `default_policy = "deny"`: Consul answers DNS with
 * the agent's `dns` (else `default`, else anonymous) token, which needs node and service
 * read. Create a policy from these rules and attach it to that token, for example
 * `consul acl policy create -name dns-read -rules @rules.hcl` then
 * `consul acl token update -id anonymous -policy-name dns-read` (or a dedicated token set
 * as `acl.tokens.dns` through `acl.tokensSecret`, which Consul recommends).
 */
export const CONSUL_DNS_READ_POLICY_RULES = 'node_prefix "" {\n  policy = "read"\n}\nservice_prefix "" {\n  policy = "read"\n}\n';

/** ACL rules of a metrics scraper's token: `/v1/agent/metrics` needs agent read. */
export const CONSUL_METRICS_READ_POLICY_RULES = 'agent_prefix "" {\n  policy = "read"\n}\n';

/**
 * ACL rules of the snapshot token. Consul authorizes `/v1/snapshot` with the `acl` resource
 * alone (a snapshot holds every token, so reading it is as powerful as managing ACLs): no
 * narrower rule works, `operator = "write"` is refused (checked against Consul 1.8.7 in
 * test/real/consul-snapshot.test.ts), and a management token is broader still. Create the
 * token with `consul acl policy create -name consul-snapshot -rules @rules.hcl` and
 * `consul acl token create -policy-name consul-snapshot`, and keep its Secret as closely
 * guarded as the bootstrap token.
 */
export const CONSUL_SNAPSHOT_POLICY_RULES = 'acl = "write"\n';

/** TLS settings after validation. */
export interface ResolvedConsulTls {
  /** Agents get their certificates from the servers (`auto_encrypt`) instead of a shared Secret. */
  readonly autoEncrypt: boolean;
  readonly verifyIncoming: boolean;
  readonly verifyOutgoing: boolean;
  readonly verifyServerHostname: boolean;
  readonly httpsOnly: boolean;
}

/** What the server and agent configurations share. */
export interface ConsulAgentConfigInputs {
  readonly datacenter: string;
  readonly domain: string;
  /** `host:port` of the servers' serf LAN (the headless Service). */
  readonly retryJoin: string;
  /** `reconnect_timeout`. */
  readonly reconnectTimeoutMs: number;
  /** ACLs on (with token persistence as given), or undefined for off. */
  readonly acl?: { readonly enableTokenPersistence: boolean };
  /** TLS on, or undefined for off. */
  readonly tls?: ResolvedConsulTls;
  /** Serve Prometheus metrics at `/v1/agent/metrics?format=prometheus`. */
  readonly prometheus: boolean;
  /** The agents' Service FQDN: clients verify an agent's HTTPS certificate against it. */
  readonly agentServiceHost: string;
}

/** What only servers need. */
export interface ConsulServerConfigInputs extends ConsulAgentConfigInputs {
  readonly bootstrapExpect: number;
  readonly replicas: number;
  readonly ui: boolean;
  readonly connect: boolean;
  readonly autopilot: {
    readonly cleanupDeadServers: boolean;
    readonly lastContactThresholdMs: number;
    readonly serverStabilizationTimeMs: number;
  };
}

/** Quorum of `servers` Raft voters: floor(n/2)+1. */
export function minQuorum(servers: number): number {
  return Math.floor(servers / 2) + 1;
}

/** The JSON configuration of a Consul server (loaded with `-config-dir`). */
export function serverConfig(inputs: ConsulServerConfigInputs): Record<string, unknown> {
  return {
    server: true,
    bootstrap_expect: inputs.bootstrapExpect,
    ...commonConfig({ ...inputs, server: true }),
    ports: { ...apiPorts(inputs.tls), dns: CONSUL_PORTS.dns, server: CONSUL_PORTS.server, serf_lan: CONSUL_PORTS.serfLan, serf_wan: CONSUL_PORTS.serfWan },
    autopilot: {
      // Autopilot stops pruning dead servers at quorum, so a bad node cannot shrink the cluster below it.
      min_quorum: minQuorum(inputs.replicas),
      cleanup_dead_servers: inputs.autopilot.cleanupDeadServers,
      last_contact_threshold: formatMs(inputs.autopilot.lastContactThresholdMs),
      server_stabilization_time: formatMs(inputs.autopilot.serverStabilizationTimeMs),
    },
    // Production Raft timing, as Consul's server performance guide recommends.
    performance: { raft_multiplier: 1 },
    ui_config: { enabled: inputs.ui },
    connect: { enabled: inputs.connect },
    // Servers sign each agent's certificate with the Connect CA, and trust it for RPC.
    ...(inputs.tls?.autoEncrypt ? { auto_encrypt: { allow_tls: true } } : {}),
  };
}

/**
 * The JSON configuration of a client agent. Its DNS interface is off: cluster DNS goes to
 * the servers through the `-dns` Service, so nothing would ever query an agent's 8600.
 */
export function agentConfig(inputs: ConsulAgentConfigInputs): Record<string, unknown> {
  return {
    server: false,
    ...commonConfig({ ...inputs, server: false }),
    ports: { ...apiPorts(inputs.tls), dns: -1, serf_lan: CONSUL_PORTS.serfLan },
    // The certificate the servers sign names the Service that registration sidecars call.
    ...(inputs.tls?.autoEncrypt ? { auto_encrypt: { tls: true, dns_san: [inputs.agentServiceHost] } } : {}),
  };
}

function commonConfig(inputs: ConsulAgentConfigInputs & { readonly server: boolean }): Record<string, unknown> {
  return {
    datacenter: inputs.datacenter,
    domain: inputs.domain,
    data_dir: CONSUL_PATHS.data,
    // Bind everywhere inside the pod; the pod IP is advertised with -advertise=$(POD_IP).
    bind_addr: '0.0.0.0',
    client_addr: '0.0.0.0',
    retry_join: [inputs.retryJoin],
    leave_on_terminate: true,
    reconnect_timeout: formatMs(inputs.reconnectTimeoutMs),
    // The NetworkPolicies allow no Internet egress; the check would only log failures.
    disable_update_check: true,
    acl: inputs.acl
      ? { enabled: true, default_policy: 'deny', down_policy: 'extend-cache', enable_token_persistence: inputs.acl.enableTokenPersistence }
      : { enabled: false },
    ...(inputs.tls ? { tls: tlsConfig(inputs.tls, inputs.server) } : {}),
    // Metrics are kept for Prometheus only when someone may scrape them; the hostname
    // prefix would make every pod's series names differ.
    ...(inputs.prometheus ? { telemetry: { prometheus_retention_time: '60s', disable_hostname: true } } : {}),
  };
}

function apiPorts(tls: ResolvedConsulTls | undefined): Record<string, number> {
  if (!tls) return { http: CONSUL_PORTS.http, https: -1, grpc: CONSUL_PORTS.grpc, grpc_tls: -1 };
  return { http: tls.httpsOnly ? -1 : CONSUL_PORTS.http, https: CONSUL_PORTS.https, grpc: -1, grpc_tls: CONSUL_PORTS.grpc };
}

function tlsConfig(tls: ResolvedConsulTls, server: boolean): Record<string, unknown> {
  // An auto_encrypt agent has no certificate file: it asks the servers for one at start.
  const files = server || !tls.autoEncrypt ? { cert_file: CONSUL_PATHS.certFile, key_file: CONSUL_PATHS.keyFile } : {};
  return {
    defaults: {
      ca_file: CONSUL_PATHS.caFile,
      ...files,
      verify_outgoing: tls.verifyOutgoing,
    },
    internal_rpc: { verify_incoming: tls.verifyIncoming, verify_server_hostname: tls.verifyServerHostname },
    // API callers authenticate with ACL tokens, not client certificates (as the official chart does).
    https: { verify_incoming: false },
    grpc: { verify_incoming: false },
  };
}

/** A configuration file as the ConfigMap stores it: stable key order, 2-space indent. */
export function renderConfig(config: Record<string, unknown>): string {
  return `${JSON.stringify(config, null, 2)}\n`;
}

/** sha256 of a rendered file, for the pod template annotation that rolls pods on change. */
export function configChecksum(content: string): string {
  return createHash('sha256').update(content).digest('hex');
}

/**
 * The readiness command: a leader exists (`/v1/status/leader` returns a quoted address),
 * exactly the official chart's check. `-k` only skips certificate checks on loopback: the
 * probe asks whether there is a leader, not who answers.
 */
export function leaderProbeCommand(tls: boolean): string[] {
  const url = tls
    ? `-k https://127.0.0.1:${CONSUL_PORTS.https}/v1/status/leader`
    : `http://127.0.0.1:${CONSUL_PORTS.http}/v1/status/leader`;
  return ['/bin/sh', '-ec', `curl -s ${url} | grep -E '".+"'`];
}

const IPV4_OCTET = '(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])';
const IPV4 = new RegExp(`^${IPV4_OCTET}(\\.${IPV4_OCTET}){3}$`);

/** A dotted-quad IPv4 address without leading zeros, as a Service `clusterIP` takes it. */
export function checkIpv4Address(scope: IConstruct | string, field: string, value: string): string {
  if (typeof value !== 'string' || !IPV4.test(value)) {
    invalid(scope, field, value, "must be an IPv4 address such as '10.96.0.53' (four decimal octets 0-255, no leading zeros)");
  }
  return value;
}
