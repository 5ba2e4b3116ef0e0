import { beforeAll, describe, expect, it, vi } from 'vitest';
import { DiscoveryKitValidationError } from '../lib';
import { PlatformOutputs } from '../stacks/shared/platform-outputs';
import { chartComponents, duplicateRegistrations, expectOneResourcePerObject } from './support/pulumi-charts';
import { findRegistered, isSecretValue, MockRun, registeredOfType } from './support/pulumi-mocks';
import {
  ACL_TOKENS, APPS_CONFIG, APPS_CONFIG_WITH_TOKENS, appsFailure, exampleStackConfig, PLATFORM_CONFIG, PLATFORM_STACK, runApps, runPlatform,
} from './support/pulumi-stacks';
import { envOf, findContainer } from './support/synth';

const DEPLOYMENT = 'kubernetes:apps/v1:Deployment';
const SECRET = 'kubernetes:core/v1:Secret';
const REGISTERED = ['payment-service', 'order-service'] as const;

/** The manifest of a registered object, as the Pulumi engine receives it. */
function manifest(run: MockRun<unknown>, type: string, name: string): any {
  return findRegistered(run, type, name).inputs;
}

function container(run: MockRun<unknown>, deployment: string, name: string): any {
  return findContainer(manifest(run, DEPLOYMENT, `shop-prod/Deployment/${deployment}`), name);
}

let platform: PlatformOutputs;
/** A platform whose agent tokens come from config: no bootstrap writes the services' tokens. */
let platformWithTokens: PlatformOutputs;

beforeAll(async () => {
  // The outputs the platform stack really exports (the contract between the stacks), with
  // namespaces no default produces, so that their flow into the manifests is visible.
  const config = { ...PLATFORM_CONFIG, consulNamespace: 'platform-consul', appsNamespace: 'shop-prod' };
  platform = (await runPlatform(config)).outputs;
  const agentTokens = { agent: '7d3c1b2a-0f9e-4d8c-b7a6-5e4d3c2b1a0f', dns: '1a2b3c4d-5e6f-4a8b-9c0d-1e2f3a4b5c6d' };
  platformWithTokens = (await runPlatform({ ...config, consulTls: 'false', consulTokens: JSON.stringify(agentTokens) })).outputs;
});

