import { ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestPki, freeLoopbackPort } from '../../support/etcd';
import { binaryPath } from './binaries';

/** Bounded waits: a cold start on a loaded 2-core machine takes 10-30 s. */
const READY_WITHIN_MS = 120_000;
const STOP_WITHIN_MS = 15_000;
const KUBECTL_TIMEOUT_MS = 120_000;
// kubeadm's default Service CIDR: the example pins the Consul DNS Service at 10.96.0.53 in it.
const SERVICE_CIDR = '10.96.0.0/12';

/** A running kube-apiserver with its etcd; one per test file (start in beforeAll, stop in afterAll). */
export interface ApiServer {
  /** Path of a kubeconfig for an admin user (group system:masters), by client certificate. */
  readonly kubeconfig: string;
  /** `https://127.0.0.1:<port>`. */
  readonly server: string;
  /** Runs the real kubectl against this server; rejects with stdout and stderr on a non-zero exit. */
  kubectl(args: readonly string[], stdin?: string): Promise<KubectlResult>;
  /** Stops kube-apiserver and etcd and deletes every file they and the certificates used. */
  stop(): Promise<void>;
}

export interface KubectlResult {
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Starts a real etcd and a real kube-apiserver on loopback ports the OS picked, with a fresh
 * CA, serving and admin client certificates and a service-account signing key, RBAC
 * authorization and the default admission plugins (Pod Security among them), and waits until
 * `/readyz` answers 200. There is no controller manager or kubelet: objects are stored and
 * admitted, never run.
 */
export async function startApiServer(): Promise<ApiServer> {
  // The ports are free when picked, but another test file's process may take one before
  // etcd or the API server binds it: start again on new ports when that is what failed.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce();
    } catch (error) {
      if (attempt >= 3 || !/address already in use/.test(String(error))) throw error;
    }
  }
}

async function startOnce(): Promise<ApiServer> {
  const dir = mkdtempSync(join(tmpdir(), 'dk-apiserver-'));
  const processes: Running[] = [];
  const stop = async () => {
    // The API server first, so it does not log etcd errors while shutting down.
    for (const { child } of processes.reverse()) await stopProcess(child);
    processes.length = 0;
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const pki = createTestPki(mkdirIn(dir, 'pki'), '/O=system:masters/CN=discovery-kit-e2e-admin');
    const saKey = join(dir, 'pki', 'service-account.key');
    const saPub = join(dir, 'pki', 'service-account.pub');
    openssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', saKey);
    openssl('pkey', '-in', saKey, '-pubout', '-out', saPub);

    const [etcdClient, etcdPeer, securePort] = [await freeLoopbackPort(), await freeLoopbackPort(), await freeLoopbackPort()];
    const etcdUrl = `http://127.0.0.1:${etcdClient}`;
    const peerUrl = `http://127.0.0.1:${etcdPeer}`;
    processes.push(launch(binaryPath('etcd'), dir, 'etcd', [
      '--name=e2e', `--data-dir=${join(dir, 'etcd-data')}`, '--log-level=warn',
      `--listen-client-urls=${etcdUrl}`, `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=${peerUrl}`, `--initial-advertise-peer-urls=${peerUrl}`, `--initial-cluster=e2e=${peerUrl}`,
    ]));
    const server = `https://127.0.0.1:${securePort}`;
    processes.push(launch(binaryPath('kube-apiserver'), dir, 'kube-apiserver', [
      `--etcd-servers=${etcdUrl}`,
      '--bind-address=127.0.0.1', '--advertise-address=127.0.0.1', `--secure-port=${securePort}`,
      // The reconciler publishes the advertise address as the `kubernetes` Service's endpoint,
      // which validation refuses for a loopback address.
      '--endpoint-reconciler-type=none',
      `--cert-dir=${join(dir, 'pki')}`,
      `--tls-cert-file=${pki.server.certFile}`, `--tls-private-key-file=${pki.server.keyFile}`,
      `--client-ca-file=${pki.caFile}`,
      '--authorization-mode=RBAC',
      // As kubeadm does: privileged pods are then refused by Pod Security, not by a server flag.
      '--allow-privileged=true',
      `--service-cluster-ip-range=${SERVICE_CIDR}`,
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      `--service-account-key-file=${saPub}`, `--service-account-signing-key-file=${saKey}`,
    ]));
    const kubeconfig = join(dir, 'kubeconfig');
    writeFileSync(kubeconfig, JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'e2e', cluster: { server, 'certificate-authority': pki.caFile } }],
      users: [{ name: 'admin', user: { 'client-certificate': pki.client.certFile, 'client-key': pki.client.keyFile } }],
      contexts: [{ name: 'e2e', context: { cluster: 'e2e', user: 'admin' } }],
      'current-context': 'e2e',
    }, null, 2));
    const tls = { ca: readFileSync(pki.caFile), cert: readFileSync(pki.client.certFile), key: readFileSync(pki.client.keyFile) };
    await waitReady(`${server}/readyz`, tls, processes, dir);
    return { kubeconfig, server, stop, kubectl: (args, stdin) => kubectl(dir, kubeconfig, args, stdin) };
  } catch (error) {
    await stop();
    throw error;
  }
}

