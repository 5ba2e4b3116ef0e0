import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Yaml } from 'cdk8s';
import type { KubeObject } from '../../support/schema';

/**
 * The connectivity model of a set of manifests: who may reach whom under their NetworkPolicies.
 *
 *   const model = connectivityModel(objects, { extraPeers });
 *   const verdicts = evaluateWithCyclonus(cyclonusPath, model);
 *
 * Peers are one representative pod per workload template (its labels, namespace and the
 * namespace's labels, container ports) plus the peers the policies refer to that the manifests
 * do not define (cluster DNS in kube-system, ipBlock addresses). Every flow from a peer to a
 * port another peer listens on, plus a port nobody declares (`other`, which only an all-ports
 * rule admits), is a candidate; cyclonus decides each with both directions' policies.
 */

export type Protocol = 'TCP' | 'UDP' | 'SCTP';
type Labels = Record<string, string>;

export interface PeerPort {
  /** A port number, or `other`: a port no container declares and no policy names. */
  readonly port: number | 'other';
  readonly protocol: Protocol;
  /** The container port's name (named ports in policies match it). */
  readonly name?: string;
}

export interface PodIdentity {
  readonly namespace: string;
  readonly namespaceLabels: Labels;
  readonly labels: Labels;
}

/** A sender or receiver of traffic: a representative pod, or an address outside the cluster. */
export interface Peer {
  /** `<namespace>/<workload>` for workloads; a description for the others. */
  readonly id: string;
  /** Absent for an address outside the cluster (an ipBlock peer). */
  readonly pod?: PodIdentity;
  readonly ip: string;
  /** What it listens on. */
  readonly ports: readonly PeerPort[];
  /** A workload of the manifests: every flow in the matrix has one at least at one end. */
  readonly workload: boolean;
  /** Why the peer is in the model. */
  readonly origin: string;
}

/** A peer before pods get their addresses (addresses outside the cluster come with their ip). */
export type PeerDraft = Omit<Peer, 'ip'> & { readonly ip?: string };

export interface Flow {
  readonly from: string;
  readonly to: string;
  readonly port: number | 'other';
  readonly protocol: Protocol;
}

export interface ConnectivityModel {
  readonly peers: readonly Peer[];
  readonly policies: readonly KubeObject[];
  /** The number cyclonus is asked about for `other` (checked to be named by no policy). */
  readonly otherPort: number;
}

/** `from -> to port/protocol`: how flows are compared and printed. */
export function flowKey(flow: Flow): string {
  return `${flow.from} -> ${flow.to} ${flow.port}/${flow.protocol}`;
}

/** Every object of the given multi-document YAML files, in order. */
export function loadManifests(files: readonly string[]): KubeObject[] {
  return files.flatMap((file) => Yaml.load(file)).filter((o) => o);
}

// consul-k8s's connect-inject adds a consul-dataplane sidecar whose Envoy public listener
// (ProxyDefaultInboundPort) is not declared as a container port: mesh peers connect to it.
const CONNECT_INJECT_ANNOTATION = 'consul.hashicorp.com/connect-inject';
const MESH_PUBLIC_LISTENER: PeerPort = { port: 20000, protocol: 'TCP' };

const POD_TEMPLATES: Record<string, (o: KubeObject) => any> = {
  Pod: (o) => o,
  Deployment: (o) => o.spec.template,
  StatefulSet: (o) => o.spec.template,
  DaemonSet: (o) => o.spec.template,
  ReplicaSet: (o) => o.spec.template,
  Job: (o) => o.spec.template,
  CronJob: (o) => o.spec.jobTemplate.spec.template,
};

const NAMESPACE_NAME_LABEL = 'kubernetes.io/metadata.name';

/** A namespace's labels as the API server sets them: its own plus its immutable name label. */
function namespaceLabels(objects: readonly KubeObject[], namespace: string): Labels {
  const ns = objects.find((o) => o.kind === 'Namespace' && o.metadata.name === namespace);
  return { ...(ns?.metadata.labels ?? {}), [NAMESPACE_NAME_LABEL]: namespace };
}

