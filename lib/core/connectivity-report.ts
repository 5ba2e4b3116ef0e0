import { App, Names } from 'cdk8s';
import { IConstruct } from 'constructs';
import { toKubeJson } from './kube-object';
import { clusterDnsEgress, DNS_REASON, PodNetworkPolicy } from './network-policy';

// The connectivity report: who may reach whom under an App's NetworkPolicies, on which port
// and why. It reads the synthesized policies (the graph the bindings rendered), not a second
// model, so a policy change is a one-line change of the report.

type Labels = Record<string, string>;
interface Port { readonly port: number; readonly protocol: string; readonly name?: string }
interface Pod { readonly id: string; readonly namespace: string; readonly labels: Labels; readonly ports: readonly Port[]; readonly chart: string }
interface Rule { readonly peers: readonly any[]; readonly ports?: readonly any[]; readonly why: string }
interface Policy { readonly namespace: string; readonly selector: Labels; readonly types: readonly string[]; readonly ingress: readonly Rule[]; readonly egress: readonly Rule[] }
interface Row { readonly from: string; readonly to: string; readonly port: string; readonly why: string; readonly charts: ReadonlySet<string> }

const NAMESPACE_NAME = 'kubernetes.io/metadata.name';
const TEMPLATES: Record<string, (o: any) => any> = {
  Deployment: (o) => o.spec.template, StatefulSet: (o) => o.spec.template, DaemonSet: (o) => o.spec.template,
  ReplicaSet: (o) => o.spec.template, Job: (o) => o.spec.template, CronJob: (o) => o.spec.jobTemplate.spec.template, Pod: (o) => o,
};

/**
 * The connectivity report of each chart of `app`, by file name (`<chart>.connectivity.md`,
 * next to `<chart>.k8s.yaml`): a Markdown table of every allowed flow from or to a workload
 * of the chart, between the app's workloads and the peers its NetworkPolicies name (cluster
 * DNS, gateways, registries, addresses), with the reasons of the rules that allow it.
 * Deterministic: sorted, no timestamps. Only `matchLabels` selectors are understood.
 */
export function connectivityReports(app: App): Record<string, string> {
  const objects = app.charts.flatMap((chart) => chart.toJson().map((o) => ({ o, scope: chart as IConstruct, chart: Names.toDnsLabel(chart) })));
  const namespaceLabels = (ns: string): Labels => ({
    ...(objects.find(({ o }) => o.kind === 'Namespace' && o.metadata.name === ns)?.o.metadata.labels ?? {}), [NAMESPACE_NAME]: ns,
  });
  const pods: Pod[] = objects.filter(({ o }) => TEMPLATES[o.kind]).map(({ o, chart }) => {
    const template = TEMPLATES[o.kind](o);
    const ns = o.metadata.namespace ?? 'default';
    const ports = (template.spec.containers ?? []).flatMap((c: any) => (c.ports ?? [])
      .map((p: any) => ({ port: p.containerPort, protocol: p.protocol ?? 'TCP', name: p.name })));
    return { id: `${ns}/${o.metadata.name}`, namespace: ns, labels: template.metadata?.labels ?? {}, ports, chart };
  });
  const policies = policiesOf(app, objects);
  const matches = (peer: any, policyNs: string, pod: Pod) => !peer.ipBlock
    && subset(labelsOf(peer.podSelector), pod.labels)
    && (peer.namespaceSelector ? subset(labelsOf(peer.namespaceSelector), namespaceLabels(pod.namespace)) : pod.namespace === policyNs);
  const selecting = (pod: Pod, type: string) => policies.filter((p) => p.namespace === pod.namespace && subset(p.selector, pod.labels) && p.types.includes(type));
  /** The reasons `pod`'s rules of `direction` give for `peer` on `port`; undefined when that direction is not isolated. */
  const allows = (pod: Pod, direction: 'ingress' | 'egress', peer: (rulePeer: any, policyNs: string) => boolean, port: Port): string[] | undefined => {
    const isolating = selecting(pod, direction === 'ingress' ? 'Ingress' : 'Egress');
    if (isolating.length === 0) return undefined;
    return isolating.flatMap((p) => p[direction].filter((r) => r.peers.some((x) => peer(x, p.namespace)) && portMatches(r.ports, port)).map((r) => r.why));
  };

  const rows: Row[] = [];
  const add = (from: string, to: string, port: string, why: Iterable<string>, charts: string[]) => {
    rows.push({ from, to, port, why: [...new Set(why)].sort().join('; '), charts: new Set(charts) });
  };
  for (const source of pods) {
    for (const target of pods) {
      for (const port of candidatePorts(target, policies)) {
        const egress = allows(source, 'egress', (x, ns) => matches(x, ns, target), port);
        const ingress = allows(target, 'ingress', (x, ns) => matches(x, ns, source), port);
        // Two unisolated ends would allow everything: the header lists such workloads instead.
        if ((egress === undefined && ingress === undefined) || egress?.length === 0 || ingress?.length === 0) continue;
        add(source.id, target.id, portText(port), [...(egress ?? []), ...(ingress ?? [])], [source.chart, target.chart]);
      }
    }
  }
  // Peers the policies name that are no workload of the app: they are not modelled, only the rule is.
  for (const pod of pods) {
    for (const direction of ['egress', 'ingress'] as const) {
      for (const policy of selecting(pod, direction === 'ingress' ? 'Ingress' : 'Egress')) {
        for (const rule of policy[direction]) {
          for (const peer of rule.peers.filter((x) => !pods.some((p) => matches(x, policy.namespace, p)))) {
            for (const port of rule.ports?.length ? rule.ports.map(rulePortText) : ['any']) {
              const [from, to] = direction === 'egress' ? [pod.id, peerText(peer, policy.namespace)] : [peerText(peer, policy.namespace), pod.id];
              add(from, to, port, [rule.why], [pod.chart]);
            }
          }
        }
      }
    }
  }
  const open = pods.filter((p) => selecting(p, 'Ingress').length === 0 || selecting(p, 'Egress').length === 0).map((p) => p.id);
  return Object.fromEntries(app.charts.map((chart) => {
    const name = Names.toDnsLabel(chart);
    return [`${name}.connectivity.md`, render(name, rows.filter((r) => r.charts.has(name)), open.filter((id) => pods.find((p) => p.id === id)!.chart === name))];
  }));
}

