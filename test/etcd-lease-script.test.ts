import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Duration } from 'cdk8s';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DiscoverableService, EtcdLeaseRegistration, EtcdLeaseRegistrationProps } from '../lib';
import { createTestPki, EtcdTestServer, etcdctl, getKeyWithLease, leaseTimeToLive, listKeys, listLeases } from './support/etcd';
import { Pod, Secrets, podWorkDir } from './support/pod';
import { envOf, findContainer, findObject, synthChart, testChart } from './support/synth';

/**
 * lib/etcd/lease-registration.sh as the pods run it: the sidecar container, its volumes and
 * the script's ConfigMap exactly as EtcdLeaseRegistration synthesizes them, started like
 * kubelet would (test/support/pod.ts: env from values, the downward API and Secrets, the
 * ConfigMap and Secret volumes at their mount paths, a read-only root) against a real etcd.
 * Only the endpoint is this machine's, and it goes in through the props.
 */

/** The shells the sidecar promises to run under (the global setup installs busybox; dash is Debian's /bin/sh). */
const SHELLS: { name: string; argv: string[] }[] = [
  { name: 'dash', argv: ['dash'] },
  { name: 'busybox sh', argv: ['busybox', 'sh'] },
];
const POD_IP = '10.42.0.7';

const workDir = podWorkDir('etcd-lease-script-test');
const binDir = join(workDir, 'bin');
mkdirSync(binDir);
afterAll(() => rmSync(workDir, { recursive: true, force: true }));

