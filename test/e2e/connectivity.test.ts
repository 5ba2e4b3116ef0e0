import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App } from 'cdk8s';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildExampleApp } from '../../examples/discovery-setup';
import { CONSUL_CLIENT_LABEL, ETCD_CLIENT_LABEL, KUBE_DNS_PEER, setClusterDns } from '../../lib';
import { binaryPath } from './support/binaries';
import {
  ConnectivityModel, PeerDraft, Verdict, allowedFlowKeys, connectivityModel, diffFlows, evaluateWithCyclonus, flowKey, loadManifests,
} from './support/connectivity';

/*
 * The NetworkPolicies of dist/ evaluated by cyclonus (github.com/mattfenwick/cyclonus, a real
 * NetworkPolicy analyzer): every flow between the workloads' representative pods, cluster DNS,
 * outsider probes and consul-k8s, on every declared port plus one nobody declares (`other`),
 * must be allowed exactly when the system needs it.
 */

const DIST = join(__dirname, '..', '..', 'dist');
const KUBE_DNS = 'kube-system/k8s-app=kube-dns';
const SERVERS = 'consul/consul-server';
const AGENTS = 'consul/consul-agent';
const ETCD = 'etcd/etcd';
const PAYMENT = 'production/payment-service';
const ORDER = 'production/order-service';
const USER = 'production/user-service';
const INVENTORY = 'mesh/inventory-service';
const CHECKOUT = 'mesh/checkout-service';
const CONSUL_SNAPSHOT = 'consul/consul-snapshot';
const ETCD_SNAPSHOT = 'etcd/etcd-snapshot';
// The bootstrap's CronJob, and its Job at deploy (named after a hash of its pod template).
const BOOTSTRAP = 'consul/consul-bootstrap';
const BOOTSTRAP_JOB = `consul/${/name: (consul-bootstrap-[0-9a-f]{8})\n/.exec(readFileSync(join(__dirname, '..', '..', 'dist', 'consul.k8s.yaml'), 'utf8'))?.[1]}`;
const WORKLOADS = [SERVERS, AGENTS, ETCD, PAYMENT, ORDER, USER, INVENTORY, CHECKOUT, CONSUL_SNAPSHOT, ETCD_SNAPSHOT, BOOTSTRAP, BOOTSTRAP_JOB];

// Probes for "nothing broader": pods of a namespace without policies, as anyone could create.
const OUTSIDER = 'elsewhere/unlabelled-pod';
const CONSUL_LABELLED = 'elsewhere/consul-client-labelled-pod';
const ETCD_LABELLED = 'elsewhere/etcd-client-labelled-pod';
const INTERNET = 'internet 203.0.113.10';
// consul-k8s's control plane (its pods carry app=consul) in the release namespace the example names.
const CONSUL_K8S = 'consul-k8s/app=consul';
// The API server endpoint the example's servers call for TokenReview (consul-k8s's Kubernetes auth method).
const API_SERVER = 'ipBlock 10.0.0.10/32';
// The example's Gateway data plane (Envoy Gateway's proxies for `edge`) and its external ledger database.
const GATEWAY = 'envoy-gateway-system/gateway.envoyproxy.io/owning-gateway-name=edge';
const LEDGER = ['ipBlock 192.0.2.20/32', 'ipBlock 192.0.2.21/32'];
// The platform's Prometheus, which the example lets scrape etcd's metrics.
const PROMETHEUS = 'monitoring/app.kubernetes.io/name=prometheus';

const elsewhere = (id: string, labels: Record<string, string>, origin: string): Omit<PeerDraft, 'workload'> => ({
  id, pod: { namespace: 'elsewhere', namespaceLabels: {}, labels }, ports: [], origin,
});
const EXTRA_PEERS: Omit<PeerDraft, 'workload'>[] = [
  elsewhere(OUTSIDER, { app: 'outsider' }, 'probe: any pod of another namespace'),
  elsewhere(CONSUL_LABELLED, { [CONSUL_CLIENT_LABEL]: 'consul' }, 'probe: any pod that labels itself a Consul client'),
  elsewhere(ETCD_LABELLED, { [ETCD_CLIENT_LABEL]: 'etcd' }, 'probe: any pod that labels itself an etcd client'),
  { id: INTERNET, ip: '203.0.113.10', ports: [{ port: 443, protocol: 'TCP' }], origin: 'probe: an address outside the cluster' },
];