function policiesOf(app: App, objects: readonly { readonly o: any; readonly scope: IConstruct }[]): Policy[] {
  const reasons = new Map<string, PodNetworkPolicy['reasons']>();
  for (const c of app.node.findAll()) {
    if (c instanceof PodNetworkPolicy) reasons.set(`${c.policy.metadata.namespace}/${c.policy.name}`, c.reasons);
  }
  return objects.filter(({ o }) => o.kind === 'NetworkPolicy').map(({ o, scope }) => {
    const ns = o.metadata.namespace ?? 'default';
    const given = reasons.get(`${ns}/${o.metadata.name}`);
    const dns = JSON.stringify(toKubeJson(clusterDnsEgress(scope), 'NetworkPolicyEgressRule'));
    const why = (list: readonly string[] | undefined, rule: any, i: number) => list?.[i]
      ?? (JSON.stringify(rule) === dns ? DNS_REASON : `NetworkPolicy ${ns}/${o.metadata.name}`);
    const ingressWhy = given?.ingress?.();
    const egressWhy = given?.egress?.();
    return {
      namespace: ns,
      selector: labelsOf(o.spec.podSelector),
      types: o.spec.policyTypes ?? ['Ingress'],
      ingress: (o.spec.ingress ?? []).map((r: any, i: number) => ({ peers: r.from ?? [{ namespaceSelector: {} }], ports: r.ports, why: why(ingressWhy, r, i) })),
      egress: (o.spec.egress ?? []).map((r: any, i: number) => ({ peers: r.to ?? [{ namespaceSelector: {} }], ports: r.ports, why: why(egressWhy, r, i) })),
    };
  });
}

function labelsOf(selector: any): Labels {
  if (selector?.matchExpressions?.length) throw new Error('connectivityReports: selectors with matchExpressions are not supported');
  return selector?.matchLabels ?? {};
}

const subset = (wanted: Labels, labels: Labels) => Object.entries(wanted).every(([k, v]) => labels[k] === v);

/** A workload's container ports, and the numeric ports rules name for it (e.g. an injected sidecar's). */
function candidatePorts(pod: Pod, policies: readonly Policy[]): Port[] {
  const named = policies.filter((p) => p.namespace === pod.namespace && subset(p.selector, pod.labels))
    .flatMap((p) => p.ingress.flatMap((r) => r.ports ?? []))
    .filter((p: any) => typeof p.port === 'number' && !pod.ports.some((q) => q.port === p.port && q.protocol === (p.protocol ?? 'TCP')))
    .map((p: any) => ({ port: p.port, protocol: p.protocol ?? 'TCP' }));
  const unique = new Map([...pod.ports, ...named].map((p) => [portText(p), p]));
  return [...unique.values()];
}

function portMatches(rulePorts: readonly any[] | undefined, port: Port): boolean {
  if (!rulePorts?.length) return true;
  return rulePorts.some((p) => (p.protocol ?? 'TCP') === port.protocol && (p.port === undefined || p.port === port.port
    || (port.name !== undefined && p.port === port.name) || (typeof p.port === 'number' && p.endPort !== undefined && port.port >= p.port && port.port <= p.endPort)));
}

const portText = (p: Port) => `${p.port}/${p.protocol}`;
const rulePortText = (p: any) => `${p.port ?? 'any'}${p.endPort ? `-${p.endPort}` : ''}/${p.protocol ?? 'TCP'}`;

function peerText(peer: any, policyNs: string): string {
  if (peer.ipBlock) return `ipBlock ${peer.ipBlock.cidr}${peer.ipBlock.except?.length ? ` except ${peer.ipBlock.except.join(', ')}` : ''}`;
  const ns = labelsOf(peer.namespaceSelector);
  const where = !peer.namespaceSelector ? policyNs
    : Object.keys(ns).length === 0 ? 'any namespace'
      : Object.keys(ns).length === 1 && ns[NAMESPACE_NAME] ? ns[NAMESPACE_NAME] : `namespaces ${labelText(ns)}`;
  return `${where}/${labelText(labelsOf(peer.podSelector)) || 'any pod'}`;
}

const labelText = (labels: Labels) => Object.entries(labels).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k}=${v}`).join(',');

function render(chart: string, rows: readonly Row[], open: readonly string[]): string {
  const sorted = [...rows].sort((a, b) => a.from.localeCompare(b.from) || a.to.localeCompare(b.to) || a.port.localeCompare(b.port, 'en', { numeric: true }));
  return [
    `# Connectivity of chart \`${chart}\``,
    '',
    'Every flow the NetworkPolicies allow from or to a workload of this chart, and why (generated with',
    "discovery-kit's `connectivityReports`; regenerate, never edit). Peers that are no workload of the app",
    "are shown as the policies name them; their own policies are not known here.",
    '',
    ...(open.length ? [`Not isolated in both directions (anything may reach them or they anything): ${open.join(', ')}.`, ''] : []),
    '| From | To | Port | Why |',
    '| --- | --- | --- | --- |',
    ...sorted.map((r) => `| ${r.from} | ${r.to} | ${r.port} | ${r.why.replace(/\|/g, '\\|')} |`),
    '',
  ].join('\n');
}