/** One representative pod per workload template. */
function workloadPeers(objects: readonly KubeObject[]): PeerDraft[] {
  return objects.filter((o) => POD_TEMPLATES[o.kind]).map((o) => {
    const template = POD_TEMPLATES[o.kind](o);
    const namespace = o.metadata.namespace ?? 'default';
    const spec = template.spec;
    // Sidecars declared as restartable init containers listen like containers.
    const containers = [...spec.containers, ...(spec.initContainers ?? []).filter((c: any) => c.restartPolicy === 'Always')];
    const ports: PeerPort[] = containers.flatMap((c: any) => (c.ports ?? []).map((p: any) => ({
      port: p.containerPort, protocol: p.protocol ?? 'TCP', ...(p.name ? { name: p.name } : {}),
    })));
    if (template.metadata?.annotations?.[CONNECT_INJECT_ANNOTATION] === 'true') ports.push(MESH_PUBLIC_LISTENER);
    return {
      id: `${namespace}/${o.metadata.name}`,
      pod: { namespace, namespaceLabels: namespaceLabels(objects, namespace), labels: template.metadata?.labels ?? {} },
      ports,
      workload: true,
      origin: `${o.kind} ${namespace}/${o.metadata.name}`,
    };
  });
}

function matchLabelsOf(selector: any, what: string): Labels {
  if (selector?.matchExpressions?.length) {
    throw new Error(`${what} uses matchExpressions: the connectivity model derives peers from matchLabels only`);
  }
  return selector?.matchLabels ?? {};
}

const isSubset = (wanted: Labels, labels: Labels) => Object.entries(wanted).every(([k, v]) => labels[k] === v);

function portsOf(rule: any): PeerPort[] {
  return (rule.ports ?? []).filter((p: any) => typeof p.port === 'number')
    .map((p: any) => ({ port: p.port, protocol: p.protocol ?? 'TCP' }));
}

function ipv4(address: string, cidr: string): number {
  const octets = address.split('.').map(Number);
  if (octets.length !== 4 || octets.some((o) => !(o >= 0 && o <= 255))) throw new Error(`ipBlock ${cidr}: only IPv4 is modelled`);
  return octets.reduce((acc, o) => acc * 256 + o, 0);
}

/** The first and last address of an IPv4 CIDR. */
function range(cidr: string): [number, number] {
  const [address, bits = '32'] = cidr.split('/');
  const size = 2 ** (32 - Number(bits));
  const first = ipv4(address, cidr) - (ipv4(address, cidr) % size);
  return [first, first + size - 1];
}

/** An address of `cidr` outside its exceptions: a host address where the block has them. */
function addressIn(cidr: string, except: readonly string[] = []): string {
  const [first, last] = range(cidr);
  const candidates = last - first > 1 ? [first + 1, last - 1, first + Math.floor((last - first) / 2)] : [first, last];
  const outside = candidates.find((a) => except.every((e) => { const [f, l] = range(e); return a < f || a > l; }));
  if (outside === undefined) throw new Error(`ipBlock ${cidr}: no address to model outside its exceptions ${except.join(', ')}`);
  return [24, 16, 8, 0].map((shift) => Math.floor(outside / 2 ** shift) % 256).join('.');
}

/**
 * The peers the policies name that no workload of the manifests is: a pod with exactly the
 * selected labels in the selected namespace (e.g. cluster DNS, `k8s-app: kube-dns` in
 * kube-system), and an address of each ipBlock (and of each of its exceptions). They listen on
 * the ports the egress rules toward them name.
 */
function referencedPeers(policies: readonly KubeObject[], known: readonly PeerDraft[], objects: readonly KubeObject[]): PeerDraft[] {
  const found = new Map<string, PeerDraft & { ports: PeerPort[] }>();
  const add = (peer: Omit<PeerDraft, 'ports'>, ports: PeerPort[]) => {
    const entry = found.get(peer.id) ?? { ...peer, ports: [] };
    for (const p of ports) if (!entry.ports.some((q) => q.port === p.port && q.protocol === p.protocol)) entry.ports.push(p);
    found.set(peer.id, entry);
  };
  for (const policy of policies) {
    const policyNamespace = policy.metadata.namespace ?? 'default';
    const where = `NetworkPolicy ${policyNamespace}/${policy.metadata.name}`;
    const rules = [
      ...(policy.spec.ingress ?? []).map((r: any) => ({ peers: r.from ?? [], ports: [] as PeerPort[] })),
      ...(policy.spec.egress ?? []).map((r: any) => ({ peers: r.to ?? [], ports: portsOf(r) })),
    ];
    for (const rule of rules) {
      for (const peer of rule.peers) {
        if (peer.ipBlock) {
          const { cidr, except = [] } = peer.ipBlock;
          add({ id: `ipBlock ${cidr}`, ip: addressIn(cidr, except), workload: false, origin: `ipBlock of ${where}` }, rule.ports);
          for (const e of except) {
            add({ id: `ipBlock ${cidr} except ${e}`, ip: addressIn(e), workload: false, origin: `ipBlock exception of ${where}` }, rule.ports);
          }
          continue;
        }
        const podLabels = matchLabelsOf(peer.podSelector, where);
        const nsLabels: Labels = peer.namespaceSelector ? matchLabelsOf(peer.namespaceSelector, where) : { [NAMESPACE_NAME_LABEL]: policyNamespace };
        const matchesKnown = known.some((k) => k.pod && isSubset(podLabels, k.pod.labels) && isSubset(nsLabels, k.pod.namespaceLabels));
        if (matchesKnown) continue;
        const namespace = nsLabels[NAMESPACE_NAME_LABEL] ?? 'selected-namespace';
        const labelText = Object.entries(podLabels).map(([k, v]) => `${k}=${v}`).join(',') || 'any-pod';
        add({
          id: `${namespace}/${labelText}`,
          pod: { namespace, namespaceLabels: { ...namespaceLabels(objects, namespace), ...nsLabels }, labels: podLabels },
          workload: false,
          origin: `selected by ${where}`,
        }, rule.ports);
      }
    }
  }
  return [...found.values()];
}

