import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DiscoveryKitValidationError } from '../lib/core/validation';
import { EtcdLeaseScriptOptions, renderEtcdLeaseScript, validateEtcdLeaseScriptOptions } from '../lib/etcd/lease-script';
import { shellQuote } from '../lib/registration/shell';
import { createTestPki, EtcdTestServer, etcdctl, getKeyWithLease, leaseTimeToLive, listKeys, listLeases } from './support/etcd';

/** The shells the sidecar promises to run under (the global setup installs busybox; dash is Debian's /bin/sh). */
const SHELLS: { name: string; argv: string[] }[] = [
  { name: 'dash', argv: ['dash'] },
  { name: 'busybox sh', argv: ['busybox', 'sh'] },
];

const workDir = mkdtempSync(join(tmpdir(), 'etcd-lease-script-test-'));
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

/** A running `sh <generated script>` with the downward-API variables of one pod. */
class Sidecar {
  static readonly running = new Set<Sidecar>();
  readonly exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stdout = '';
  stderr = '';
  private readonly child: ChildProcess;

  constructor(shell: string[], script: string, env: Record<string, string>) {
    const path = join(workDir, `sidecar-${Math.random().toString(36).slice(2)}.sh`);
    writeFileSync(path, script);
    this.child = spawn(shell[0], [...shell.slice(1), path], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stdout!.on('data', (chunk) => (this.stdout += chunk));
    this.child.stderr!.on('data', (chunk) => (this.stderr += chunk));
    this.exit = new Promise((resolve) => this.child.once('exit', (code, signal) => resolve({ code, signal })));
    Sidecar.running.add(this);
    void this.exit.then(() => Sidecar.running.delete(this));
  }

  get exited(): boolean {
    return this.child.exitCode !== null || this.child.signalCode !== null;
  }

  kill(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }

  /** Output so far, for failure messages. */
  get output(): string {
    return `--- stdout\n${this.stdout}--- stderr\n${this.stderr}`;
  }
}

const BASE: EtcdLeaseScriptOptions = { endpoints: ['http://etcd-client.etcd.svc:2379'], serviceName: 'payment', port: 8080 };

/** Renders and expects a validation error naming `field`. */
function rejection(overrides: Partial<EtcdLeaseScriptOptions>): DiscoveryKitValidationError {
  try {
    renderEtcdLeaseScript({ ...BASE, ...overrides });
  } catch (error) {
    expect(error).toBeInstanceOf(DiscoveryKitValidationError);
    return error as DiscoveryKitValidationError;
  }
  throw new Error(`expected ${JSON.stringify(overrides)} to be rejected`);
}

describe('renderEtcdLeaseScript rejects bad options, naming the field, the value and what is allowed', () => {
  const cases: [string, Partial<EtcdLeaseScriptOptions>, string, RegExp][] = [
    ['TTL below 5 s', { ttlSeconds: 4 }, 'ttlSeconds', /ttlSeconds = 4 is invalid: must be an integer from 5 to/],
    ['fractional TTL', { ttlSeconds: 7.5 }, 'ttlSeconds', /= 7\.5 .*integer/],
    ['keep-alive as long as the TTL', { ttlSeconds: 10, keepAliveIntervalSeconds: 10 }, 'keepAliveIntervalSeconds', /= 10 .*from 1 to 9/],
    ['keep-alive longer than the TTL', { ttlSeconds: 10, keepAliveIntervalSeconds: 30 }, 'keepAliveIntervalSeconds', /= 30 .*from 1 to 9/],
    ['keep-alive below 1 s', { keepAliveIntervalSeconds: 0 }, 'keepAliveIntervalSeconds', /= 0 .*from 1 to 14/],
    ['fractional keep-alive', { keepAliveIntervalSeconds: 2.5 }, 'keepAliveIntervalSeconds', /= 2\.5 .*integer/],
    ['retry as long as the TTL', { ttlSeconds: 6, retryIntervalSeconds: 6 }, 'retryIntervalSeconds', /= 6 .*from 1 to 5/],
    ['port 0', { port: 0 }, 'port', /port = 0 .*from 1 to 65535/],
    ['port above 65535', { port: 65536 }, 'port', /= 65536 /],
    ['fractional port', { port: 80.5 }, 'port', /= 80\.5 /],
    ['relative key prefix', { keyPrefix: 'services' }, 'keyPrefix', /keyPrefix = "services" .*must start with '\/'/],
    ['key prefix with a space', { keyPrefix: '/my services' }, 'keyPrefix', /"\/my services" .*whitespace/],
    ['key prefix with a newline', { keyPrefix: '/services\n' }, 'keyPrefix', /whitespace or control characters/],
    ['key prefix ending in /', { keyPrefix: '/services/' }, 'keyPrefix', /not end with '\/'/],
    ['uppercase tag', { tags: ['ok', 'Primary'] }, 'tags[1]', /tags\[1\] = "Primary" .*RFC 1123/],
    ['tag with an underscore', { tags: ['v_1'] }, 'tags[0]', /RFC 1123/],
    ['tag of 64 characters', { tags: ['a'.repeat(64)] }, 'tags[0]', /1-63/],
    ['hostile tag', { tags: ["'; touch /tmp/pwned; '"] }, 'tags[0]', /RFC 1123/],
    ['service name starting with a digit', { serviceName: '1payment' }, 'serviceName', /"1payment" .*DNS-1035/],
    ['service name with a dot', { serviceName: 'pay.ment' }, 'serviceName', /DNS-1035/],
    ['no endpoints', { endpoints: [] }, 'endpoints', /endpoints = \[\] .*at least one/],
    ['endpoint without a port', { endpoints: ['http://etcd'] }, 'endpoints[0]', /"http:\/\/etcd" .*http:\/\/host:port/],
    ['endpoint without a scheme', { endpoints: ['etcd:2379'] }, 'endpoints[0]', /http:\/\/host:port/],
    ['endpoint with a path', { endpoints: ['http://etcd:2379/v3'] }, 'endpoints[0]', /no path/],
    ['endpoint port above 65535', { endpoints: ['http://etcd:99999'] }, 'endpoints[0]', /port 1-65535/],
    ['hostile endpoint', { endpoints: ["http://etcd:2379'; touch /tmp/pwned; '"] }, 'endpoints[0]', /http:\/\/host:port/],
    ['http endpoint with TLS files', { endpoints: ['http://etcd:2379'], tls: { caFile: '/tls/ca.crt' } }, 'endpoints[0]', /https:\/\/ when tls/],
    ['client certificate without key', { endpoints: ['https://etcd:2379'], tls: { certFile: '/tls/tls.crt' } }, 'tls.keyFile', /go together/],
    ['relative TLS path', { endpoints: ['https://etcd:2379'], tls: { caFile: 'ca.crt' } }, 'tls.caFile', /absolute path/],
    ['etcdctl with a space', { etcdctl: 'etcdctl --debug' }, 'etcdctl', /without whitespace/],
  ];
  it.each(cases)('%s', (_name, overrides, field, message) => {
    const error = rejection(overrides);
    expect(error.field).toBe(field);
    expect(error.message).toMatch(/^etcd lease registration: /);
    expect(error.message).toMatch(message);
  });

  it('validateEtcdLeaseScriptOptions checks without rendering', () => {
    expect(() => validateEtcdLeaseScriptOptions({ ...BASE, ttlSeconds: 3 })).toThrow(/ttlSeconds = 3/);
    expect(() => validateEtcdLeaseScriptOptions(BASE)).not.toThrow();
  });
});

describe('shellQuote', () => {
  // Seeded, so a failure reproduces.
  let seed = 42;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const alphabet = ['a', ' ', "'", '"', '\\', '$', '`', '(', ')', ';', '&', '|', '\n', '\t', '*', '?', '~', '#', '!', '{', '}', '-', '%', 'é', '\x01'];
  const samples = [
    '', "'", "''", "it's", '"', '$(touch /tmp/pwned)', '`touch /tmp/pwned`', "'; touch /tmp/pwned; '", '$HOME', '${x:-y}',
    'a\nb', '\\', '\\\'', '*', '-n', '--', '~root', '#', "'\"'\"'",
    ...Array.from({ length: 300 }, () => Array.from({ length: 1 + Math.floor(random() * 12) }, () => alphabet[Math.floor(random() * alphabet.length)]).join('')),
  ];

  it.each(SHELLS)('round-trips every value unchanged through $name', ({ argv }) => {
    const script = samples.map((value) => `printf '%s\\0' ${shellQuote(value)}`).join('\n');
    const result = spawnSync(argv[0], [...argv.slice(1), '-c', script], { encoding: 'utf8' });
    expect(result.stderr).toBe('');
    expect(result.stdout.split('\0')).toEqual([...samples, '']);
  });

  it('rejects a NUL byte, which no shell word can hold', () => {
    expect(() => shellQuote('a\0b')).toThrow(/NUL/);
  });
});

describe('the generated script against a real etcd', () => {
  let etcd: EtcdTestServer;
  const pod = (name: string) => ({ POD_NAME: name, POD_IP: '10.42.0.7' });
  const options = (overrides: Partial<EtcdLeaseScriptOptions> = {}): EtcdLeaseScriptOptions =>
    ({ endpoints: [etcd.endpoint], serviceName: 'payment', port: 8080, tags: ['primary', 'v2'], ttlSeconds: 5, keepAliveIntervalSeconds: 1, ...overrides });
  const start = (shell: string[], overrides: Partial<EtcdLeaseScriptOptions>, env: Record<string, string>) =>
    new Sidecar(shell, renderEtcdLeaseScript(options(overrides)), env);
  /** Waits until `key` exists with a live lease; returns that lease id. */
  const registered = async (sidecar: Sidecar, key: string, withinMs = 5_000, endpoint = etcd.endpoint): Promise<string> => {
    let lease: string | undefined;
    await eventually(`registration of ${key}\n${sidecar.output}`, async () => {
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
    for (const sidecar of Sidecar.running) sidecar.kill('SIGKILL');
    await Promise.all([...Sidecar.running].map((sidecar) => sidecar.exit));
  });
  afterAll(async () => {
    await etcd?.cleanup();
  });

  describe.each(SHELLS)('under $name', ({ argv }) => {
    it('puts the key under a lease with the configured TTL and a JSON value, and deletes both within 1 s of SIGTERM', async () => {
      const key = `/services/payment/web-${argv[0]}-0`;
      const before = Date.now();
      // A keep-alive interval near the TTL: a sidecar that slept in the foreground would take seconds to stop.
      const sidecar = start(argv, { keepAliveIntervalSeconds: 3 }, pod(`web-${argv[0]}-0`));
      const lease = await registered(sidecar, key);

      const stored = (await getKeyWithLease(etcd.endpoint, key))!;
      const value = JSON.parse(stored.value);
      expect(Object.keys(value)).toEqual(['host', 'port', 'tags', 'registered_at']);
      expect(value).toMatchObject({ host: '10.42.0.7', port: 8080, tags: ['primary', 'v2'] });
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

      sidecar.kill('SIGTERM');
      const elapsed = await eventually('deregistration', () => gone(key, lease), 3_000);
      expect(elapsed, sidecar.output).toBeLessThan(1_000);
      expect(await sidecar.exit).toEqual({ code: 0, signal: null });
      expect(sidecar.stdout).toContain(`deleted ${key}`);
      expect(sidecar.stdout).toContain(`revoked lease ${lease}`);
    });

    it('exits 2 with a clear message, writing nothing, when POD_NAME or POD_IP look wrong', async () => {
      const bad: [Record<string, string>, RegExp][] = [
        [{ POD_IP: '10.42.0.7' }, /POD_NAME='' is not a pod name/],
        [{ POD_NAME: 'web-0;touch', POD_IP: '10.42.0.7' }, /POD_NAME='web-0;touch' is not a pod name/],
        [{ POD_NAME: 'Web-0', POD_IP: '10.42.0.7' }, /POD_NAME='Web-0'/],
        [{ POD_NAME: 'web-0' }, /POD_IP='' is not an IP address/],
        [{ POD_NAME: 'web-0', POD_IP: '10.42.0.7","x":"y' }, /not an IP address/],
        [{ POD_NAME: 'web-0', POD_IP: '10.42.0' }, /POD_IP='10.42.0' is not an IP address/],
        [{ POD_NAME: 'web-0', POD_IP: '10.42.0.7.1' }, /not an IPv4 address/],
      ];
      for (const [env, message] of bad) {
        const sidecar = start(argv, { keyPrefix: '/bad-env' }, env);
        expect(await sidecar.exit, JSON.stringify(env)).toEqual({ code: 2, signal: null });
        expect(sidecar.stderr).toMatch(message);
      }
      expect(await listKeys(etcd.endpoint, '/bad-env')).toEqual([]);
      // An IPv6 pod IP is fine.
      const sidecar = start(argv, { keyPrefix: '/ipv6' }, { POD_NAME: 'web-0', POD_IP: 'fd00:10:42::7' });
      await registered(sidecar, '/ipv6/payment/web-0');
      expect(JSON.parse((await getKeyWithLease(etcd.endpoint, '/ipv6/payment/web-0'))!.value).host).toBe('fd00:10:42::7');
    });
  });

  it('registers with the defaults: key under /services, a 15 s lease', async () => {
    const sidecar = new Sidecar(SHELLS[0].argv, renderEtcdLeaseScript({ endpoints: [etcd.endpoint], serviceName: 'orders', port: 9090 }), pod('orders-0'));
    const lease = await registered(sidecar, '/services/orders/orders-0');
    expect((await leaseTimeToLive(etcd.endpoint, lease))!.grantedTtl).toBe(15);
    expect(JSON.parse((await getKeyWithLease(etcd.endpoint, '/services/orders/orders-0'))!.value).tags).toEqual([]);
  });

  it('leaves a SIGKILLed sidecar\'s key to expire with its lease, within TTL + 1 s', async () => {
    const key = '/services/payment/web-killed';
    const sidecar = start(SHELLS[0].argv, {}, pod('web-killed'));
    const lease = await registered(sidecar, key);
    sidecar.kill('SIGKILL');
    await sidecar.exit;
    // Nothing deleted it: it is the lease running out that removes it.
    expect((await getKeyWithLease(etcd.endpoint, key))?.lease).toBe(lease);
    const elapsed = await eventually('expiry of the killed sidecar\'s key', () => gone(key, lease), 10_000, 100);
    expect(elapsed).toBeLessThanOrEqual(6_000);
  });

  it('comes back by itself after etcd restarts with its data wiped', async () => {
    const key = '/services/payment/web-wiped';
    const sidecar = start(SHELLS[SHELLS.length - 1].argv, {}, pod('web-wiped'));
    const before = await registered(sidecar, key);
    await etcd.restart({ wipe: true });
    const after = await registered(sidecar, key, 10_000);
    expect(after).not.toBe(before);
    expect((await leaseTimeToLive(etcd.endpoint, after))!.keys).toEqual([key]);
    expect(JSON.parse((await getKeyWithLease(etcd.endpoint, key))!.value).host).toBe('10.42.0.7');
    expect(sidecar.stdout).toMatch(/lease \w+ is gone .*registering again/);
    expect(sidecar.exited).toBe(false);
  });

  it('registers again when its lease expired while it could not keep it alive', async () => {
    const key = '/services/payment/web-frozen';
    const sidecar = start(SHELLS[0].argv, {}, pod('web-frozen'));
    const before = await registered(sidecar, key);
    sidecar.kill('SIGSTOP');
    await eventually('expiry of the frozen sidecar\'s lease', () => gone(key, before), 10_000, 100);
    sidecar.kill('SIGCONT');
    const after = await registered(sidecar, key);
    expect(after).not.toBe(before);
    expect(sidecar.stdout).toContain(`lease ${before} is gone`);
  });

  it('keeps retrying while etcd is down, and is registered once it is back', async () => {
    const key = '/services/payment/web-outage';
    const sidecar = start(SHELLS[0].argv, {}, pod('web-outage'));
    await registered(sidecar, key);
    await etcd.stop();
    await eventually('a failed keep-alive', async () => /keep-alive of lease \w+ failed, retrying in 1s/.test(sidecar.stdout), 10_000);
    expect(sidecar.exited, sidecar.output).toBe(false);
    await etcd.restart();
    const lease = await registered(sidecar, key, 10_000);
    expect((await leaseTimeToLive(etcd.endpoint, lease))!.keys).toEqual([key]);
    // Still keeping it alive afterwards.
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    expect((await getKeyWithLease(etcd.endpoint, key))?.lease).toBe(lease);
  });

  it('puts the key back when it is deleted under a live lease', async () => {
    const key = '/services/payment/web-deleted';
    const sidecar = start(SHELLS[0].argv, {}, pod('web-deleted'));
    const lease = await registered(sidecar, key);
    await etcdctl(etcd.endpoint, 'del', key);
    expect(await registered(sidecar, key)).toBe(lease);
    expect(sidecar.stdout).toContain(`key ${key} is missing under live lease ${lease}`);
  });

  it('leaves no stale key or lease after 20 start/stop cycles (TERM and INT, every shell)', async () => {
    const leases: string[] = [];
    for (let i = 0; i < 20; i++) {
      const { argv } = SHELLS[i % SHELLS.length];
      const key = `/cycles/payment/web-${i}`;
      const sidecar = start(argv, { keyPrefix: '/cycles' }, pod(`web-${i}`));
      const lease = await registered(sidecar, key);
      leases.push(lease);
      sidecar.kill(i % 2 === 0 ? 'SIGTERM' : 'SIGINT');
      expect(await sidecar.exit, sidecar.output).toEqual({ code: 0, signal: null });
      expect(await gone(key, lease)).toBe(true);
    }
    expect(new Set(leases).size).toBe(20);
    expect(await listKeys(etcd.endpoint, '/cycles/')).toEqual([]);
    const live = await listLeases(etcd.endpoint);
    expect(leases.filter((lease) => live.includes(lease))).toEqual([]);
  }, 60_000);

  describe('with mutual TLS', () => {
    let tlsEtcd: EtcdTestServer;
    let pki: ReturnType<typeof createTestPki>;
    beforeAll(async () => {
      pki = createTestPki(mkdtempSync(join(workDir, 'pki-')));
      tlsEtcd = await EtcdTestServer.start({ tls: { ...pki.server, caFile: pki.caFile } });
    }, 30_000);
    afterAll(async () => {
      await tlsEtcd?.cleanup();
    });

    it('registers through https with --cacert, --cert and --key, and deregisters on SIGTERM', async () => {
      const key = '/services/payment/web-tls';
      const sidecar = start(SHELLS[0].argv, { endpoints: [tlsEtcd.tlsEndpoint!], tls: { caFile: pki.caFile, ...pki.client } }, pod('web-tls'));
      const lease = await registered(sidecar, key, 5_000, tlsEtcd.endpoint);
      expect((await leaseTimeToLive(tlsEtcd.endpoint, lease))!.keys).toEqual([key]);
      sidecar.kill('SIGTERM');
      expect(await sidecar.exit).toEqual({ code: 0, signal: null });
      expect(await getKeyWithLease(tlsEtcd.endpoint, key)).toBeUndefined();
    });

    it('is refused without the client certificate, and keeps retrying', async () => {
      const sidecar = start(SHELLS[0].argv, { endpoints: [tlsEtcd.tlsEndpoint!], tls: { caFile: pki.caFile } }, pod('web-no-cert'));
      await eventually('a failed attempt', async () => /lease grant failed, retrying in 1s/.test(sidecar.stdout), 10_000);
      expect(sidecar.exited, sidecar.output).toBe(false);
      expect(await listKeys(tlsEtcd.endpoint, '/services/payment/web-no-cert')).toEqual([]);
    });
  });

  it('keeps hostile baked-in values inert: the prefix is stored literally and no command runs', async () => {
    const marker = join(workDir, 'pwned');
    const hostilePrefix = `/x'$(touch\${IFS}${marker})'\`touch\${IFS}${marker}\`;"$(id)"`;
    const sidecar = start(SHELLS[0].argv, { keyPrefix: hostilePrefix }, pod('web-hostile'));
    await registered(sidecar, `${hostilePrefix}/payment/web-hostile`);
    expect(await listKeys(etcd.endpoint, '/x')).toEqual([`${hostilePrefix}/payment/web-hostile`]);

    const badTool = start(SHELLS[0].argv, { etcdctl: `etcdctl';touch\${IFS}${marker};'` }, pod('web-hostile-2'));
    expect((await badTool.exit).code).toBe(2);
    expect(badTool.stderr).toContain('not found in PATH');

    const badTls = start(SHELLS[0].argv, {
      endpoints: [etcd.endpoint.replace('http:', 'https:')],
      tls: { caFile: `/ca';touch\${IFS}${marker};'.pem`, certFile: `/$(touch\${IFS}${marker})`, keyFile: `/\`touch\${IFS}${marker}\`` },
    }, pod('web-hostile-3'));
    await eventually('a failed TLS attempt', async () => /failed/.test(badTls.stdout), 10_000);
    expect(existsSync(marker)).toBe(false);
  });
});
