/**
 * The pod dnsConfig the package emits, tried on real resolvers: glibc (getent ahosts, as in most
 * app images) and musl (getaddrinfo in a static musl binary, as in Alpine images) read the
 * resolv.conf the kubelet would write for order-service's pods, and a DNS server of our own logs
 * every query they send. ndots:5 (the Kubernetes default) is the baseline the change improves on.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Testing } from 'cdk8s';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildExampleApp } from '../../examples/discovery-setup';
import type { LoggedQuery } from '../support/dns-server';
import { clusterFirstResolvConf, LookupResult, requireRoot, ResolverSandbox } from '../support/resolver-sandbox';
import { findObject, hostNames, synthApp } from '../support/synth';

const CLUSTER_DOMAIN = 'cluster.local';
const namespace = 'production';
// apt-get update and install on a fresh machine, then a one-second musl build.
const SETUP_TIMEOUT_MS = 300_000;

const objects = synthApp(buildExampleApp(Testing.app()));
const pod = findObject(objects, 'Deployment', 'order-service', namespace).spec.template.spec;

// Every Service the example declares, under its absolute name; the rest of DNS is NXDOMAIN.
const services = objects.filter((o) => o.kind === 'Service');
const zone: Record<string, string> = Object.fromEntries(
  services.map((s, i) => [`${s.metadata.name}.${s.metadata.namespace}.svc.${CLUSTER_DOMAIN}`, /^\d+(\.\d+){3}$/.test(s.spec.clusterIP ?? '') ? s.spec.clusterIP : `10.96.1.${i + 1}`]),
);

// The in-cluster names order-service is told to reach. An SRV name's own A record is the
// Service's name under its `_port._proto.` labels; getaddrinfo cannot ask for SRV.
const INJECTED_ENV = /(_URL|_HOST|_SRV)$|^CONSUL_HTTP_ADDR$/;
const injected = [
  ...new Set(
    pod.containers
      .flatMap((c: any) => c.env ?? [])
      .filter((e: any) => INJECTED_ENV.test(e.name) && typeof e.value === 'string')
      .flatMap((e: any) => hostNames(e.value))
      .map((host: string) => host.replace(/^(_[a-z0-9-]+\.)+/, '')),
  ),
] as string[];

const nameserver = '127.0.0.10';
const setting = { namespace, nameserver, clusterDomain: CLUSTER_DOMAIN };
const baseline = clusterFirstResolvConf({ ...pod, dnsConfig: undefined }, setting);
const emitted = clusterFirstResolvConf(pod, setting);

// Short forms of the first injected Service name, which only the search list completes.
const [service, serviceNamespace] = injected[0].split('.');
const shortNames = [service, `${service}.${serviceNamespace}`];
// An external name with fewer dots than either ndots: looked up the same way before and after.
const EXTERNAL = 'api.example.com';

// The edge case: a 4-dot name that exists only under a search domain of the node (appended by
// the kubelet), e.g. a corporate zone the node's resolv.conf searches.
const NODE_SEARCH = 'corp.example';
const PARTIAL = 'db-1.rack-4.hall-2.eu-west.prod';
const partialTarget = { name: `${PARTIAL}.${NODE_SEARCH}`, address: '192.0.2.10' };
const nodeSetting = { ...setting, nodeSearches: [NODE_SEARCH] };
const baselineOnNode = clusterFirstResolvConf({ ...pod, dnsConfig: undefined }, nodeSetting);
const emittedOnNode = clusterFirstResolvConf(pod, nodeSetting);

/** The distinct names queried, in the order first asked. */
const namesAsked = (queries: LoggedQuery[]) => [...new Set(queries.map((q) => q.name))];

let sandbox: ResolverSandbox | undefined;
let muslLookup = '';
const counts: string[] = [];

beforeAll(async () => {
  requireRoot();
  const script = join(__dirname, '..', '..', 'tools', 'ensure-resolver-sandbox.sh');
  muslLookup = (await promisify(execFile)('sh', [script], { timeout: SETUP_TIMEOUT_MS })).stdout.trim();
  sandbox = await ResolverSandbox.start({ ...zone, [partialTarget.name]: partialTarget.address }, nameserver);
}, SETUP_TIMEOUT_MS + 60_000);

afterAll(async () => {
  await sandbox?.close();
  if (counts.length) process.stdout.write(`resolver queries per lookup (ndots:5 -> emitted dnsConfig):\n${counts.join('\n')}\n`);
});