/**
 * Findings: allowed flows broader than the system needs. Each is also in EXPECTED (the matrix
 * of today's dist/), marked with its id, so narrowing a policy shows up as a missing flow to drop.
 */
const FINDINGS = {
  F2: 'The client labels are self-asserted and cluster-wide (`namespaceSelector: {}`): any pod in any namespace that labels itself `discovery-kit.io/consul-client: consul` reaches the agents\' HTTP API; `discovery-kit.io/etcd-client: etcd` reaches etcd\'s client port. ACLs (default deny) and etcd client certificates are the only guard.',
  F3: "consul-agent admits Consul clients on gRPC 8502, but no pod of the system uses an agent's gRPC: registration sidecars use HTTP 8500 and mesh sidecars (consul-dataplane) go to the servers; in-system pods are kept off it only by their own egress.",
  F5: 'etcd members reach each other on the client port 2379 (for `etcdctl --cluster` inside a member, lib/etcd/network.ts); etcd itself needs only 2380 between members.',
} as const;
type FindingId = keyof typeof FINDINGS;

interface Need {
  readonly from: string;
  readonly to: string;
  readonly ports: readonly string[];
  readonly why: string;
  readonly finding?: FindingId;
}

const need = (from: string, to: string, ports: string[], why: string, finding?: FindingId): Need => ({ from, to, ports, why, finding });
const DNS = ['53/UDP', '53/TCP'];
const SERF_LAN = ['8301/TCP', '8301/UDP'];

