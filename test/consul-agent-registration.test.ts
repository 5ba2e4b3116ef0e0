import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Duration } from 'cdk8s';
import { afterAll, describe, expect, it } from 'vitest';
import { ConsulAgentAddress, ConsulAgentRegistration, DEFAULT_CONSUL_IMAGE, ConsulAgentRegistrationProps, DiscoverableService, DiscoveryKitValidationError, HealthSpec, parseGoDuration } from '../lib';
import { expectRejection, rejectionOf } from './support/errors';
import { qualityViolations } from './support/quality';
import { envOf, findContainer, findObject, synthChart, testChart } from './support/synth';

const AGENT: ConsulAgentAddress = {
  url: 'http://consul-agent.consul.svc.cluster.local:8500',
  port: 8500,
  clusterName: 'consul',
  namespace: 'consul',
  podSelector: { 'app.kubernetes.io/name': 'consul', 'app.kubernetes.io/instance': 'consul', 'app.kubernetes.io/component': 'agent' },
};

/**
 * Consul's documented service-definition contract (agent/service registration and the
 * checks reference): the keys a definition may carry, and which are required.
 */
const SERVICE_KEYS = new Set(['id', 'name', 'tags', 'address', 'tagged_addresses', 'meta', 'port', 'kind', 'proxy', 'connect', 'check', 'checks', 'enable_tag_override', 'weights', 'token', 'namespace', 'partition', 'locality']);
const CHECK_KEYS = new Set(['id', 'check_id', 'name', 'notes', 'status', 'http', 'method', 'header', 'body', 'disable_redirects', 'tls_server_name', 'tls_skip_verify', 'interval', 'timeout', 'deregister_critical_service_after', 'success_before_passing', 'failures_before_warning', 'failures_before_critical', 'output_max_size']);
const CHECK_DURATIONS = ['interval', 'timeout', 'deregister_critical_service_after'];

function registeredService(props: Partial<ConsulAgentRegistrationProps> = {}, health?: HealthSpec, chart = testChart()) {
  const service = new DiscoverableService(chart, 'payment-service', {
    image: 'ghcr.io/acme/payment-service:1.8.2',
    ports: [{ name: 'http', port: 80, containerPort: 8080 }, { name: 'grpc', port: 9090 }],
    health,
    registration: new ConsulAgentRegistration({ agent: AGENT, tags: ['v1', 'primary'], meta: { team: 'payments' }, ...props }),
  });
  const consumer = new DiscoverableService(chart, 'order-service', { image: 'ghcr.io/acme/order-service:2.3.0' });
  consumer.discover(service);
  return { service, objects: synthChart(chart) };
}

describe('ConsulAgentRegistration in the manifests', () => {
  const { objects } = registeredService();
  const deployment = findObject(objects, 'Deployment', 'payment-service');
  const sidecar = findContainer(deployment, 'consul-registration');

  it('matches the reviewed manifests', () => {
    expect(findObject(objects, 'Deployment', 'payment-service')).toMatchSnapshot();
  });

  it('adds a sidecar from the pinned Consul image that knows its pod and agent', () => {
    expect(sidecar.image).toBe(DEFAULT_CONSUL_IMAGE);
    expect(sidecar.image).toMatch(/^hashicorp\/consul:1\.\d+\.\d+$/);
    expect(sidecar.command.slice(0, 2)).toEqual(['/bin/sh', '-c']);
    expect(envOf(sidecar, 'POD_NAME').valueFrom.fieldRef.fieldPath).toBe('metadata.name');
    expect(envOf(sidecar, 'POD_IP').valueFrom.fieldRef.fieldPath).toBe('status.podIP');
    expect(envOf(sidecar, 'CONSUL_HTTP_ADDR').value).toBe(AGENT.url);
    expect(sidecar.ports).toBeUndefined();
    expect(sidecar.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false });
  });

  it('labels the pods as Consul clients without touching the selector', () => {
    expect(deployment.spec.template.metadata.labels['discovery-kit.io/consul-client']).toBe('consul');
    expect(deployment.spec.selector.matchLabels['discovery-kit.io/consul-client']).toBeUndefined();
  });

  it('lets the agent run its health check and the pods reach the agent', () => {
    const policy = findObject(objects, 'NetworkPolicy', 'payment-service');
    const agentPeer = { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'consul' } }, podSelector: { matchLabels: AGENT.podSelector } };
    expect(policy.spec.ingress).toContainEqual({ from: [agentPeer], ports: [{ port: 8080, protocol: 'TCP' }] });
    expect(policy.spec.egress).toContainEqual({ to: [agentPeer], ports: [{ port: 8500, protocol: 'TCP' }] });
  });

  it('gives consumers the registry address, its client label and the egress to it', () => {
    const order = findObject(objects, 'Deployment', 'order-service');
    expect(envOf(findContainer(order, 'order-service'), 'CONSUL_HTTP_ADDR').value).toBe(AGENT.url);
    expect(order.spec.template.metadata.labels['discovery-kit.io/consul-client']).toBe('consul');
    expect(findObject(objects, 'NetworkPolicy', 'order-service').spec.egress).toContainEqual(expect.objectContaining({ ports: [{ port: 8500, protocol: 'TCP' }] }));
  });

  it('passes the manifest-quality suite', () => {
    expect(qualityViolations(objects)).toEqual([]);
  });
});