describe('the apps stack under Pulumi mocks', () => {
  it('registers every object of the apps chart as exactly one resource, with unique names', async () => {
    const run = await runApps(platform, APPS_CONFIG);
    const components = chartComponents(run);
    expect([...components.keys()]).toEqual(['apps']);
    const objects = expectOneResourcePerObject(run, components.get('apps')!);
    // Four ConfigMaps: the Consul and the etcd registration scripts of the namespace, and the
    // two registering services' token declarations; a Role and RoleBinding per token Secret.
    expect(objects.map((o) => o.kind).sort()).toEqual([
      ...Array(4).fill('ConfigMap'), ...Array(3).fill('Deployment'), ...Array(5).fill('NetworkPolicy'), ...Array(3).fill('PodDisruptionBudget'),
      ...Array(2).fill('Role'), ...Array(2).fill('RoleBinding'), ...Array(6).fill('Service'), ...Array(3).fill('ServiceAccount'),
    ].sort());
    expect(duplicateRegistrations(run)).toEqual([]);
  });

  it("reads the platform stack named by config through a StackReference and deploys into the platform's apps namespace", async () => {
    const run = await runApps(platform, APPS_CONFIG);
    expect(findRegistered(run, 'pulumi:pulumi:StackReference', 'platform').inputs.name).toBe(PLATFORM_STACK);
    const kubernetesObjects = run.registered.filter((r) => r.type.startsWith('kubernetes:'));
    expect(kubernetesObjects.length).toBeGreaterThan(0);
    // Everything in the apps namespace, but for the agents' health-check egress to each
    // registering service and the services' token declarations for the platform's bootstrap.
    const inPlatform = kubernetesObjects.filter((r) => r.inputs.metadata.namespace !== 'shop-prod').map((r) => r.name).sort();
    expect(inPlatform).toEqual([
      'platform-consul/ConfigMap/consul-token-order-service.shop-prod', 'platform-consul/ConfigMap/consul-token-payment-service.shop-prod',
      'platform-consul/NetworkPolicy/consul-agent-to-order-service.shop-prod', 'platform-consul/NetworkPolicy/consul-agent-to-payment-service.shop-prod',
    ]);
    expect(run.outputs).toEqual({
      namespace: 'shop-prod',
      urls: {
        'payment-service': 'http://payment-service.shop-prod.svc.cluster.local:8080',
        'order-service': 'http://order-service.shop-prod.svc.cluster.local:8080',
        'user-service': 'http://user-service.shop-prod.svc.cluster.local:8080',
      },
    });
  });

  it("puts the platform's Consul agent into the manifests: registration sidecars, consumer env, labels and NetworkPolicies", async () => {
    const run = await runApps(platform, APPS_CONFIG);
    const agent = platform.consulAgent;
    expect(agent.url).toBe('https://consul-agent.platform-consul.svc.cluster.local:8501');
    for (const service of REGISTERED) {
      expect(envOf(container(run, service, 'consul-registration'), 'CONSUL_HTTP_ADDR').value, service).toBe(agent.url);
      expect(manifest(run, DEPLOYMENT, `shop-prod/Deployment/${service}`).spec.template.metadata.labels['discovery-kit.io/consul-client']).toBe(agent.clusterName);
      expect(manifest(run, 'kubernetes:networking.k8s.io/v1:NetworkPolicy', `shop-prod/NetworkPolicy/${service}`).spec.egress).toContainEqual({
        to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'platform-consul' } }, podSelector: { matchLabels: agent.podSelector } }],
        ports: [{ port: 8501, protocol: 'TCP' }],
      });
      // Verified with the CA bundle the platform's bootstrap writes next to the token.
      expect(envOf(container(run, service, 'consul-registration'), 'CONSUL_CACERT').value, service).toBe('/consul-registration-token/ca.crt');
    }
    const order = container(run, 'order-service', 'order-service');
    expect(envOf(order, 'CONSUL_HTTP_ADDR').value).toBe(agent.url);
    expect(envOf(order, 'PAYMENT_SERVICE_URL').value).toBe('http://payment-service.shop-prod.svc.cluster.local:8080');
  });

  it("declares each registering service's token for the platform's bootstrap, which alone may write it: no token in config or state", async () => {
    const run = await runApps(platform, APPS_CONFIG);
    expect(platform.consulBootstrap).toEqual({ clusterName: 'consul', namespace: 'platform-consul', serviceAccountName: 'consul-bootstrap' });
    expect(run.registered.filter((r) => r.type === SECRET)).toEqual([]);
    for (const service of REGISTERED) {
      const declaration = manifest(run, 'kubernetes:core/v1:ConfigMap', `platform-consul/ConfigMap/consul-token-${service}.shop-prod`);
      expect(declaration.metadata.labels['discovery-kit.io/consul-service-token']).toBe('consul');
      const role = manifest(run, 'kubernetes:rbac.authorization.k8s.io/v1:Role', `shop-prod/Role/consul-token-${service}`);
      expect(role.rules).toContainEqual(expect.objectContaining({ resources: ['secrets'], resourceNames: [`${service}-consul-token`] }));
      const binding = manifest(run, 'kubernetes:rbac.authorization.k8s.io/v1:RoleBinding', `shop-prod/RoleBinding/consul-token-${service}`);
      expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: 'consul-bootstrap', namespace: 'platform-consul' }]);
      expect(envOf(container(run, service, 'consul-registration'), 'CONSUL_HTTP_TOKEN_FILE').value).toBe('/consul-registration-token/token');
      expect(manifest(run, DEPLOYMENT, `shop-prod/Deployment/${service}`).spec.template.spec.volumes).toContainEqual(expect.objectContaining({
        name: 'consul-registration-token', secret: expect.objectContaining({ secretName: `${service}-consul-token`, optional: true }),
      }));
    }
  });

  it('creates one ACL token Secret per registering service from secret config when the platform takes its tokens from config, and deploys the services after them', async () => {
    const run = await runApps(platformWithTokens, APPS_CONFIG_WITH_TOKENS);
    const secrets = run.constructed.filter((c) => c.type === SECRET);
    expect(secrets.map((c) => c.name).sort()).toEqual(['shop-prod/Secret/order-service-consul-token', 'shop-prod/Secret/payment-service-consul-token']);
    for (const service of REGISTERED) {
      const secret = findRegistered(run, SECRET, `shop-prod/Secret/${service}-consul-token`);
      expect(isSecretValue(secret.inputs.stringData)).toBe(true);
      expect(secret.inputs.stringData.value).toEqual({ token: ACL_TOKENS[service] });
      const sidecar = container(run, service, 'consul-registration');
      expect(envOf(sidecar, 'CONSUL_HTTP_TOKEN_FILE').value).toBe('/consul-registration-token/token');
      expect(manifest(run, DEPLOYMENT, `shop-prod/Deployment/${service}`).spec.template.spec.volumes).toContainEqual(expect.objectContaining({
        name: 'consul-registration-token', secret: expect.objectContaining({ secretName: `${service}-consul-token`, items: [{ key: 'token', path: 'token' }] }),
      }));
    }
    const elsewhere = JSON.stringify(run.registered.filter((r) => r.type !== SECRET));
    for (const token of Object.values(ACL_TOKENS)) expect(elsewhere).not.toContain(token);
    const objects = run.constructed.filter((c) => c.opts.parent === chartComponents(run).get('apps'));
    for (const object of objects) expect(object.opts.dependsOn, object.name).toEqual(secrets.map((c) => c.resource));
  });

  it('needs no tokens when the platform runs Consul without ACLs', async () => {
    const run = await runApps({ ...platformWithTokens, consulAclsEnabled: false }, { platformStack: PLATFORM_STACK });
    expect(run.registered.filter((r) => r.type === SECRET)).toEqual([]);
    expect(envOf(container(run, 'payment-service', 'consul-registration'), 'CONSUL_HTTP_TOKEN_FILE')).toBeUndefined();
  });

  it('follows the platform: another apps namespace or agent moves every object', async () => {
    const run = await runApps({
      ...platform,
      namespaces: { ...platform.namespaces, apps: 'shop-staging' },
      consulAgent: { ...platform.consulAgent, url: 'http://consul-agent.other.svc.cluster.local:8510', port: 8510 },
    }, APPS_CONFIG);
    const payment = manifest(run, DEPLOYMENT, 'shop-staging/Deployment/payment-service');
    expect(payment.metadata.namespace).toBe('shop-staging');
    expect(envOf(findContainer(payment, 'consul-registration'), 'CONSUL_HTTP_ADDR').value).toBe('http://consul-agent.other.svc.cluster.local:8510');
    expect(registeredOfType(run, DEPLOYMENT).map((r) => r.name).sort()).toEqual([
      'shop-staging/Deployment/order-service', 'shop-staging/Deployment/payment-service', 'shop-staging/Deployment/user-service',
    ]);
  });

  it('takes image tags and replicas from config, keeping the defaults of the services not set', async () => {
    const run = await runApps(platform, { ...APPS_CONFIG, services: JSON.stringify({ 'payment-service': { tag: '1.9.0', replicas: 5 }, 'user-service': { replicas: '1' } }) });
    const payment = manifest(run, DEPLOYMENT, 'shop-prod/Deployment/payment-service');
    expect([findContainer(payment, 'payment-service').image, payment.spec.replicas]).toEqual(['ghcr.io/acme/payment-service:1.9.0', 5]);
    const user = manifest(run, DEPLOYMENT, 'shop-prod/Deployment/user-service');
    expect([findContainer(user, 'user-service').image, user.spec.replicas]).toEqual(['ghcr.io/acme/user-service:0.9.4', 1]);
    // One replica: no PodDisruptionBudget, which would block every drain.
    expect(registeredOfType(run, 'kubernetes:policy/v1:PodDisruptionBudget').map((r) => r.name)).not.toContain('shop-prod/PodDisruptionBudget/user-service');
  });

  it('accepts the example Pulumi.dev.yaml as it is: no secret to set', async () => {
    const run = await runApps(platform, exampleStackConfig('apps'));
    expect(findRegistered(run, 'pulumi:pulumi:StackReference', 'platform').inputs.name).toBe(PLATFORM_STACK);
    expect(manifest(run, DEPLOYMENT, 'shop-prod/Deployment/payment-service').spec.replicas).toBe(3);
  });

  it('deploys through an explicit provider configured from kubeconfig (kept secret: it may hold credentials) and context', async () => {
    const run = await runApps(platform, { ...APPS_CONFIG, context: 'prod-cluster', kubeconfig: '/etc/kube/config' });
    const provider = findRegistered(run, 'pulumi:providers:kubernetes', 'kubernetes');
    expect(provider.inputs.context).toBe('prod-cluster');
    expect(isSecretValue(provider.inputs.kubeconfig)).toBe(true);
    expect(provider.inputs.kubeconfig.value).toBe('/etc/kube/config');
    const providers = new Set(run.registered.filter((r) => r.type.startsWith('kubernetes:')).map((r) => r.provider));
    expect([...providers]).toEqual([expect.stringMatching(/pulumi:providers:kubernetes::kubernetes::kubernetes-id$/)]);
  });

  it('renders to a directory on request, warning that Secrets are written in plain text', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    try {
      const run = await runApps(platform, { ...APPS_CONFIG, renderYamlToDirectory: 'rendered' });
      expect(findRegistered(run, 'pulumi:providers:kubernetes', 'kubernetes').inputs.renderYamlToDirectory).toBe('rendered');
      expect(warn).toHaveBeenCalledWith(expect.stringMatching(/Rendering manifests to rendered .*Secret data is written there in plain text/));
    } finally {
      warn.mockRestore();
    }
  });
});

