import * as pulumi from '@pulumi/pulumi';
import { beforeAll, describe, expect, it } from 'vitest';
import { DiscoveryKitValidationError } from '../lib';
import { CONSUL_SECRETS } from '../stacks/platform/program';
import { PlatformOutputs } from '../stacks/shared/platform-outputs';
import { chartComponents, duplicateRegistrations, expectOneResourcePerObject } from './support/pulumi-charts';
import { findRegistered, isSecretValue, MockRun, registeredOfType } from './support/pulumi-mocks';
import { exampleStackConfig, GOSSIP_KEY, PLATFORM_CONFIG, platformFailure, runPlatform } from './support/pulumi-stacks';
import { findContainer } from './support/synth';

const SECRET = 'kubernetes:core/v1:Secret';
const GOSSIP_SECRET = CONSUL_SECRETS.gossipKey;
const NETWORK_POLICY = 'kubernetes:networking.k8s.io/v1:NetworkPolicy';

describe('the platform stack under Pulumi mocks', () => {
  let run: MockRun<PlatformOutputs>;
  beforeAll(async () => {
    run = await runPlatform();
  });

  it('deploys the namespaces and the registries as two charts, each object exactly one resource', () => {
    const components = chartComponents(run);
    expect([...components.keys()]).toEqual(['namespaces', 'registries']);
    const namespaces = expectOneResourcePerObject(run, components.get('namespaces')!);
    expect(namespaces.map((o) => `${o.kind}/${o.metadata.name}`)).toEqual(['Namespace/consul', 'Namespace/etcd', 'Namespace/production']);
    const registries = expectOneResourcePerObject(run, components.get('registries')!);
    expect(new Set(registries.map((o) => o.metadata.namespace))).toEqual(new Set(['consul', 'etcd']));
    expect(registries.map((o) => `${o.metadata.namespace}/${o.kind}`)).toEqual(expect.arrayContaining([
      'consul/StatefulSet', 'consul/DaemonSet', 'consul/NetworkPolicy', 'consul/Job', 'consul/CronJob', 'etcd/StatefulSet', 'etcd/NetworkPolicy',
    ]));
    expect(duplicateRegistrations(run)).toEqual([]);
  });

  it('registers only the provider, the two charts and their objects (no Secret: the bootstrap makes them), and reads the API server endpoints', () => {
    const components = chartComponents(run);
    const objectCount = [...components.values()].reduce((sum, c) => sum + c.resources.size, 0);
    expect(run.registered.filter((r) => r.type.startsWith('kubernetes:'))).toHaveLength(objectCount);
    expect(run.registered.filter((r) => r.type === SECRET)).toEqual([]);
    expect(run.reads).toEqual(['kubernetes:discovery.k8s.io/v1:EndpointSlice default/kubernetes']);
    expect(run.registered.filter((r) => !r.type.startsWith('kubernetes:')).map((r) => `${r.type} ${r.name}`).sort()).toEqual([
      'discovery-kit:cdk8s:Chart namespaces', 'discovery-kit:cdk8s:Chart registries', 'pulumi:providers:kubernetes kubernetes',
    ]);
  });

  it('labels every namespace for Pod Security "restricted"', () => {
    for (const name of ['consul', 'etcd', 'production']) {
      const labels = findRegistered(run, 'kubernetes:core/v1:Namespace', `Namespace/${name}`).inputs.metadata.labels;
      expect(labels).toMatchObject({
        'pod-security.kubernetes.io/enforce': 'restricted', 'pod-security.kubernetes.io/audit': 'restricted', 'pod-security.kubernetes.io/warn': 'restricted',
      });
    }
  });

  it("bootstraps Consul in the cluster: the Job generates the gossip key and writes the ACL tokens into the Secrets the servers and agents read", () => {
    const job = registeredOfType(run, 'kubernetes:batch/v1:Job');
    expect(job.map((r) => r.name)).toEqual([expect.stringMatching(/^consul\/Job\/consul-bootstrap-[0-9a-f]+$/)]);
    const env = findContainer(job[0].inputs, 'bootstrap').env;
    const value = (name: string) => env.find((e: any) => e.name === name)?.value;
    expect([value('GOSSIP_KEY_STORE'), value('GOSSIP_KEY'), value('ACL_STORE'), value('ACL_STORE_KEY')])
      .toEqual([GOSSIP_SECRET.secretName, GOSSIP_SECRET.key, CONSUL_SECRETS.aclTokens.secretName, CONSUL_SECRETS.aclTokens.key]);
    const server = findRegistered(run, 'kubernetes:apps/v1:StatefulSet', 'consul/StatefulSet/consul-server').inputs.spec.template.spec;
    expect(server.volumes.map((v: any) => v.secret?.secretName)).toContain(CONSUL_SECRETS.aclTokens.secretName);
    expect(run.outputs.consulBootstrap).toEqual({ clusterName: 'consul', namespace: 'consul', serviceAccountName: 'consul-bootstrap' });
  });

  it('turns TLS on by default: the Job makes the CA and the servers\' certificate, agents take their own (auto_encrypt), everything speaks HTTPS', () => {
    const env = findContainer(registeredOfType(run, 'kubernetes:batch/v1:Job')[0].inputs, 'bootstrap').env;
    const value = (name: string) => env.find((e: any) => e.name === name)?.value;
    expect([value('TLS_CA_STORE'), value('TLS_SERVER_STORE'), value('CONSUL_HTTP_ADDR')])
      .toEqual([CONSUL_SECRETS.ca.secretName, CONSUL_SECRETS.serverCertificate.secretName, 'https://consul-server.consul.svc.cluster.local:8501']);
    const configs = registeredOfType(run, 'kubernetes:core/v1:ConfigMap');
    const config = (name: string) => JSON.parse(Object.values(configs.find((r) => r.name === `consul/ConfigMap/${name}`)!.inputs.data)[0] as string);
    expect(config('consul-agent-config').auto_encrypt).toEqual({ tls: true, dns_san: ['consul-agent.consul.svc.cluster.local'] });
    expect(config('consul-server-config').ports).toMatchObject({ http: -1, https: 8501 });
    const agent = findRegistered(run, 'kubernetes:apps/v1:DaemonSet', 'consul/DaemonSet/consul-agent').inputs.spec.template.spec;
    expect(agent.volumes.map((v: any) => v.secret?.secretName)).toContain(CONSUL_SECRETS.ca.secretName);
    expect(agent.volumes.map((v: any) => v.secret?.secretName)).not.toContain(CONSUL_SECRETS.serverCertificate.secretName);
  });

  it("lets the bootstrap reach the API server at the endpoints read from the cluster's EndpointSlice", () => {
    const policy = findRegistered(run, NETWORK_POLICY, 'consul/NetworkPolicy/consul-bootstrap').inputs;
    expect(policy.spec.egress).toContainEqual({ to: [{ ipBlock: { cidr: '172.18.0.2/32' } }], ports: [{ port: 6443, protocol: 'TCP' }] });
  });

  it('takes the API server endpoints from config instead, without reading the cluster', async () => {
    const configured = await runPlatform({ ...PLATFORM_CONFIG, apiServerEndpoints: JSON.stringify(['10.0.0.10:443', '[fd00::10]:443']) }, { liveObjects: {} });
    expect(configured.reads).toEqual([]);
    const policy = findRegistered(configured, NETWORK_POLICY, 'consul/NetworkPolicy/consul-bootstrap').inputs;
    expect(policy.spec.egress).toContainEqual({ to: [{ ipBlock: { cidr: '10.0.0.10/32' } }, { ipBlock: { cidr: 'fd00::10/128' } }], ports: [{ port: 443, protocol: 'TCP' }] });
  });

  it('creates the gossip-key Secret from your own key (secret config) as a Pulumi secret, in the Consul namespace; the Job then makes none', async () => {
    const byo = await runPlatform({ ...PLATFORM_CONFIG, gossipKey: GOSSIP_KEY });
    const secret = findRegistered(byo, SECRET, `consul/Secret/${GOSSIP_SECRET.secretName}`);
    expect(secret.inputs.metadata).toEqual({ name: GOSSIP_SECRET.secretName, namespace: 'consul' });
    // The SDK marks the whole stringData map secret once a value in it is.
    expect(isSecretValue(secret.inputs.stringData)).toBe(true);
    expect(secret.inputs.stringData.value).toEqual({ [GOSSIP_SECRET.key]: GOSSIP_KEY });
    const resource = byo.constructed.find((c) => c.type === SECRET)!.resource as pulumi.CustomResource & { stringData: pulumi.Output<unknown> };
    expect(await pulumi.isSecret(resource.stringData)).toBe(true);
    const job = registeredOfType(byo, 'kubernetes:batch/v1:Job')[0].inputs;
    expect(findContainer(job, 'bootstrap').env.map((e: any) => e.name)).not.toContain('GOSSIP_KEY_STORE');
  });

  it('keeps your gossip key out of every manifest and output: Consul reads it from the Secret by name', async () => {
    const byo = await runPlatform({ ...PLATFORM_CONFIG, gossipKey: GOSSIP_KEY });
    const elsewhere = byo.registered.filter((r) => r.type !== SECRET);
    expect(JSON.stringify(elsewhere)).not.toContain(GOSSIP_KEY);
    expect(JSON.stringify(byo.outputs)).not.toContain(GOSSIP_KEY);
    const server = findRegistered(byo, 'kubernetes:apps/v1:StatefulSet', 'consul/StatefulSet/consul-server').inputs;
    const secretRefs = findContainer(server, 'consul').env.filter((e: any) => e.valueFrom?.secretKeyRef).map((e: any) => e.valueFrom.secretKeyRef);
    expect(secretRefs).toContainEqual({ name: GOSSIP_SECRET.secretName, key: GOSSIP_SECRET.key });
  });

  it('orders the deployment: namespaces, then your gossip Secret, then every registry object', async () => {
    const byo = await runPlatform({ ...PLATFORM_CONFIG, gossipKey: GOSSIP_KEY });
    const components = chartComponents(byo);
    const namespaces = components.get('namespaces')!;
    const secret = byo.constructed.find((c) => c.type === SECRET)!;
    expect(secret.opts.dependsOn).toEqual([namespaces]);
    const registryObjects = byo.constructed.filter((c) => c.opts.parent === components.get('registries'));
    expect(registryObjects.length).toBeGreaterThan(0);
    for (const object of registryObjects) expect(object.opts.dependsOn, object.name).toEqual([namespaces, secret.resource]);
  });

  it('pins the Consul DNS ClusterIP from config and exports what apps and CoreDNS need', () => {
    const dns = findRegistered(run, 'kubernetes:core/v1:Service', 'consul/Service/consul-dns').inputs;
    expect(dns.spec.clusterIP).toBe('10.96.0.53');
    expect(run.outputs).toEqual({
      namespaces: { consul: 'consul', etcd: 'etcd', apps: 'production' },
      consulAgent: {
        host: 'consul-agent.consul.svc.cluster.local',
        port: 8501,
        scheme: 'https',
        address: 'consul-agent.consul.svc.cluster.local:8501',
        url: 'https://consul-agent.consul.svc.cluster.local:8501',
        clusterName: 'consul',
        namespace: 'consul',
        podSelector: { 'app.kubernetes.io/name': 'consul', 'app.kubernetes.io/instance': 'consul', 'app.kubernetes.io/component': 'agent' },
        datacenter: 'dc1',
        domain: 'consul',
      },
      consulAclsEnabled: true,
      consulBootstrap: { clusterName: 'consul', namespace: 'consul', serviceAccountName: 'consul-bootstrap' },
      consulDnsIp: '10.96.0.53',
      coreDnsServerBlock: 'consul:53 {\n    errors\n    cache 30\n    forward . 10.96.0.53\n}\n',
      etcd: {
        clientEndpoints: ['http://etcd-client.etcd.svc.cluster.local:2379'],
        clusterName: 'etcd',
        namespace: 'etcd',
        podSelector: { 'app.kubernetes.io/name': 'etcd', 'app.kubernetes.io/instance': 'etcd', 'app.kubernetes.io/component': 'etcd' },
        clientPort: 2379,
        clientLabels: { 'discovery-kit.io/etcd-client': 'etcd' },
        tls: { client: false, peer: false },
      },
    });
  });

  it("creates the agents' ACL tokens Secret from your own tokens, mounted by servers and agents, deploys Consul after it, and leaves ACLs to you", async () => {
    const tokens = { agent: '7d3c1b2a-0f9e-4d8c-b7a6-5e4d3c2b1a0f', dns: '1a2b3c4d-5e6f-4a8b-9c0d-1e2f3a4b5c6d' };
    const withTokens = await runPlatform({ ...PLATFORM_CONFIG, consulTls: 'false', consulTokens: JSON.stringify(tokens) });
    expect(withTokens.outputs.consulBootstrap).toBe(false);
    // The Job still generates the gossip key, and only that: no ACL bootstrap, no access to the servers.
    const job = findContainer(registeredOfType(withTokens, 'kubernetes:batch/v1:Job')[0].inputs, 'bootstrap').env.map((e: any) => e.name);
    expect(job).toContain('GOSSIP_KEY_STORE');
    expect(job).not.toContain('ACL_STORE');
    const secret = findRegistered(withTokens, SECRET, 'consul/Secret/consul-acl-tokens');
    expect(isSecretValue(secret.inputs.stringData)).toBe(true);
    expect(JSON.parse(secret.inputs.stringData.value['tokens.json'])).toEqual({ acl: { tokens } });
    const elsewhere = JSON.stringify(withTokens.registered.filter((r) => r.type !== SECRET));
    for (const token of Object.values(tokens)) expect(elsewhere).not.toContain(token);
    for (const [type, name] of [['StatefulSet', 'consul-server'], ['DaemonSet', 'consul-agent']]) {
      const pod = findRegistered(withTokens, `kubernetes:apps/v1:${type}`, `consul/${type}/${name}`).inputs.spec.template.spec;
      expect(pod.volumes.map((v: any) => v.secret?.secretName), name).toContain('consul-acl-tokens');
    }
    const secrets = withTokens.constructed.filter((c) => c.type === SECRET).map((c) => c.resource);
    const server = withTokens.constructed.find((c) => c.name === 'consul/StatefulSet/consul-server')!;
    expect(server.opts.dependsOn).toEqual([chartComponents(withTokens).get('namespaces'), ...secrets]);
  });

  it('accepts the example Pulumi.dev.yaml as it is: no secret to set', async () => {
    const example = await runPlatform(exampleStackConfig('platform'));
    expect(example.outputs.consulDnsIp).toBe('10.96.0.53');
    expect(findRegistered(example, 'pulumi:providers:kubernetes', 'kubernetes').inputs.context).toBe('kind-discovery');
  });

  it('takes the namespaces and the ACL switch from config', async () => {
    const custom = await runPlatform({ ...PLATFORM_CONFIG, consulNamespace: 'registry', etcdNamespace: 'registry', appsNamespace: 'shop', consulAcls: 'false', consulTls: 'false' });
    expect(custom.outputs.namespaces).toEqual({ consul: 'registry', etcd: 'registry', apps: 'shop' });
    expect(custom.outputs.consulAclsEnabled).toBe(false);
    // One Namespace object per distinct name.
    expect(custom.registered.filter((r) => r.type === 'kubernetes:core/v1:Namespace').map((r) => r.name)).toEqual(['Namespace/registry', 'Namespace/shop']);
    expect(registeredOfType(custom, 'kubernetes:batch/v1:Job')[0].inputs.metadata.namespace).toBe('registry');
    expect(custom.outputs.consulBootstrap).toBe(false);
  });

  it('runs no bootstrap when you bring both the gossip key and the agent tokens', async () => {
    const byo = await runPlatform({ ...PLATFORM_CONFIG, consulTls: 'false', gossipKey: GOSSIP_KEY, consulTokens: JSON.stringify({ agent: '7d3c1b2a-0f9e-4d8c-b7a6-5e4d3c2b1a0f' }) });
    expect(byo.registered.filter((r) => /Job|ServiceAccount\/consul-bootstrap/.test(r.name))).toEqual([]);
    // Nothing needs the API server's endpoints: the cluster is not read.
    expect(byo.reads).toEqual([]);
    expect(registeredOfType(byo, SECRET).map((r) => r.name).sort()).toEqual(['consul/Secret/consul-acl-tokens', 'consul/Secret/consul-gossip-key']);
  });
});

