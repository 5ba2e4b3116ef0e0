import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../support/schema';
import { binaryPath } from './support/binaries';
import { allowedFlowKeys, connectivityModel, evaluateWithCyclonus, parseQueryTraffic } from './support/connectivity';

/* The connectivity model's derivation (test/e2e/support/connectivity.ts) on small hand-written manifests. */

const deployment = (namespace: string, name: string, template: { labels: Record<string, string>; annotations?: Record<string, string>; spec: object }): KubeObject => ({
  apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, namespace },
  spec: { template: { metadata: { labels: template.labels, annotations: template.annotations }, spec: template.spec } },
});

const policy = (namespace: string, name: string, podSelector: Record<string, string>, spec: object): KubeObject => ({
  apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name, namespace },
  spec: { podSelector: { matchLabels: podSelector }, policyTypes: ['Ingress', 'Egress'], ...spec },
});

const api = deployment('shop', 'api', {
  labels: { app: 'api' },
  annotations: { 'consul.hashicorp.com/connect-inject': 'true' },
  spec: {
    containers: [{ name: 'api', ports: [{ name: 'http', containerPort: 8080 }, { containerPort: 5353, protocol: 'UDP' }] }],
    initContainers: [
      { name: 'setup', ports: [{ containerPort: 1111 }] },
      { name: 'proxy', restartPolicy: 'Always', ports: [{ name: 'proxy', containerPort: 15000 }] },
    ],
  },
});

describe('connectivityModel', () => {
  it('gives a workload the ports of its containers, restartable init containers and injected mesh sidecar', () => {
    const [peer] = connectivityModel([api]).peers;
    expect(peer).toMatchObject({ id: 'shop/api', workload: true, pod: { namespace: 'shop', labels: { app: 'api' }, namespaceLabels: { 'kubernetes.io/metadata.name': 'shop' } } });
    expect(peer.ports).toEqual([
      { port: 8080, protocol: 'TCP', name: 'http' }, { port: 5353, protocol: 'UDP' }, { port: 15000, protocol: 'TCP', name: 'proxy' }, { port: 20000, protocol: 'TCP' },
    ]);
  });

  it('adds the pods and addresses the policies name that the manifests lack, listening on the egress ports', () => {
    const model = connectivityModel([api, policy('shop', 'api', { app: 'api' }, {
      egress: [
        { to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'db' } }, podSelector: { matchLabels: { role: 'primary' } } }], ports: [{ port: 5432 }] },
        { to: [{ ipBlock: { cidr: '10.0.0.0/8', except: ['10.0.0.0/24'] } }], ports: [{ port: 443, protocol: 'TCP' }] },
        // A pod the manifests define is not added again.
        { to: [{ podSelector: { matchLabels: { app: 'api' } } }] },
      ],
      ingress: [{ from: [{ podSelector: { matchLabels: { role: 'client' } } }] }],
    })]);
    expect(model.peers.map((p) => [p.id, p.ip, p.ports])).toEqual([
      ['shop/api', '10.244.0.1', expect.any(Array)],
      ['shop/role=client', '10.244.0.2', []],
      ['db/role=primary', '10.244.0.3', [{ port: 5432, protocol: 'TCP' }]],
      ['ipBlock 10.0.0.0/8', '10.255.255.254', [{ port: 443, protocol: 'TCP' }]],
      ['ipBlock 10.0.0.0/8 except 10.0.0.0/24', '10.0.0.1', [{ port: 443, protocol: 'TCP' }]],
    ]);
  });

  it('refuses selectors it cannot turn into a pod', () => {
    expect(() => connectivityModel([policy('shop', 'p', { app: 'api' }, {
      ingress: [{ from: [{ podSelector: { matchExpressions: [{ key: 'app', operator: 'Exists' }] } }] }],
    })])).toThrow(/matchExpressions/);
  });

  it("picks for `other` a port no rule names or covers with endPort", () => {
    const model = connectivityModel([policy('shop', 'p', { app: 'api' }, {
      ingress: [{ ports: [{ port: 65000, endPort: 65535 }] }],
    })]);
    expect(model.otherPort).toBe(64999);
  });
});

describe('parseQueryTraffic', () => {
  const answer = (port: string, source: string, destination: string, allowed: string) => [
    'Traffic:',
    '+---------------+-------------+----------+',
    `| ${port} | source      | ${source} |`,
    `|               | destination | ${destination} |`,
    '+---------------+-------------+----------+',
    '',
    'Is traffic allowed?',
    `| IS ALLOWED? |  ${allowed}  |                 `,
    '',
  ].join('\n');

  it('reads verdicts in order, a blank destination cell meaning the source IP', () => {
    const stdout = `query traffic:\n${answer('80 (http) on TCP', '10.0.0.1', '10.0.0.2', 'TRUE')}${answer('53 () on UDP', '10.0.0.1', '        ', 'FALSE')}`;
    expect(parseQueryTraffic(stdout, [
      { source: '10.0.0.1', destination: '10.0.0.2', port: 80, protocol: 'TCP' },
      { source: '10.0.0.1', destination: '10.0.0.1', port: 53, protocol: 'UDP' },
    ])).toEqual([true, false]);
  });

  it('fails on an answer about other traffic than asked, or a missing answer', () => {
    const stdout = answer('80 () on TCP', '10.0.0.1', '10.0.0.2', 'TRUE');
    expect(() => parseQueryTraffic(stdout, [{ source: '10.0.0.1', destination: '10.0.0.2', port: 80, protocol: 'UDP' }])).toThrow(/not about/);
    expect(() => parseQueryTraffic(stdout, [])).toThrow(/answered 1 traffics, 0 were asked/);
  });
});

describe('evaluateWithCyclonus', () => {
  it('applies ipBlock exceptions, UDP, named ports and both directions as Kubernetes does', () => {
    const web = deployment('shop', 'web', { labels: { app: 'web' }, spec: { containers: [{ name: 'web', ports: [{ name: 'http', containerPort: 8080 }] }] } });
    const dns = deployment('shop', 'dns', { labels: { app: 'dns' }, spec: { containers: [{ name: 'dns', ports: [{ name: 'dns', containerPort: 5353, protocol: 'UDP' }] }] } });
    const model = connectivityModel([api, web, dns,
      policy('shop', 'api', { app: 'api' }, {
        egress: [
          { to: [{ ipBlock: { cidr: '10.0.0.0/8', except: ['10.0.0.0/24'] } }], ports: [{ port: 443 }] },
          { to: [{ podSelector: { matchLabels: { app: 'web' } } }], ports: [{ port: 'http' }] },
          { to: [{ podSelector: { matchLabels: { app: 'dns' } } }], ports: [{ port: 5353, protocol: 'UDP' }] },
        ],
        ingress: [],
      }),
      // web admits api on its named port; dns admits nobody, so api's egress alone is not enough.
      policy('shop', 'web', { app: 'web' }, { ingress: [{ from: [{ podSelector: { matchLabels: { app: 'api' } } }], ports: [{ port: 'http' }] }], egress: [] }),
      policy('shop', 'dns', { app: 'dns' }, { ingress: [], egress: [] }),
    ]);
    expect(allowedFlowKeys(evaluateWithCyclonus(binaryPath('cyclonus'), model))).toEqual([
      'shop/api -> ipBlock 10.0.0.0/8 443/TCP',
      'shop/api -> shop/web 8080/TCP',
    ]);
  });
});