function mkdirIn(parent: string, name: string): string {
  const dir = join(parent, name);
  mkdirSync(dir);
  return dir;
}

function openssl(...args: string[]): void {
  const result = spawnSync('openssl', args, { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`openssl ${args.join(' ')} failed: ${result.error?.message ?? result.stderr}`);
}

interface Running {
  readonly name: string;
  readonly child: ChildProcess;
}

/** Starts `binary` with its output in `<dir>/<name>.log`; a crashed test worker takes it along. */
function launch(binary: string, dir: string, name: string, args: string[]): Running {
  const log = openSync(join(dir, `${name}.log`), 'a');
  // Only PATH: etcd reads every ETCD_* variable as a flag.
  const child = spawn(binary, args, { env: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, stdio: ['ignore', log, log] });
  closeSync(log);
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  child.once('exit', () => process.removeListener('exit', killOnExit));
  child.once('error', () => undefined); // a missing binary shows up as an early exit in waitReady
  return { name, child };
}

function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (exited(child) || child.pid === undefined) return;
  const done = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_WITHIN_MS);
  await done;
  clearTimeout(timer);
}

function logTails(processes: readonly Running[], dir: string): string {
  return processes.map(({ name, child }) => {
    let text: string;
    try {
      text = readFileSync(join(dir, `${name}.log`), 'utf8').slice(-4000);
    } catch {
      text = '(no log)';
    }
    return `--- ${name} (${exited(child) ? `exited: ${child.exitCode ?? child.signalCode}` : 'running'}) ---\n${text}`;
  }).join('\n');
}

async function waitReady(url: string, tls: { ca: Buffer; cert: Buffer; key: Buffer }, processes: readonly Running[], dir: string): Promise<void> {
  const deadline = Date.now() + READY_WITHIN_MS;
  let last = 'no answer yet';
  while (Date.now() < deadline) {
    if (processes.some(({ child }) => exited(child))) throw new Error(`the API server did not start: a process exited\n${logTails(processes, dir)}`);
    last = await new Promise<string>((resolve) => {
      const req = request(url, { ...tls, timeout: 5_000 }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => { body += chunk; });
        res.on('end', () => resolve(res.statusCode === 200 ? 'ok' : `${res.statusCode}: ${body.slice(0, 2000)}`));
      });
      req.on('timeout', () => req.destroy(new Error('timed out')));
      req.on('error', (error) => resolve(error.message));
      req.end();
    });
    if (last === 'ok') return;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`${url} was not ready within ${READY_WITHIN_MS} ms (last answer: ${last})\n${logTails(processes, dir)}`);
}

function kubectl(dir: string, kubeconfig: string, args: readonly string[], stdin?: string): Promise<KubectlResult> {
  return new Promise((resolve, reject) => {
    // Its own HOME and discovery cache: nothing of the developer's ~/.kube is read or written.
    const child = execFile(binaryPath('kubectl'), [`--kubeconfig=${kubeconfig}`, `--cache-dir=${join(dir, 'kube-cache')}`, ...args], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir },
      timeout: KUBECTL_TIMEOUT_MS,
      maxBuffer: 64 * 1024 * 1024,
    }, (error, stdout, stderr) => {
      if (error) reject(new Error(`kubectl ${args.join(' ')} failed (${error.code ?? error.signal}):\n${stderr}${stdout}`));
      else resolve({ stdout, stderr });
    });
    child.stdin?.end(stdin ?? '');
  });
}