/** A port number that no policy rule names or covers with endPort, to stand for `other`. */
function pickOtherPort(policies: readonly KubeObject[]): number {
  const rules = policies.flatMap((p) => [...(p.spec.ingress ?? []), ...(p.spec.egress ?? [])]);
  const named = rules.flatMap((r: any) => r.ports ?? []).filter((p: any) => typeof p.port === 'number');
  for (let candidate = 65535; candidate > 49151; candidate--) {
    if (!named.some((p: any) => candidate >= p.port && candidate <= (p.endPort ?? p.port))) return candidate;
  }
  throw new Error('every port from 49152 to 65535 is named by a NetworkPolicy: no port is left to stand for `other`');
}

export interface ModelOptions {
  /** Peers the caller adds, e.g. probes for what an outsider may reach. */
  readonly extraPeers?: readonly Omit<PeerDraft, 'workload'>[];
}

/** The peers and policies of a set of manifests; pods get addresses in 10.244.0.0/16. */
export function connectivityModel(objects: readonly KubeObject[], options: ModelOptions = {}): ConnectivityModel {
  const policies = objects.filter((o) => o.kind === 'NetworkPolicy');
  const workloads = workloadPeers(objects);
  // Extra pods get their namespace's labels as the manifests and the API server set them.
  const extra = (options.extraPeers ?? []).map((p): PeerDraft => ({
    ...p,
    ...(p.pod ? { pod: { ...p.pod, namespaceLabels: { ...namespaceLabels(objects, p.pod.namespace), ...p.pod.namespaceLabels } } } : {}),
    workload: false,
  }));
  const referenced = referencedPeers(policies, [...workloads, ...extra], objects);
  let next = 0;
  const peers = [...workloads, ...referenced, ...extra].map((p): Peer => {
    if (p.ip) return { ...p, ip: p.ip };
    if (!p.pod) throw new Error(`peer ${p.id} is neither a pod nor an address`);
    next++;
    return { ...p, ip: `10.244.${Math.floor(next / 256)}.${next % 256}` };
  });
  const ids = new Set<string>();
  for (const p of peers) {
    if (ids.has(p.id)) throw new Error(`two peers are named ${p.id}`);
    ids.add(p.id);
  }
  return { peers, policies, otherPort: pickOtherPort(policies) };
}

const OTHER_PORTS: PeerPort[] = [{ port: 'other', protocol: 'TCP' }, { port: 'other', protocol: 'UDP' }];

/** Every flow the matrix decides: each peer to each port of each peer (itself included), one end a workload. */
export function candidateFlows(model: ConnectivityModel): { flow: Flow; from: Peer; to: Peer; port: PeerPort }[] {
  return model.peers.flatMap((from) => model.peers
    .filter((to) => (from.workload || to.workload) && (from.pod || to.pod))
    .flatMap((to) => [...to.ports, ...OTHER_PORTS].map((port) => ({
      flow: { from: from.id, to: to.id, port: port.port, protocol: port.protocol },
      from, to, port,
    }))));
}

export interface Verdict {
  readonly flow: Flow;
  readonly allowed: boolean;
}

/** cyclonus's traffic peer (matcher.TrafficPeer): a pod or an IP outside the cluster. */
interface TrafficPeer {
  readonly Internal?: { readonly PodLabels: Labels; readonly NamespaceLabels: Labels; readonly Namespace: string };
  readonly IP: string;
}

function trafficPeer(peer: Peer): TrafficPeer {
  return peer.pod
    ? { Internal: { PodLabels: peer.pod.labels, NamespaceLabels: peer.pod.namespaceLabels, Namespace: peer.pod.namespace }, IP: peer.ip }
    : { IP: peer.ip };
}