/** Polls `probe` until it returns true; returns the milliseconds that took. */
async function eventually(what: string, probe: () => Promise<boolean>, withinMs: number, everyMs = 50): Promise<number> {
  const start = Date.now();
  for (;;) {
    if (await probe()) return Date.now() - start;
    if (Date.now() - start > withinMs) throw new Error(`${what} did not happen within ${withinMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/** The synthesized sidecar of a service `payment` that registers in the etcd at `endpoint`. */
function synthesized(endpoint: string, props: Partial<EtcdLeaseRegistrationProps> = {}) {
  const chart = testChart();
  new DiscoverableService(chart, 'payment', {
    image: 'ghcr.io/acme/payment:1.0.0',
    ports: [{ name: 'http', port: 80, containerPort: 8080 }],
    registration: new EtcdLeaseRegistration({
      cluster: { clientEndpoints: [endpoint], clusterName: 'etcd', namespace: 'etcd', podSelector: { 'app.kubernetes.io/name': 'etcd' }, clientPort: 2379 },
      tags: ['primary', 'v2'], ttl: Duration.seconds(5), keepAliveInterval: Duration.seconds(1), ...props,
    }),
  });
  const objects = synthChart(chart);
  const deployment = findObject(objects, 'Deployment', 'payment');
  const configMaps = Object.fromEntries(objects.filter((o) => o.kind === 'ConfigMap').map((o) => [o.metadata.name, o.data as Record<string, string>]));
  return { spec: deployment.spec.template.spec, container: findContainer(deployment, 'etcd-registration'), configMaps };
}

const running = new Set<Pod>();
const secrets = new Secrets();
let nextPod = 0;

/** Starts the synthesized sidecar as pod `name` under `shell`. */
function start(shell: string[], endpoint: string, props: Partial<EtcdLeaseRegistrationProps>, name: string, envOverrides?: Record<string, string>): Pod {
  const { spec, container, configMaps } = synthesized(endpoint, props);
  const pod = new Pod({
    name, address: POD_IP, container: { ...container, terminationGracePeriodSeconds: spec.terminationGracePeriodSeconds },
    volumes: spec.volumes, configMaps, secrets, binDir, shell, envOverrides, workDir: join(workDir, `pod-${nextPod++}`),
  });
  pod.start();
  running.add(pod);
  void pod.exited.then(() => running.delete(pod));
  return pod;
}

describe('the synthesized sidecar', () => {
  const { container, configMaps, spec } = synthesized('http://etcd-client.etcd.svc:2379');

  it('runs lib/etcd/lease-registration.sh from the namespace ConfigMap, with common.sh beside it', () => {
    expect(container.command).toEqual(['/bin/sh', '/discovery-kit/lease-registration.sh']);
    expect(configMaps['discovery-kit-etcd-lease']).toEqual({
      'lease-registration.sh': readFileSync(join(__dirname, '../lib/etcd/lease-registration.sh'), 'utf8'),
      'common.sh': readFileSync(join(__dirname, '../lib/registration/common.sh'), 'utf8'),
    });
    expect(spec.volumes).toContainEqual({ name: 'registration-script', configMap: { name: 'discovery-kit-etcd-lease', defaultMode: 0o444 } });
    expect(container.volumeMounts).toContainEqual({ name: 'registration-script', mountPath: '/discovery-kit', readOnly: true });
  });

  it('gets its whole input as environment variables', () => {
    expect(container.env.map((e: any) => e.name)).toEqual([
      'POD_NAME', 'POD_IP', 'ETCDCTL_ENDPOINTS', 'ETCD_REGISTRATION_KEY_PREFIX', 'ETCD_REGISTRATION_PORT', 'ETCD_REGISTRATION_TAGS',
      'ETCD_LEASE_TTL_SECONDS', 'ETCD_KEEPALIVE_INTERVAL_SECONDS',
    ]);
    expect(envOf(container, 'ETCD_REGISTRATION_KEY_PREFIX').value).toBe('/services/payment');
    expect(envOf(container, 'ETCD_REGISTRATION_TAGS').value).toBe('primary,v2');
  });
});

describe('the synthesized sidecar against a real etcd', () => {
  let etcd: EtcdTestServer;
  const run = (shell: string[], props: Partial<EtcdLeaseRegistrationProps>, name: string, envOverrides?: Record<string, string>) =>
    start(shell, etcd.endpoint, props, name, envOverrides);
  /** Waits until `key` exists with a live lease; returns that lease id. */
  const registered = async (pod: Pod, key: string, withinMs = 5_000, endpoint = etcd.endpoint): Promise<string> => {
    let lease: string | undefined;
    await eventually(`registration of ${key}\n${pod.logTail()}`, async () => {
      lease = (await getKeyWithLease(endpoint, key))?.lease;
      return lease !== undefined;
    }, withinMs);
    return lease!;
  };
  const gone = async (key: string, lease: string) =>
    (await getKeyWithLease(etcd.endpoint, key)) === undefined && (await leaseTimeToLive(etcd.endpoint, lease)) === undefined;

  beforeAll(async () => {
    etcd = await EtcdTestServer.start();
  }, 30_000);
  afterEach(async () => {
    await Promise.all([...running].map((pod) => pod.stop('SIGKILL')));
  });
  afterAll(async () => {
    await etcd?.cleanup();
  });

  describe.each(SHELLS)('under $name', ({ argv }) => {
    it('puts the key under a lease with the configured TTL and a JSON value, and deletes both within 1 s of SIGTERM', async () => {
      const key = `/services/payment/web-${argv[0]}-0`;
      const before = Date.now();
      // A keep-alive interval near the TTL: a sidecar that slept in the foreground would take seconds to stop.
      const pod = run(argv, { keepAliveInterval: Duration.seconds(3) }, `web-${argv[0]}-0`);
      const lease = await registered(pod, key);

      const stored = (await getKeyWithLease(etcd.endpoint, key))!;
      const value = JSON.parse(stored.value);
      expect(Object.keys(value)).toEqual(['host', 'port', 'tags', 'registered_at']);
      expect(value).toMatchObject({ host: POD_IP, port: 8080, tags: ['primary', 'v2'] });
      expect(value.registered_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      expect(Math.abs(Date.parse(value.registered_at) - before)).toBeLessThan(5_000);
      const info = (await leaseTimeToLive(etcd.endpoint, lease))!;
      expect(info.grantedTtl).toBe(5);
      expect(info.ttl).toBeGreaterThan(0);
      expect(info.keys).toEqual([key]);

      // One keep-alive round later the same lease is still there, refreshed (unrefreshed, 1-2 s would be left).
      await new Promise((resolve) => setTimeout(resolve, 3_600));
      expect((await getKeyWithLease(etcd.endpoint, key))?.lease).toBe(lease);
      expect((await leaseTimeToLive(etcd.endpoint, lease))!.ttl).toBeGreaterThanOrEqual(3);

      const stopped = pod.stop('SIGTERM');
      const elapsed = await eventually('deregistration', () => gone(key, lease), 3_000);
      expect(elapsed, pod.logTail()).toBeLessThan(1_000);
      expect(await stopped).toBe(0);
      expect(pod.log()).toContain(`deleted ${key}`);
      expect(pod.log()).toContain(`revoked lease ${lease}`);
    });

    it('exits 2 with a clear message, writing nothing, when POD_NAME or POD_IP look wrong', async () => {
      const bad: [Record<string, string>, RegExp][] = [
        [{ POD_NAME: '' }, /POD_NAME='' is not a pod name/],
        [{ POD_NAME: 'web-0;touch' }, /POD_NAME='web-0;touch' is not a pod name/],
        [{ POD_NAME: 'Web-0' }, /POD_NAME='Web-0'/],
        [{ POD_IP: '' }, /POD_IP='' is not an IP address/],
        [{ POD_IP: '10.42.0.7","x":"y' }, /not an IP address/],
        [{ POD_IP: '10.42.0' }, /POD_IP='10.42.0' is not an IP address/],
        [{ POD_IP: '10.42.0.7.1' }, /not an IPv4 address/],
        [{ ETCD_LEASE_TTL_SECONDS: '5s' }, /ETCD_LEASE_TTL_SECONDS='5s' is not a whole number/],
        [{ ETCD_REGISTRATION_TAGS: 'ok,Bad' }, /'Bad' is not a tag/],
      ];
      for (const [env, message] of bad) {
        const pod = run(argv, { keyPrefix: '/bad-env' }, 'web-0', env);
        expect(await pod.exited, JSON.stringify(env)).toBe(2);
        expect(pod.log()).toMatch(message);
      }
      expect(await listKeys(etcd.endpoint, '/bad-env')).toEqual([]);
      // An IPv6 pod IP is fine.
      const pod = run(argv, { keyPrefix: '/ipv6' }, 'web-0', { POD_IP: 'fd00:10:42::7' });
      await registered(pod, '/ipv6/payment/web-0');
      expect(JSON.parse((await getKeyWithLease(etcd.endpoint, '/ipv6/payment/web-0'))!.value).host).toBe('fd00:10:42::7');
    });
  });

  it('registers with the defaults: key under /services, a 15 s lease, no tags', async () => {
    const pod = run(SHELLS[0].argv, { ttl: undefined, keepAliveInterval: undefined, tags: undefined }, 'payment-0');
    const lease = await registered(pod, '/services/payment/payment-0');
    expect((await leaseTimeToLive(etcd.endpoint, lease))!.grantedTtl).toBe(15);
    expect(JSON.parse((await getKeyWithLease(etcd.endpoint, '/services/payment/payment-0'))!.value).tags).toEqual([]);
  });

  it('leaves a SIGKILLed sidecar\'s key to expire with its lease, within TTL + 1 s', async () => {
    const key = '/services/payment/web-killed';
    const pod = run(SHELLS[0].argv, {}, 'web-killed');
    const lease = await registered(pod, key);
    await pod.stop('SIGKILL');
    // Nothing deleted it: it is the lease running out that removes it.
    expect((await getKeyWithLease(etcd.endpoint, key))?.lease).toBe(lease);
    const elapsed = await eventually('expiry of the killed sidecar\'s key', () => gone(key, lease), 10_000, 100);
    expect(elapsed).toBeLessThanOrEqual(6_000);
  });

  it('comes back by itself after etcd restarts with its data wiped', async () => {
    const key = '/services/payment/web-wiped';
    const pod = run(SHELLS[SHELLS.length - 1].argv, {}, 'web-wiped');
    const before = await registered(pod, key);
    await etcd.restart({ wipe: true });
    const after = await registered(pod, key, 10_000);
    expect(after).not.toBe(before);
    expect((await leaseTimeToLive(etcd.endpoint, after))!.keys).toEqual([key]);
    expect(JSON.parse((await getKeyWithLease(etcd.endpoint, key))!.value).host).toBe(POD_IP);
    expect(pod.log()).toMatch(/lease \w+ is gone .*registering again/);
    expect(pod.running).toBe(true);
  });

  it('registers again when its lease expired while it could not keep it alive', async () => {
    const key = '/services/payment/web-frozen';
    const pod = run(SHELLS[0].argv, {}, 'web-frozen');
    const before = await registered(pod, key);
    process.kill(pod.pid!, 'SIGSTOP');
    await eventually('expiry of the frozen sidecar\'s lease', () => gone(key, before), 10_000, 100);
    process.kill(pod.pid!, 'SIGCONT');
    const after = await registered(pod, key);
    expect(after).not.toBe(before);
    expect(pod.log()).toContain(`lease ${before} is gone`);
  });

  it('keeps retrying while etcd is down, and is registered once it is back', async () => {
    const key = '/services/payment/web-outage';
    const pod = run(SHELLS[0].argv, {}, 'web-outage');
    await registered(pod, key);
    await etcd.stop();
    await eventually('a failed keep-alive', async () => /keep-alive of lease \w+ failed, retrying in 1s/.test(pod.log()), 10_000);
    expect(pod.running, pod.logTail()).toBe(true);
    await etcd.restart();
    const lease = await registered(pod, key, 10_000);
    expect((await leaseTimeToLive(etcd.endpoint, lease))!.keys).toEqual([key]);
    // Still keeping it alive afterwards.
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    expect((await getKeyWithLease(etcd.endpoint, key))?.lease).toBe(lease);
  });

  it('puts the key back when it is deleted under a live lease', async () => {
    const key = '/services/payment/web-deleted';
    const pod = run(SHELLS[0].argv, {}, 'web-deleted');
    const lease = await registered(pod, key);
    await etcdctl(etcd.endpoint, 'del', key);
    expect(await registered(pod, key)).toBe(lease);
    expect(pod.log()).toContain(`key ${key} is missing under live lease ${lease}`);
  });

  it('leaves no stale key or lease after 20 start/stop cycles (TERM and INT, every shell)', async () => {
    const leases: string[] = [];
    for (let i = 0; i < 20; i++) {
      const { argv } = SHELLS[i % SHELLS.length];
      const key = `/cycles/payment/web-${i}`;
      const pod = run(argv, { keyPrefix: '/cycles' }, `web-${i}`);
      const lease = await registered(pod, key);
      leases.push(lease);
      expect(await pod.stop(i % 2 === 0 ? 'SIGTERM' : 'SIGINT'), pod.logTail()).toBe(0);
      expect(await gone(key, lease)).toBe(true);
    }
    expect(new Set(leases).size).toBe(20);
    expect(await listKeys(etcd.endpoint, '/cycles/')).toEqual([]);
    const live = await listLeases(etcd.endpoint);
    expect(leases.filter((lease) => live.includes(lease))).toEqual([]);
  }, 90_000);

  it('stores a key prefix full of shell syntax literally: values reach the script as data only', async () => {
    const hostilePrefix = "/x'$(id)'`id`;\"$(id)\"${IFS}";
    const pod = run(SHELLS[0].argv, { keyPrefix: hostilePrefix }, 'web-hostile');
    await registered(pod, `${hostilePrefix}/payment/web-hostile`);
    expect(await listKeys(etcd.endpoint, '/x')).toEqual([`${hostilePrefix}/payment/web-hostile`]);
  });

  describe('with mutual TLS', () => {
    let tlsEtcd: EtcdTestServer;
    let pki: ReturnType<typeof createTestPki>;
    beforeAll(async () => {
      pki = createTestPki(mkdtempSync(join(workDir, 'pki-')));
      tlsEtcd = await EtcdTestServer.start({ tls: { ...pki.server, caFile: pki.caFile } });
      const other = createTestPki(mkdtempSync(join(workDir, 'other-pki-')));
      const pem = (file: string) => readFileSync(file, 'utf8');
      secrets.set('etcd-client', { 'ca.crt': pem(pki.caFile), 'tls.crt': pem(pki.client.certFile), 'tls.key': pem(pki.client.keyFile) });
      // A client certificate from a CA the server does not trust.
      secrets.set('etcd-client-untrusted', { 'ca.crt': pem(pki.caFile), 'tls.crt': pem(other.client.certFile), 'tls.key': pem(other.client.keyFile) });
    }, 30_000);
    afterAll(async () => {
      await tlsEtcd?.cleanup();
    });
    const tlsRun = (secretName: string, name: string) =>
      start(SHELLS[0].argv, tlsEtcd.tlsEndpoint!, { clientTls: { secretName } }, name);

    it('registers through https with the CA, certificate and key of the mounted Secret, and deregisters on SIGTERM', async () => {
      const key = '/services/payment/web-tls';
      const pod = tlsRun('etcd-client', 'web-tls');
      const lease = await registered(pod, key, 5_000, tlsEtcd.endpoint);
      expect((await leaseTimeToLive(tlsEtcd.endpoint, lease))!.keys).toEqual([key]);
      expect(await pod.stop('SIGTERM')).toBe(0);
      expect(await getKeyWithLease(tlsEtcd.endpoint, key)).toBeUndefined();
    });

    it('is refused with a certificate the server does not trust, and keeps retrying', async () => {
      const pod = tlsRun('etcd-client-untrusted', 'web-no-cert');
      await eventually('a failed attempt', async () => /lease grant failed, retrying in 1s/.test(pod.log()), 10_000);
      expect(pod.running, pod.logTail()).toBe(true);
      expect(await listKeys(tlsEtcd.endpoint, '/services/payment/web-no-cert')).toEqual([]);
    });
  });
});