// Consul cannot run on these machines: the generated script runs for real against a
// stand-in `consul` CLI that records every call and the definition file it was given.
describe('the generated registration script, run against a stand-in consul CLI', () => {
  const work = mkdtempSync(join(tmpdir(), 'consul-registration-'));
  afterAll(() => rmSync(work, { recursive: true, force: true }));
  const shells = ['sh', 'dash', 'busybox'].filter((s) => ['/bin', '/usr/bin'].some((d) => existsSync(join(d, s))));

  function standIn(dir: string, failFirst = 0, hangSeconds = 0): string {
    const bin = join(dir, 'bin');
    rmSync(bin, { recursive: true, force: true });
    mkdirSync(bin, { recursive: true });
    writeFileSync(join(bin, 'consul'), [
      '#!/bin/sh',
      `log=${dir}/calls`,
      'echo "$*" >> "$log"',
      `count=$(wc -l < "$log")`,
      `if [ "$count" -le ${failFirst} ]; then echo "Error registering service: Unexpected response code: 403 (Permission denied)" >&2; exit 1; fi`,
      // An agent that accepts the connection and never answers.
      `if [ "$1 $2" = "services register" ] && [ ${hangSeconds} -gt 0 ]; then sleep ${hangSeconds}; fi`,
      `if [ "$1 $2" = "services register" ]; then cp "$3" ${dir}/registered.json; fi`,
      'exit 0',
      '',
    ].join('\n'));
    chmodSync(join(bin, 'consul'), 0o755);
    return bin;
  }

  function scriptOf(objects: ReturnType<typeof registeredService>['objects'], dir: string): string {
    const command = findContainer(findObject(objects, 'Deployment', 'payment-service'), 'consul-registration').command[2] as string;
    // The definition path is the sidecar's emptyDir; point it into the test's temp dir.
    return command.replaceAll("'/consul-registration/", `'${dir}/`);
  }

  async function run(shell: string, env: Record<string, string>, failFirst = 0, props: Partial<ConsulAgentRegistrationProps> = {}, hangSeconds = 0) {
    const dir = mkdtempSync(join(work, 'run-'));
    const bin = standIn(dir, failFirst, hangSeconds);
    const script = scriptOf(registeredService(props).objects, dir);
    const args = shell === 'busybox' ? ['sh', '-c', script] : ['-c', script];
    const child = spawn(shell, args, { env: { PATH: `${bin}:/usr/bin:/bin`, CONSUL_HTTP_ADDR: AGENT.url, ...env } });
    let output = '';
    child.stdout.on('data', (d) => { output += d; });
    child.stderr.on('data', (d) => { output += d; });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const calls = () => (existsSync(join(dir, 'calls')) ? readFileSync(join(dir, 'calls'), 'utf8').trim().split('\n') : []);
    return { dir, child, exited, calls, output: () => output };
  }

  async function until(condition: () => boolean, timeoutMs: number): Promise<number> {
    const start = Date.now();
    while (!condition()) {
      if (Date.now() - start > timeoutMs) throw new Error(`condition not met within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 20));
    }
    return Date.now() - start;
  }

  it.each(shells)('registers, then deregisters within 1 s of SIGTERM (%s)', async (shell) => {
    const proc = await run(shell, { POD_NAME: 'payment-service-7d9f-abcde', POD_IP: '10.1.2.3' });
    await until(() => proc.calls().length >= 1 && existsSync(join(proc.dir, 'registered.json')), 5000);
    expect(proc.calls()[0]).toBe(`services register ${proc.dir}/service.json`);
    const sent = Date.now();
    proc.child.kill('SIGTERM');
    expect(await proc.exited).toBe(0);
    expect(Date.now() - sent).toBeLessThan(1000);
    expect(proc.calls().at(-1)).toBe('services deregister -id=payment-service-7d9f-abcde');
  });

  it('writes a definition that follows Consul\'s documented contract', async () => {
    const proc = await run('sh', { POD_NAME: 'payment-service-7d9f-abcde', POD_IP: '10.1.2.3' });
    await until(() => existsSync(join(proc.dir, 'registered.json')), 5000);
    proc.child.kill('SIGTERM');
    await proc.exited;
    const { service } = JSON.parse(readFileSync(join(proc.dir, 'registered.json'), 'utf8'));
    for (const key of Object.keys(service)) expect(SERVICE_KEYS, `service.${key}`).toContain(key);
    for (const key of Object.keys(service.check)) expect(CHECK_KEYS, `check.${key}`).toContain(key);
    expect(service).toMatchObject({
      id: 'payment-service-7d9f-abcde', name: 'payment-service', address: '10.1.2.3', port: 8080,
      tags: ['v1', 'primary'], meta: { team: 'payments', 'k8s-namespace': 'production', 'k8s-pod': 'payment-service-7d9f-abcde' },
    });
    // The same endpoint, interval and timeout as the readiness probe.
    expect(service.check).toMatchObject({ http: 'http://10.1.2.3:8080/health/ready', interval: '5s', timeout: '2s', failures_before_critical: 3 });
    for (const key of CHECK_DURATIONS) expect(parseGoDuration(service.check[key]), key).toBeDefined();
    expect(parseGoDuration(service.check.interval)).toBeGreaterThanOrEqual(1000);
    expect(parseGoDuration(service.check.deregister_critical_service_after)).toBeGreaterThanOrEqual(60_000);
    expect(Object.keys(service.meta).length).toBeLessThanOrEqual(64);
  });

  it('keeps retrying while the agent is unreachable, then registers', async () => {
    const proc = await run('sh', { POD_NAME: 'p-1', POD_IP: '10.1.2.4' }, 2);
    await until(() => existsSync(join(proc.dir, 'registered.json')), 10_000);
    expect(proc.calls().filter((c) => c.startsWith('services register')).length).toBe(3);
    expect(proc.output()).toContain('registration failed, retrying in 2s: the ACL token was refused (it needs service:write on the service)');
    proc.child.kill('SIGTERM');
    expect(await proc.exited).toBe(0);
  });

  it('keeps hostile meta values inert: they reach Consul verbatim and run nothing', async () => {
    const hostile = `'; touch ${work}/pwned; echo '$(id)\`id\`"`;
    const proc = await run('sh', { POD_NAME: 'p-9', POD_IP: '10.1.2.9' }, 0, { meta: { note: hostile } });
    await until(() => existsSync(join(proc.dir, 'registered.json')), 5000);
    proc.child.kill('SIGTERM');
    await proc.exited;
    expect(JSON.parse(readFileSync(join(proc.dir, 'registered.json'), 'utf8')).service.meta.note).toBe(hostile);
    expect(existsSync(join(work, 'pwned'))).toBe(false);
  });

  it('deregisters within 1 s of SIGTERM even while a call to the agent hangs', async () => {
    const proc = await run('sh', { POD_NAME: 'p-4', POD_IP: '10.1.2.5' }, 0, {}, 20);
    await until(() => proc.calls().length >= 1, 5000);
    const sent = Date.now();
    proc.child.kill('SIGTERM');
    expect(await proc.exited).toBe(0);
    expect(Date.now() - sent).toBeLessThan(1000);
    expect(proc.calls().at(-1)).toBe('services deregister -id=p-4');
  });

  it('brackets an IPv6 pod address in the check URL', async () => {
    const proc = await run('sh', { POD_NAME: 'p-2', POD_IP: 'fd00::12' });
    await until(() => existsSync(join(proc.dir, 'registered.json')), 5000);
    proc.child.kill('SIGTERM');
    await proc.exited;
    const { service } = JSON.parse(readFileSync(join(proc.dir, 'registered.json'), 'utf8'));
    expect(service.address).toBe('fd00::12');
    expect(service.check.http).toBe('http://[fd00::12]:8080/health/ready');
  });

  it.each([
    ['a pod name carrying shell', { POD_NAME: 'x;touch /tmp/pwned', POD_IP: '10.1.2.3' }, /POD_NAME='x;touch \/tmp\/pwned' is not a pod name/],
    ['a pod name starting with a dash', { POD_NAME: '-p', POD_IP: '10.1.2.3' }, /is not a pod name/],
    ['a missing pod IP', { POD_NAME: 'p-3' }, /POD_IP='' is not an IP address/],
    ['a pod IP carrying JSON', { POD_NAME: 'p-3', POD_IP: '1","x":"y' }, /is not an IP address/],
  ])('refuses %s before registering anything', async (_title, env, message) => {
    const proc = await run('sh', env as Record<string, string>);
    expect(await proc.exited).toBe(2);
    expect(proc.output()).toMatch(message);
    expect(proc.calls()).toEqual([]);
  });
});

describe('ConsulAgentRegistration rejects bad input at synth time', () => {
  const errorOf = (props: Partial<ConsulAgentRegistrationProps>, health?: HealthSpec): DiscoveryKitValidationError =>
    rejectionOf((chart) => registeredService(props, health, chart));

  it.each<[string, Partial<ConsulAgentRegistrationProps>, string, RegExp]>([
    ['deregistration under 1m', { deregisterCriticalServiceAfter: '30s' }, 'registration.deregisterCriticalServiceAfter', /at least 60s/],
    ['a duration Go cannot parse', { deregisterCriticalServiceAfter: '1d' }, 'registration.deregisterCriticalServiceAfter', /Go duration/],
    ['a tag that is not a DNS label', { tags: ['Blue_Green'] }, 'registration.tags[0]', /RFC 1123 DNS label/],
    ['a duplicated tag', { tags: ['v1', 'v1'] }, 'registration.tags[1]', /"v1".*unique: registration.tags\[0\]/],
    ['too many meta keys', { meta: Object.fromEntries(Array.from({ length: 63 }, (_, i) => [`k${i}`, 'v'])) }, 'registration.meta', /at most 62 keys \(Consul allows 64; 2 are reserved/],
    ['a meta key over 128 characters', { meta: { ['k'.repeat(129)]: 'v' } }, 'registration.meta key', /1-128 characters/],
    ['a meta key with a dot', { meta: { 'team.name': 'v' } }, 'registration.meta key', /\[A-Za-z0-9_-\]/],
    ['a reserved meta key prefix', { meta: { 'consul-version': 'v' } }, 'registration.meta key', /reserved 'consul-' prefix/],
    ['a meta key the registration sets', { meta: { 'k8s-pod': 'v' } }, 'registration.meta key', /set by the registration itself/],
    ['a meta value over 512 characters', { meta: { team: 'x'.repeat(513) } }, 'registration.meta["team"]', /at most 512/],
    ['a port the service does not have', { port: 'admin' }, 'registration.port', /"admin".*http, grpc/],
    ['a latest image', { image: 'hashicorp/consul:latest' }, 'registration.image', /pinned/],
    ['a resync under 5s', { resyncInterval: Duration.seconds(1) }, 'registration.resyncInterval', /from 5s/],
    ['an ACL token Secret without a key', { aclToken: { secretName: 'consul-token', key: '' } }, 'registration.aclToken.key', /Secret key/],
    ['an agent URL that is not one', { agent: { ...AGENT, url: 'consul-agent; rm -rf /' } }, 'registration.agent.url', /http:\/\/host:port/],
    ['an agent port of 0', { agent: { ...AGENT, port: 0 } }, 'registration.agent.port', /from 1 to 65535/],
    ['an agent namespace that is not a DNS label', { agent: { ...AGENT, namespace: 'NS!' } }, 'registration.agent.namespace', /RFC 1123/],
    ['an empty agent selector (it would admit every pod)', { agent: { ...AGENT, podSelector: {} } }, 'registration.agent.podSelector', /empty selector would admit every pod/],
    ['an HTTPS agent without the CA to verify it', { agent: { ...AGENT, url: 'https://consul-agent.consul.svc.cluster.local:8501', port: 8501 } }, 'registration.caCert', /agent serves HTTPS/],
  ])('%s', (_title, props, field, message) => {
    expectRejection(errorOf(props), "DiscoverableService 'test/payment-service'", field, message);
  });

  it('a check interval under 1s cannot be expressed: the readiness period is whole seconds >= 1', () => {
    const error = errorOf({}, HealthSpec.http({ readiness: { period: Duration.millis(500), timeout: Duration.millis(200) } }));
    expect(error.field).toBe('health.readiness.period');
  });
});