/**
 * Decides every candidate flow with cyclonus (`analyze --mode query-traffic`): a flow is allowed
 * when the source's egress policies and the destination's ingress policies both admit it.
 */
export function evaluateWithCyclonus(cyclonus: string, model: ConnectivityModel): Verdict[] {
  const candidates = candidateFlows(model);
  const traffic = candidates.map(({ from, to, port }) => ({
    Source: trafficPeer(from),
    Destination: trafficPeer(to),
    ResolvedPort: port.port === 'other' ? model.otherPort : port.port,
    ResolvedPortName: port.name ?? '',
    Protocol: port.protocol,
  }));
  const dir = mkdtempSync(join(tmpdir(), 'dk-connectivity-'));
  try {
    const policyPath = join(dir, 'policies.json');
    const trafficPath = join(dir, 'traffic.json');
    writeFileSync(policyPath, JSON.stringify({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicyList', items: model.policies }));
    writeFileSync(trafficPath, JSON.stringify(traffic));
    // Policies as written: cyclonus's optional simplification rewrites port sets (its own TODOs say not every case).
    const args = ['analyze', '--mode', 'query-traffic', '--simplify-policies=false', '--policy-path', policyPath, '--traffic-path', trafficPath];
    const result = spawnSync(cyclonus, args, {
      encoding: 'utf8', maxBuffer: 512 * 1024 * 1024,
    });
    if (result.status !== 0) {
      throw new Error(`cyclonus analyze failed (${result.error?.message ?? `exit status ${result.status ?? result.signal}`}):\n${result.stderr}`);
    }
    const allowed = parseQueryTraffic(result.stdout, traffic.map((t) => ({
      source: t.Source.IP, destination: t.Destination.IP, port: t.ResolvedPort, protocol: t.Protocol,
    })));
    return candidates.map(({ flow }, i) => ({ flow, allowed: allowed[i] }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** What a verdict is about, as cyclonus prints it back: addresses, port number, protocol. */
export interface AskedTraffic {
  readonly source: string;
  readonly destination: string;
  readonly port: number;
  readonly protocol: Protocol;
}

/**
 * The verdicts of `cyclonus analyze --mode query-traffic`, in traffic order. Per traffic it
 * prints the traffic as a table (`<port> (<name>) on <protocol>`, a source row and a destination
 * row with their IPs) and a verdict table whose footer reads `IS ALLOWED? | TRUE` or `FALSE`.
 * Each answer is checked against what was asked, so a change of format fails loudly instead of
 * shifting verdicts.
 */
export function parseQueryTraffic(stdout: string, asked: readonly AskedTraffic[]): boolean[] {
  const blocks = stdout.split(/^Traffic:$/m).slice(1);
  if (blocks.length !== asked.length) {
    throw new Error(`cyclonus answered ${blocks.length} traffics, ${asked.length} were asked:\n${stdout.slice(0, 2000)}`);
  }
  return blocks.map((block, i) => {
    const [trafficTable, verdictTable = ''] = block.split(/^Is traffic allowed\?$/m);
    const want = asked[i];
    const cell = (role: string) => new RegExp(`\\| *${role} *\\| *([^| ]*) *\\|`).exec(trafficTable)?.[1];
    const portProtocol = /\| *(\d+) \([^)]*\) on (\w+) *\|/.exec(trafficTable);
    const source = cell('source');
    // The table merges equal cells down a column: a destination with the source's IP prints blank.
    const destination = cell('destination') || source;
    if (source !== want.source || destination !== want.destination || Number(portProtocol?.[1]) !== want.port || portProtocol?.[2] !== want.protocol) {
      throw new Error(`cyclonus's answer ${i} is not about ${JSON.stringify(want)}:\n${block}`);
    }
    const verdict = /IS ALLOWED\? *\| *(TRUE|FALSE) *\|/.exec(verdictTable)?.[1];
    if (!verdict) throw new Error(`no verdict in cyclonus's answer ${i}:\n${block}`);
    return verdict === 'TRUE';
  });
}

/** The allowed flows, as sorted keys. */
export function allowedFlowKeys(verdicts: readonly Verdict[]): string[] {
  return verdicts.filter((v) => v.allowed).map((v) => flowKey(v.flow)).sort();
}

/** What is allowed but not expected (`extra`) and expected but denied (`missing`). */
export function diffFlows(allowed: readonly string[], expected: readonly string[]): { missing: string[]; extra: string[] } {
  const a = new Set(allowed);
  const e = new Set(expected);
  return {
    missing: [...e].filter((k) => !a.has(k)).sort(),
    extra: [...a].filter((k) => !e.has(k)).sort(),
  };
}