describe('the platform stack rejects bad config before registering anything', () => {
  const withConfig = (overrides: Record<string, string | undefined>) =>
    Object.fromEntries(Object.entries({ ...PLATFORM_CONFIG, ...overrides }).filter(([, v]) => v !== undefined)) as Record<string, string>;

  const cases: [string, Record<string, string | undefined>, string, RegExp][] = [
    ['a gossip key that is not base64', { gossipKey: 'not a key!' }, 'gossipKey', /= "<redacted>" is invalid: must be a base64 key of 16, 24 or 32 bytes, as consul keygen prints/],
    ['a gossip key of the wrong length', { gossipKey: Buffer.alloc(20).toString('base64') }, 'gossipKey', /"<redacted>"/],
    ['no DNS ClusterIP', { consulDnsClusterIp: undefined }, 'consulDnsClusterIp', /is required: a free IPv4 address in the cluster's Service CIDR/],
    ['a DNS ClusterIP that is not an IPv4 address', { consulDnsClusterIp: '10.96.0.300' }, 'consulDnsClusterIp', /"10.96.0.300".*IPv4 address/],
    ['a bad namespace', { appsNamespace: 'Shop_Prod' }, 'appsNamespace', /"Shop_Prod".*RFC 1123 DNS label/],
    ['a non-boolean switch', { consulAcls: 'yes' }, 'consulAcls', /"yes".*true or false/],
    // The real Kubernetes provider refuses the combination (found by test/e2e/pulumi-render.test.ts).
    ['rendering with a context', { renderYamlToDirectory: 'rendered', context: 'kind-discovery' }, 'renderYamlToDirectory',
      /"rendered" is invalid: cannot be combined with discovery-platform:context: .*pulumi config rm context$/],
    ['rendering with a kubeconfig', { renderYamlToDirectory: 'rendered', kubeconfig: '/etc/kube/config' }, 'renderYamlToDirectory',
      /cannot be combined with discovery-platform:kubeconfig: .*pulumi config rm kubeconfig$/],
    ['an unknown agent token', { consulTokens: '{"replication":"hunter2"}' }, 'consulTokens.replication', /"<redacted>" is invalid: must be one of: agent, dns$/],
    ['agent tokens with TLS on', { consulTokens: '{"agent":"7d3c1b2a-0f9e-4d8c-b7a6-5e4d3c2b1a0f"}' }, 'consulTokens',
      /"<redacted>" is invalid: must be unset while discovery-platform:consulTls is true: .*pulumi config set consulTls false$/],
    ['ACLs off with TLS on', { consulAcls: 'false' }, 'consulAcls', /= "false" is invalid: must be true while discovery-platform:consulTls is true: .*pulumi config set consulTls false$/],
    ['a non-boolean TLS switch', { consulTls: 'on' }, 'consulTls', /"on".*true or false/],
    ['agent tokens without ACLs', { consulAcls: 'false', consulTls: 'false', consulTokens: '{"agent":"7d3c1b2a-0f9e-4d8c-b7a6-5e4d3c2b1a0f"}' }, 'consulTokens',
      /"<redacted>" is invalid: must be unset when discovery-platform:consulAcls is false: run pulumi config rm consulTokens$/],
    ['rendering without the API server endpoints', { renderYamlToDirectory: 'rendered' }, 'apiServerEndpoints',
      /= undefined is invalid: is required with renderYamlToDirectory .*kubectl get endpoints kubernetes -n default.*pulumi config set --path 'apiServerEndpoints\[0\]' <address:port>$/],
    ['API server endpoints that are not a list', { apiServerEndpoints: '"10.0.0.10:6443"' }, 'apiServerEndpoints', /= "10.0.0.10:6443" is invalid: must be a non-empty list of/],
    ['an API server endpoint without a port', { apiServerEndpoints: '["10.0.0.10"]' }, 'apiServerEndpoints[0]', /= "10.0.0.10" is invalid: must be the API server's endpoints as address:port/],
    ['an API server endpoint that is not an address', { apiServerEndpoints: '["api.example.com:6443"]' }, 'apiServerEndpoints[0]', /= "api.example.com:6443" is invalid: must be an IPv4 address and a port, or \[IPv6 address\]:port/],
    ['an IPv6 API server endpoint without brackets', { apiServerEndpoints: '["fd00::10:443"]' }, 'apiServerEndpoints[0]', /= "fd00::10:443" is invalid: must be the API server's endpoints as address:port/],
    ['API server endpoints on two ports', { apiServerEndpoints: '["10.0.0.10:6443","10.0.0.11:443"]' }, 'apiServerEndpoints[1]', /= "10.0.0.11:443" is invalid: must use the same port as discovery-platform:apiServerEndpoints\[0\] \(6443\)/],
    ['an agent token that is not a SecretID', { consulTokens: '{"agent":"hunter2"}' }, 'consulTokens.agent', /"<redacted>" is invalid: must be a Consul ACL token SecretID \(a UUID\) from consul acl token create/],
  ];

  it.each(cases)('%s', async (_title, overrides, key, message) => {
    const { error, registered } = await platformFailure(withConfig(overrides));
    expect(error).toBeInstanceOf(DiscoveryKitValidationError);
    expect((error as Error).message).not.toContain('hunter2');
    expect((error as DiscoveryKitValidationError).field).toBe(`discovery-platform:${key}`);
    expect((error as Error).message.startsWith(`Pulumi config: discovery-platform:${key} = `)).toBe(true);
    expect((error as Error).message).toMatch(message);
    expect(registered).toEqual([]);
  });

  it.each([
    ['gossipKey', GOSSIP_KEY],
    ['consulTokens', JSON.stringify({ agent: '7d3c1b2a-0f9e-4d8c-b7a6-5e4d3c2b1a0f' })],
  ])('refuses %s set in plain text (without --secret), never echoing it', async (key, value) => {
    const { error, registered } = await platformFailure({ ...PLATFORM_CONFIG, [key]: value }, { secretKeys: [] });
    expect((error as Error).message).toBe(`Pulumi config: discovery-platform:${key} = "<redacted>" is invalid: must be set as a secret, not in plain text: run pulumi config set --secret ${key} ... (with --path for a structured value)`);
    expect(registered).toEqual([]);
  });

  it('never echoes a rejected gossip key', async () => {
    const { error } = await platformFailure(withConfig({ gossipKey: 'c2VjcmV0LWJ1dC10b28tc2hvcnQ=' }));
    expect((error as Error).message).not.toContain('c2VjcmV0LWJ1dC10b28tc2hvcnQ=');
  });
});