/** Every flow today's dist/ allows, with why the system needs it (or the finding that says it does not). */
const EXPECTED: Need[] = [
  ...WORKLOADS.map((w) => need(w, KUBE_DNS, DNS, 'cluster DNS: every pod resolves Service names')),
  need(KUBE_DNS, SERVERS, ['8600/UDP', '8600/TCP'], 'DNS forwarding: CoreDNS forwards .consul to Consul DNS (consul-dns Service, served by the servers)'),
  need(SERVERS, SERVERS, ['8300/TCP', ...SERF_LAN, '8302/TCP', '8302/UDP'], 'Consul RPC (raft) and LAN and WAN gossip among servers'),
  need(AGENTS, SERVERS, ['8300/TCP', ...SERF_LAN], 'agents forward RPC to the servers and gossip with them'),
  need(SERVERS, AGENTS, SERF_LAN, 'LAN gossip: serf probes go both ways'),
  need(AGENTS, AGENTS, SERF_LAN, 'LAN gossip among agents'),
  need(PAYMENT, AGENTS, ['8500/TCP'], "registry: payment-service's sidecar registers with its node's agent (HTTP API)"),
  need(ORDER, AGENTS, ['8500/TCP'], "registry: order-service's sidecar registers, and order-service reads payment-service's registry"),
  need(AGENTS, PAYMENT, ['8080/TCP'], "health check: the agent's HTTP check of payment-service's readiness (http)"),
  need(AGENTS, ORDER, ['8080/TCP'], "health check: the agent's HTTP check of order-service's readiness (http)"),
  need(CONSUL_LABELLED, AGENTS, ['8500/TCP'], "any self-labelled pod to the agents' HTTP API", 'F2'),
  need(CONSUL_LABELLED, AGENTS, ['8502/TCP'], "any self-labelled pod to the agents' gRPC", 'F3'),
  need(ETCD, ETCD, ['2380/TCP'], 'etcd peers: raft on the peer port'),
  need(ETCD, ETCD, ['2379/TCP'], 'etcdctl --cluster inside a member', 'F5'),
  need(USER, ETCD, ['2379/TCP'], "registry: user-service's lease sidecar (etcd client API, mTLS)"),
  need(ETCD_LABELLED, ETCD, ['2379/TCP'], "any self-labelled pod to etcd's client port", 'F2'),
  need(ORDER, PAYMENT, ['8080/TCP'], 'binding: order-service discover()s payment-service (http)'),
  need(CHECKOUT, INVENTORY, ['20000/TCP'], "binding (mesh): checkout-service discover()s inventory-service, sidecar to sidecar on Envoy's public listener"),
  ...[INVENTORY, CHECKOUT].map((w) => need(w, SERVERS, ['8502/TCP', '8500/TCP'],
    "mesh control plane: consul-dataplane's xDS over gRPC; connect-init logs in over gRPC and polls the catalog over the HTTP API (consul-k8s connect-init/command.go)")),
  need(CONSUL_K8S, SERVERS, ['8502/TCP', '8500/TCP'], "consul-k8s's connect-injector and server-acl-init: catalog registration and config entries over the HTTP API, server discovery over gRPC"),
  need(SERVERS, API_SERVER, ['6443/TCP'], "consul-k8s's Kubernetes auth method: the servers review mesh pods' tokens with the API server"),
  need(GATEWAY, PAYMENT, ['8080/TCP'], "gateway: payment-service.exposeVia(edge): the Gateway's proxies reach the exposed port"),
  ...LEDGER.map((address) => need(ORDER, address, ['5432/TCP'], 'external binding: order-service discover()s the ledger-db ExternalService at its fixed addresses')),
  need(CONSUL_SNAPSHOT, SERVERS, ['8500/TCP'], "backup: the snapshot CronJob's `consul snapshot save` on the servers' HTTP API (admitted by its own ingress-only policy next to the servers)"),
  need(ETCD_SNAPSHOT, ETCD, ['2379/TCP'], "backup: the snapshot CronJob's `etcdctl snapshot save` on the client port (admitted under the client label)"),
  need(PROMETHEUS, ETCD, ['8080/TCP'], "metrics: the platform's Prometheus scrapes etcd's /metrics (metricsScrapers)"),
  ...[BOOTSTRAP, BOOTSTRAP_JOB].flatMap((b) => [
    need(b, SERVERS, ['8500/TCP'], "bootstrap: ACL bootstrap and tokens over the servers' HTTP API (admitted by its own ingress-only policy next to the servers)"),
    need(b, API_SERVER, ['6443/TCP'], 'bootstrap: writes the gossip key and token Secrets and lists token declarations through the API server'),
  ]),
];