describe('the resolv.conf order-service pods get', () => {
  it('is the ClusterFirst one with the emitted ndots replacing the default', () => {
    expect(injected.length, `injected names: ${injected}`).toBeGreaterThanOrEqual(3);
    for (const name of injected) expect(zone, `${name} is a Service the example declares`).toHaveProperty([name]);
    expect(baseline.options).toEqual(['ndots:5']);
    expect(emitted.options).toEqual(pod.dnsConfig.options.map((o: any) => `${o.name}:${o.value}`));
    expect(emitted.searches).toEqual([`${namespace}.svc.${CLUSTER_DOMAIN}`, `svc.${CLUSTER_DOMAIN}`, CLUSTER_DOMAIN]);
  });
});

// glibc searches a name that failed as written (resolv/res_query.c, __res_context_search);
// musl never searches a name with ndots or more dots (src/network/lookup_name.c, name_from_dns_search).
describe.each([
  { resolver: 'glibc', command: (name: string) => ['getent', 'ahosts', name], searchesAfterAbsoluteMiss: true },
  { resolver: 'musl', command: (name: string) => [muslLookup, name], searchesAfterAbsoluteMiss: false },
])('$resolver', ({ resolver, command, searchesAfterAbsoluteMiss }) => {
  const lookup = (conf: { text: string }, name: string): Promise<LookupResult> => sandbox!.lookup(conf.text, command(name));

  it.each(injected)('%s: asked absolute first and only, where ndots:5 walked the search list first', async (name) => {
    const before = await lookup(baseline, name);
    const after = await lookup(emitted, name);
    counts.push(`  ${resolver} ${name}: ${before.queries.length} -> ${after.queries.length}`);

    expect(before.exitCode, before.stderr).toBe(0);
    expect(namesAsked(before.queries)).toEqual([...baseline.searches.map((s) => `${name}.${s}`), name]);

    expect(after.exitCode, after.stderr).toBe(0);
    expect(after.addresses).toContain(zone[name]);
    expect(after.queries[0]?.name).toBe(name);
    expect(namesAsked(after.queries)).toEqual([name]);
    expect(after.queries.length).toBeLessThan(before.queries.length);
  });

  it.each(shortNames)('%s still resolves through the search list, exactly as with ndots:5', async (name) => {
    const before = await lookup(baseline, name);
    const after = await lookup(emitted, name);
    counts.push(`  ${resolver} ${name}: ${before.queries.length} -> ${after.queries.length}`);

    const candidates = emitted.searches.map((s) => `${name}.${s}`);
    const found = candidates.find((candidate) => candidate in zone);
    expect(found, `${name} completes to a Service`).toBeDefined();
    expect(after.exitCode, after.stderr).toBe(0);
    expect(after.addresses).toContain(zone[found!]);
    expect(namesAsked(after.queries)).toEqual(candidates.slice(0, candidates.indexOf(found!) + 1));
    expect(namesAsked(after.queries)).toEqual(namesAsked(before.queries));
  });

  it(`${EXTERNAL} (fewer dots than ndots) walks the search list before the absolute name, as with ndots:5`, async () => {
    const before = await lookup(baseline, EXTERNAL);
    const after = await lookup(emitted, EXTERNAL);
    counts.push(`  ${resolver} ${EXTERNAL}: ${before.queries.length} -> ${after.queries.length}`);

    // The test server knows no external names, so the lookup fails after asking them all.
    expect(after.exitCode).not.toBe(0);
    expect(namesAsked(after.queries)).toEqual([...emitted.searches.map((s) => `${EXTERNAL}.${s}`), EXTERNAL]);
    expect(namesAsked(after.queries)).toEqual(namesAsked(before.queries));
  });

  it(`edge case: ${PARTIAL} (4 dots, needs the node's search domain) is asked absolute first, then ${searchesAfterAbsoluteMiss ? 'searched' : 'never searched'}`, async () => {
    const before = await lookup(baselineOnNode, PARTIAL);
    const after = await lookup(emittedOnNode, PARTIAL);
    counts.push(`  ${resolver} ${PARTIAL} (node search ${NODE_SEARCH}): ${before.queries.length} -> ${after.queries.length}${after.exitCode === 0 ? '' : ', no longer resolves'}`);

    const candidates = emittedOnNode.searches.map((s) => `${PARTIAL}.${s}`);
    expect(before.exitCode, before.stderr).toBe(0);
    expect(namesAsked(before.queries)).toEqual(candidates.slice(0, candidates.indexOf(partialTarget.name) + 1));
    expect(namesAsked(after.queries)[0]).toBe(PARTIAL);
    if (searchesAfterAbsoluteMiss) {
      expect(after.exitCode, after.stderr).toBe(0);
      expect(after.addresses).toContain(partialTarget.address);
      expect(namesAsked(after.queries)).toEqual([PARTIAL, ...namesAsked(before.queries)]);
    } else {
      expect(after.exitCode).not.toBe(0);
      expect(namesAsked(after.queries)).toEqual([PARTIAL]);
    }
  });
});
