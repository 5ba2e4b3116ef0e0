import { ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
// Only PATH: etcd reads every ETCD_* variable as a flag, so nothing else may leak in.
const ETCD_ENV = { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin' };
const HEALTHY_WITHIN_MS = 15_000;
// etcdctl's keep-alive and timetolive ignore --command-timeout, so every call is bounded here.
const ETCDCTL_TIMEOUT_MS = 5_000;

/** A free TCP port on 127.0.0.1 (the OS picks it; it is released before returning). */
export async function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** Certificates for a TLS client listener (PEM file paths). */
export interface EtcdServerTls {
  readonly certFile: string;
  readonly keyFile: string;
  /** CA that client certificates must chain to (`--client-cert-auth`). */
  readonly caFile: string;
}

/**
 * A real single-member etcd (v3 API) on loopback ports with a temporary data dir. The ports
 * stay the same across restarts, so clients configured with {@link endpoint} reconnect.
 */
export class EtcdTestServer {
  /**
   * Starts a member and waits until it answers `endpoint health`. With `tls` it also serves
   * {@link tlsEndpoint}, which requires a client certificate signed by `tls.caFile`.
   */
  static async start(options: { tls?: EtcdServerTls } = {}): Promise<EtcdTestServer> {
    const tls = options.tls && { ...options.tls, port: await freeLoopbackPort() };
    const server = new EtcdTestServer(await freeLoopbackPort(), await freeLoopbackPort(), tls);
    await server.launch();
    return server;
  }

  /**
   * A new single member restored from a snapshot as the README restores each EtcdCluster
   * member: `snapshot restore` (etcdutl where installed, else etcdctl) into an empty data dir
   * with the member's name, peer URL and cluster token, then etcd started on that data dir.
   */
  static async restoreFrom(snapshot: string): Promise<EtcdTestServer> {
    const server = new EtcdTestServer(await freeLoopbackPort(), await freeLoopbackPort());
    const tool = spawnSync('sh', ['-c', 'command -v etcdutl || command -v etcdctl'], { encoding: 'utf8' }).stdout.trim();
    const peer = `http://127.0.0.1:${server.peerPort}`;
    await run(tool, ['snapshot', 'restore', snapshot, `--data-dir=${server.dataDir}`, '--name=test',
      `--initial-cluster=test=${peer}`, `--initial-advertise-peer-urls=${peer}`, '--initial-cluster-token=etcd.test'], {
      env: { ...ETCD_ENV, ETCDCTL_API: '3' }, timeout: 30_000,
    });
    await server.launch();
    return server;
  }

  /** Plain-HTTP client URL, `http://127.0.0.1:<port>`; the helpers below use it. */
  readonly endpoint: string;
  /** Mutual-TLS client URL, `https://127.0.0.1:<port>`, when started with `tls`. */
  readonly tlsEndpoint: string | undefined;
  private readonly workDir = mkdtempSync(join(tmpdir(), 'etcd-test-'));
  private process: ChildProcess | undefined;

  private constructor(clientPort: number, private readonly peerPort: number, private readonly tls?: EtcdServerTls & { port: number }) {
    this.endpoint = `http://127.0.0.1:${clientPort}`;
    this.tlsEndpoint = tls && `https://127.0.0.1:${tls.port}`;
  }

  /** The member's data dir (inside the temporary work dir). */
  get dataDir(): string {
    return join(this.workDir, 'data');
  }

  /** Kills the member (SIGKILL unless told otherwise) and waits until it has exited. */
  async stop(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.process;
    this.process = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill(signal);
    await exited;
  }

  /** Stops and starts the member on the same ports; `wipe` deletes its data first (a data-loss restart). */
  async restart(options: { wipe?: boolean } = {}): Promise<void> {
    await this.stop();
    if (options.wipe) rmSync(this.dataDir, { recursive: true, force: true });
    await this.launch();
  }

  /** Stops the member and deletes the work dir. */
  async cleanup(): Promise<void> {
    await this.stop();
    rmSync(this.workDir, { recursive: true, force: true });
  }

  /** The end of the member's log, for failure messages. */
  logTail(chars = 3000): string {
    try {
      return readFileSync(join(this.workDir, 'etcd.log'), 'utf8').slice(-chars);
    } catch {
      return '(no log)';
    }
  }

  private async launch(): Promise<void> {
    const peer = `http://127.0.0.1:${this.peerPort}`;
    const log = openSync(join(this.workDir, 'etcd.log'), 'a');
    const clientUrls = [this.endpoint, ...(this.tlsEndpoint ? [this.tlsEndpoint] : [])].join(',');
    // --client-cert-auth applies to the TLS listener only; the plain one stays open for the helpers.
    const tlsFlags = this.tls
      ? [`--cert-file=${this.tls.certFile}`, `--key-file=${this.tls.keyFile}`, `--trusted-ca-file=${this.tls.caFile}`, '--client-cert-auth']
      : [];
    const child = spawn('etcd', [
      '--name=test', `--data-dir=${this.dataDir}`,
      `--listen-client-urls=${clientUrls}`, `--advertise-client-urls=${clientUrls}`,
      `--listen-peer-urls=${peer}`, `--initial-advertise-peer-urls=${peer}`, `--initial-cluster=test=${peer}`,
      ...tlsFlags,
    ], { env: ETCD_ENV, stdio: ['ignore', log, log] });
    closeSync(log);
    this.process = child;
    // A crashed test worker must not leave a member running.
    const killOnExit = () => child.kill('SIGKILL');
    process.once('exit', killOnExit);
    child.once('exit', () => process.removeListener('exit', killOnExit));
    const deadline = Date.now() + HEALTHY_WITHIN_MS;
    for (;;) {
      try {
        await etcdctl(this.endpoint, 'endpoint', 'health');
        return;
      } catch (error) {
        const exited = child.exitCode !== null || child.signalCode !== null;
        if (exited || Date.now() > deadline) {
          await this.stop();
          throw new Error(`etcd on ${this.endpoint} ${exited ? 'exited' : `was not healthy within ${HEALTHY_WITHIN_MS} ms`}: ${error}\n${this.logTail()}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  }
}

/** Runs etcdctl (v3 API) against `endpoint` and returns its stdout. */
export async function etcdctl(endpoint: string, ...args: string[]): Promise<string> {
  const { stdout } = await run('etcdctl', [`--endpoints=${endpoint}`, '--dial-timeout=1s', '--command-timeout=3s', ...args], {
    env: { ...ETCD_ENV, ETCDCTL_API: '3' },
    timeout: ETCDCTL_TIMEOUT_MS,
  });
  return stdout;
}

/** etcdctl's JSON, with int64 lease ids kept as strings (they exceed 2^53). */
async function etcdctlJson(endpoint: string, ...args: string[]): Promise<any> {
  const text = await etcdctl(endpoint, '-w', 'json', ...args);
  return JSON.parse(text.replace(/"(lease|id)":(\d+)/g, '"$1":"$2"'));
}

const fromBase64 = (value: string) => Buffer.from(value, 'base64').toString('utf8');
// etcdctl prints lease ids as 16 hex digits.
const leaseHex = (decimal: string) => BigInt(decimal).toString(16).padStart(16, '0');

/** A key as stored: its value and the id of its lease, as etcdctl prints it (16 hex digits). */
export interface StoredKey {
  readonly value: string;
  /** Absent for a key without a lease. */
  readonly lease?: string;
}

/** The key's value and lease, or undefined if there is no such key. */
export async function getKeyWithLease(endpoint: string, key: string): Promise<StoredKey | undefined> {
  const kv = (await etcdctlJson(endpoint, 'get', key)).kvs?.[0];
  if (!kv) return undefined;
  return { value: fromBase64(kv.value ?? ''), ...(kv.lease ? { lease: leaseHex(kv.lease) } : {}) };
}

/** The key's value, or undefined if there is no such key. */
export async function getKey(endpoint: string, key: string): Promise<string | undefined> {
  return (await getKeyWithLease(endpoint, key))?.value;
}

/** Every key under `prefix`. */
export async function listKeys(endpoint: string, prefix: string): Promise<string[]> {
  const kvs: { key: string }[] = (await etcdctlJson(endpoint, 'get', '--prefix', '--keys-only', prefix)).kvs ?? [];
  return kvs.map((kv) => fromBase64(kv.key));
}

/** Ids (hex) of every live lease. */
export async function listLeases(endpoint: string): Promise<string[]> {
  const leases: { id: string }[] = (await etcdctlJson(endpoint, 'lease', 'list')).leases ?? [];
  return leases.map((lease) => leaseHex(lease.id));
}

/** What `lease timetolive --keys` reports; undefined once the lease expired or was revoked. */
export interface LeaseInfo {
  /** Seconds left. */
  readonly ttl: number;
  /** TTL the lease was granted with. */
  readonly grantedTtl: number;
  readonly keys: string[];
}

/** The lease's remaining and granted TTL and attached keys, or undefined if it is gone. */
export async function leaseTimeToLive(endpoint: string, lease: string): Promise<LeaseInfo | undefined> {
  const info = await etcdctlJson(endpoint, 'lease', 'timetolive', '--keys', lease);
  if (info.ttl < 0) return undefined;
  return { ttl: info.ttl, grantedTtl: info['granted-ttl'], keys: (info.keys ?? []).map(fromBase64) };
}

/** A throwaway CA with a server certificate for 127.0.0.1 and a client certificate. */
export interface TestPki {
  readonly caFile: string;
  readonly server: { readonly certFile: string; readonly keyFile: string };
  readonly client: { readonly certFile: string; readonly keyFile: string };
}

/**
 * Creates a {@link TestPki} under `dir` with the openssl CLI (P-256 keys, valid one day). The
 * client certificate's subject is `clientSubject` (an API server reads the user from its CN
 * and the groups from its O).
 */
export function createTestPki(dir: string, clientSubject = '/CN=client'): TestPki {
  const file = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => {
    const result = spawnSync('openssl', args, { encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`openssl ${args.join(' ')} failed: ${result.stderr}`);
  };
  const newKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl('req', '-x509', ...newKey, '-keyout', file('ca.key'), '-out', file('ca.crt'), '-subj', '/CN=discovery-kit test CA', '-days', '1');
  const issue = (name: string, subject: string, extensions: string) => {
    writeFileSync(file(`${name}.ext`), extensions);
    openssl('req', ...newKey, '-keyout', file(`${name}.key`), '-out', file(`${name}.csr`), '-subj', subject);
    openssl('x509', '-req', '-in', file(`${name}.csr`), '-CA', file('ca.crt'), '-CAkey', file('ca.key'), '-CAcreateserial',
      '-out', file(`${name}.crt`), '-days', '1', '-extfile', file(`${name}.ext`));
    return { certFile: file(`${name}.crt`), keyFile: file(`${name}.key`) };
  };
  return {
    caFile: file('ca.crt'),
    server: issue('server', '/CN=server', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n'),
    client: issue('client', clientSubject, 'extendedKeyUsage=clientAuth\n'),
  };
}