/** Flows that must stay denied, whatever else changes. */
const MUST_DENY: { flow: string; why: string }[] = [
  { flow: `${PAYMENT} -> ${SERVERS} 8500/TCP`, why: "an app pod to the servers' HTTP API (ACL bootstrap)" },
  { flow: `${ORDER} -> ${SERVERS} 8500/TCP`, why: "a registering service goes through its agent, not the servers' HTTP API" },
  { flow: `${USER} -> ${PAYMENT} 8080/TCP`, why: 'a non-consumer to a service' },
  { flow: `${ORDER} -> ${PAYMENT} 9090/TCP`, why: 'a consumer only reaches the port it discovered (not metrics)' },
  { flow: `${PAYMENT} -> ${ORDER} 8080/TCP`, why: 'a binding is one-way' },
  { flow: `${INVENTORY} -> ${CHECKOUT} 20000/TCP`, why: 'a mesh binding is one-way' },
  { flow: `${CHECKOUT} -> ${INVENTORY} 8080/TCP`, why: "mesh consumers reach the sidecar, never the app's port" },
  { flow: `${PAYMENT} -> ${ETCD} 2379/TCP`, why: 'only etcd clients reach etcd' },
  { flow: `${OUTSIDER} -> ${PAYMENT} 8080/TCP`, why: 'an unrelated pod to a service' },
  { flow: `${OUTSIDER} -> ${AGENTS} 8500/TCP`, why: "an unlabelled pod to the agents' API" },
  { flow: `${OUTSIDER} -> ${SERVERS} 8301/UDP`, why: 'an unrelated pod into the gossip pool' },
  { flow: `${PAYMENT} -> ${INTERNET} 443/TCP`, why: 'no egress to the internet' },
  { flow: `${SERVERS} -> ${INTERNET} 443/TCP`, why: 'no egress to the internet (update checks are off)' },
  { flow: `${AGENTS} -> ${INVENTORY} 8080/TCP`, why: 'mesh services are agentless: no agent health checks' },
  { flow: `${AGENTS} -> ${USER} 8080/TCP`, why: 'the agents check only the services registered with them (user-service registers in etcd)' },
  { flow: `${AGENTS} -> ${PAYMENT} 9090/TCP`, why: "the agents reach a registered service on its check port only" },
  { flow: `${CONSUL_LABELLED} -> ${SERVERS} 8502/TCP`, why: 'a registering (non-mesh) pod never reaches the servers' },
  { flow: `${CONSUL_K8S} -> ${AGENTS} 8500/TCP`, why: 'consul-k8s talks to the servers only' },
  { flow: `${GATEWAY} -> ${PAYMENT} 9090/TCP`, why: 'the Gateway reaches only the exposed port (not metrics)' },
  { flow: `${GATEWAY} -> ${ORDER} 8080/TCP`, why: 'the Gateway reaches only exposed services' },
  { flow: `${PAYMENT} -> ${LEDGER[0]} 5432/TCP`, why: 'only the consumer of an external service reaches it' },
  { flow: `${CONSUL_SNAPSHOT} -> ${SERVERS} 8502/TCP`, why: "the snapshot Job is admitted to the servers' HTTP API only" },
  { flow: `${CONSUL_SNAPSHOT} -> ${AGENTS} 8500/TCP`, why: 'the snapshot Job talks to the servers only' },
  { flow: `${ETCD_SNAPSHOT} -> ${ETCD} 2380/TCP`, why: "the snapshot Job uses etcd's client port only" },
  { flow: `${BOOTSTRAP} -> ${SERVERS} 8502/TCP`, why: "the bootstrap is admitted to the servers' HTTP API only" },
  { flow: `${BOOTSTRAP} -> ${AGENTS} 8500/TCP`, why: 'the bootstrap talks to the servers only' },
  { flow: `${PAYMENT} -> ${API_SERVER} 6443/TCP`, why: 'app pods never reach the API server' },
  { flow: `${PROMETHEUS} -> ${ETCD} 2379/TCP`, why: "the scraper reads metrics, never etcd's data" },
];

const keysOf = (needs: readonly Need[]) => needs.flatMap((n) => n.ports.map((p) => `${n.from} -> ${n.to} ${p}`));

function verdictOf(verdicts: readonly Verdict[], key: string): boolean {
  const found = verdicts.find((v) => flowKey(v.flow) === key);
  if (!found) throw new Error(`${key} is not in the matrix: a peer or port is missing from the model`);
  return found.allowed;
}

function distObjects(): any[] {
  return loadManifests(readdirSync(DIST).filter((f) => f.endsWith('.k8s.yaml')).sort().map((f) => join(DIST, f)));
}