describe('the apps stack rejects bad config before registering anything', () => {
  const services = (value: unknown) => ({ ...APPS_CONFIG, services: JSON.stringify(value) });
  const tokens = (value: unknown) => ({ ...APPS_CONFIG, consulAclTokens: JSON.stringify(value) });
  // Config is read and checked before the platform's outputs: these fail on any platform.
  const cases: [string, Record<string, string>, string, RegExp][] = [
    ['no platformStack', {}, 'platformStack', /is required: the platform stack/],
    ['a malformed platformStack', { platformStack: 'acme/platform/dev/extra' }, 'platformStack', /"acme\/platform\/dev\/extra".*<organization>\/<project>\/<stack>/],
    ['services that is not an object', services(['payment-service']), 'services', /object keyed by service name \(payment-service, order-service, user-service\)/],
    ['an unknown service', services({ 'billing-service': {} }), 'services.billing-service', /one of the shop's services: payment-service, order-service, user-service/],
    ['an unknown setting', services({ 'order-service': { image: 'x' } }), 'services.order-service.image', /not a setting: use tag or replicas/],
    ['the latest tag', services({ 'order-service': { tag: 'latest' } }), 'services.order-service.tag', /"ghcr.io\/acme\/order-service:latest".*other than 'latest'/],
    ['a numeric tag', services({ 'order-service': { tag: 2.5 } }), 'services.order-service.tag', /= 2.5 is invalid: must be a string: quote numeric tags/],
    ['negative replicas', services({ 'payment-service': { replicas: -1 } }), 'services.payment-service.replicas', /-1.*integer from 0 to 1000/],
    ['non-numeric replicas', services({ 'payment-service': { replicas: 'three' } }), 'services.payment-service.replicas', /"three".*integer/],
    ['tokens set as a plain string', { ...APPS_CONFIG, consulAclTokens: 'hunter2' }, 'consulAclTokens', /"<redacted>" is invalid: must be structured config: .*--secret --path 'consulAclTokens.<field>'/],
    ['tokens that are not an object', tokens('hunter2'), 'consulAclTokens', /"<redacted>" is invalid: must be an object keyed by payment-service, order-service, each value a Consul ACL token SecretID/],
    ['a token for a service that does not register', tokens({ ...ACL_TOKENS, 'user-service': 'hunter2' }), 'consulAclTokens.user-service', /"<redacted>" is invalid: must be one of: payment-service, order-service$/],
    ['a token that is not a SecretID', tokens({ ...ACL_TOKENS, 'order-service': 'hunter2' }), 'consulAclTokens.order-service', /"<redacted>" is invalid: must be a Consul ACL token SecretID/],
  ];

  it.each(cases)('%s', async (_title, config, key, message) => {
    const { error, registered } = await appsFailure(platform, config);
    expect(error).toBeInstanceOf(DiscoveryKitValidationError);
    expect(registered).toEqual([]);
    const { field, message: text } = error as DiscoveryKitValidationError;
    expect(field).toBe(`discovery-apps:${key}`);
    expect(text.startsWith(`Pulumi config: discovery-apps:${key} = `)).toBe(true);
    expect(text).toMatch(message);
    expect(text).not.toContain('hunter2');
  });

  it("requires each registering service's token when the platform enforces ACLs with tokens from config, before registering any Kubernetes object", async () => {
    const { error, registered } = await appsFailure(platformWithTokens, { platformStack: PLATFORM_STACK, consulAclTokens: JSON.stringify({ 'payment-service': ACL_TOKENS['payment-service'] }) });
    expect((error as DiscoveryKitValidationError).field).toBe('discovery-apps:consulAclTokens.order-service');
    expect((error as Error).message).toMatch(/is required: the platform's Consul enforces ACLs, so order-service registers with .*pulumi config set --secret --path 'consulAclTokens.order-service' <SecretID>/);
    expect(registered.map((r) => r.type)).toEqual(['pulumi:pulumi:StackReference']);
  });

  it.each([
    ["the platform's bootstrap writes them", () => platform, /must be unset: the platform's Consul bootstrap \(platform-consul\/consul-bootstrap\) writes each service's token; run pulumi config rm consulAclTokens$/],
    ["the platform's Consul has no ACLs", () => ({ ...platformWithTokens, consulAclsEnabled: false }), /must be unset: the platform's Consul does not enforce ACLs; run pulumi config rm consulAclTokens$/],
  ])('refuses service tokens in config when %s, before registering any Kubernetes object', async (_title, platformOf, message) => {
    const { error, registered } = await appsFailure(platformOf(), APPS_CONFIG_WITH_TOKENS);
    expect((error as DiscoveryKitValidationError).field).toBe('discovery-apps:consulAclTokens');
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).not.toContain(ACL_TOKENS['payment-service']);
    expect(registered.map((r) => r.type)).toEqual(['pulumi:pulumi:StackReference']);
  });

  it('names a platform output that is missing, before registering any Kubernetes object', async () => {
    const { consulAgent: _omitted, ...withoutAgent } = platform;
    const { error, registered } = await appsFailure(withoutAgent, APPS_CONFIG);
    expect((error as Error).message).toBe(
      `StackReference '${PLATFORM_STACK}': output consulAgent = undefined is invalid: must be exported by the platform stack: run pulumi up in stacks/platform first, or set platformStack to the right stack`);
    expect(registered.map((r) => r.type)).toEqual(['pulumi:pulumi:StackReference']);
  });
});