describe('the NetworkPolicies of dist/, evaluated by cyclonus', () => {
  let model: ConnectivityModel;
  let verdicts: Verdict[];

  beforeAll(() => {
    model = connectivityModel(distObjects(), { extraPeers: EXTRA_PEERS });
    verdicts = evaluateWithCyclonus(binaryPath('cyclonus'), model);
  });

  it('models one pod per workload of dist/, plus the peers the policies name (cluster DNS, consul-k8s, the API server)', () => {
    expect(model.peers.filter((p) => p.workload).map((p) => p.id).sort()).toEqual([...WORKLOADS].sort());
    const extraIds = new Set(EXTRA_PEERS.map((p) => p.id));
    expect(model.peers.filter((p) => !p.workload && !extraIds.has(p.id)).map((p) => p.id).sort()).toEqual([CONSUL_K8S, API_SERVER, KUBE_DNS, GATEWAY, PROMETHEUS, ...LEDGER].sort());
    // The mesh pods' injected sidecar listener is in the model although no container declares it.
    expect(model.peers.find((p) => p.id === INVENTORY)?.ports).toContainEqual({ port: 20000, protocol: 'TCP' });
  });

  it('allows exactly the flows the system needs (plus the findings), nothing else', () => {
    const { missing, extra } = diffFlows(allowedFlowKeys(verdicts), keysOf(EXPECTED));
    const why = new Map(EXPECTED.flatMap((n) => keysOf([n]).map((k) => [k, n.finding ? `finding ${n.finding}` : n.why])));
    expect({ missing: missing.map((k) => `${k}  (${why.get(k)})`), extra }, 'missing: in EXPECTED but denied; extra: allowed but not in EXPECTED')
      .toEqual({ missing: [], extra: [] });
  });

  it('denies the flows that must stay denied', () => {
    const allowed = MUST_DENY.filter((d) => verdictOf(verdicts, d.flow)).map((d) => `${d.flow} (${d.why})`);
    expect(allowed).toEqual([]);
  });

  it('gives every finding an allowed flow as evidence', () => {
    const marked = new Set(EXPECTED.flatMap((n) => (n.finding ? [n.finding] : [])));
    expect([...marked].sort()).toEqual(Object.keys(FINDINGS).sort());
  });

  it("sees a policy change: without order-service's egress to payment-service, exactly that binding is denied", () => {
    const policies = model.policies.map((p) => (p.metadata.name !== 'order-service' ? p : {
      ...p,
      spec: { ...p.spec, egress: p.spec.egress.filter((r: any) => !r.to.some((t: any) => t.podSelector?.matchLabels?.['app.kubernetes.io/name'] === 'payment-service')) },
    }));
    const changed = evaluateWithCyclonus(binaryPath('cyclonus'), { ...model, policies });
    expect(diffFlows(allowedFlowKeys(changed), allowedFlowKeys(verdicts))).toEqual({ missing: [`${ORDER} -> ${PAYMENT} 8080/TCP`], extra: [] });
  });
});

describe('setClusterDns with NodeLocal DNSCache (an ipBlock), evaluated by cyclonus', () => {
  const CACHE = 'ipBlock 169.254.20.10/32';

  it('lets every workload query the node-local cache and CoreDNS on 53, and the cache nothing else', () => {
    const app = new App();
    setClusterDns(app, { peers: [{ ipBlock: { cidr: '169.254.20.10/32' } }, KUBE_DNS_PEER] });
    buildExampleApp(app);
    const model = connectivityModel(app.charts.flatMap((c) => c.toJson()));
    expect(model.peers.find((p) => p.id === CACHE)?.ip).toBe('169.254.20.10');
    const verdicts = evaluateWithCyclonus(binaryPath('cyclonus'), model);
    const dnsFlows = allowedFlowKeys(verdicts).filter((k) => k.includes(CACHE) || k.includes(KUBE_DNS));
    expect(dnsFlows).toEqual([
      ...WORKLOADS.flatMap((w) => [CACHE, KUBE_DNS].flatMap((dns) => DNS.map((p) => `${w} -> ${dns} ${p}`))),
      // The policies admit the cache as a source of .consul forwarding too (see the report:
      // a hostNetwork cache's queries come from the node's address, not this one).
      `${CACHE} -> ${SERVERS} 8600/TCP`, `${CACHE} -> ${SERVERS} 8600/UDP`,
      `${KUBE_DNS} -> ${SERVERS} 8600/TCP`, `${KUBE_DNS} -> ${SERVERS} 8600/UDP`,
    ].sort());
  });
});
