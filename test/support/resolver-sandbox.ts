import { ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LoggedQuery } from './dns-server';

const REPO_ROOT = join(__dirname, '..', '..');
const SERVER_READY_WITHIN_MS = 30_000;
// glibc retries an unanswered query after 5 s (twice by default); a command stuck past this failed.
const COMMAND_TIMEOUT_MS = 20_000;
const STOP_WITHIN_MS = 5_000;

/** The parts of a pod spec the kubelet's resolv.conf depends on. */
export interface PodDns {
  readonly dnsPolicy?: string;
  readonly hostNetwork?: boolean;
  readonly dnsConfig?: { nameservers?: string[]; searches?: string[]; options?: { name: string; value?: string }[] };
}

/** A resolv.conf the kubelet composes, and its parts. */
export interface ResolvConf {
  readonly text: string;
  readonly searches: readonly string[];
  readonly options: readonly string[];
}

/** Where a pod runs: its namespace, the cluster DNS address and domain, and the node's own search domains. */
export interface PodDnsSetting {
  readonly namespace: string;
  readonly nameserver: string;
  readonly clusterDomain: string;
  /** The search line of the node's resolv.conf, which the kubelet appends to the cluster's. */
  readonly nodeSearches?: readonly string[];
}

/**
 * The resolv.conf the kubelet writes for a ClusterFirst pod, following Kubernetes'
 * pkg/kubelet/network/dns/dns.go (GetPodDNS, generateSearchesForDNSClusterFirst, appendDNSConfig,
 * mergeDNSOptions): the cluster DNS as the only nameserver, the search list
 * `<ns>.svc.<domain> svc.<domain> <domain>` followed by the node's own search domains, the
 * default options `ndots:5`, then the pod's dnsConfig appended: nameservers and searches added
 * without duplicates, and an option the pod names replaces the default of the same name.
 */
export function clusterFirstResolvConf(pod: PodDns, { namespace, nameserver, clusterDomain, nodeSearches = [] }: PodDnsSetting): ResolvConf {
  if ((pod.dnsPolicy ?? 'ClusterFirst') !== 'ClusterFirst' || pod.hostNetwork) {
    throw new Error(`pod is not ClusterFirst without host network (dnsPolicy ${pod.dnsPolicy}, hostNetwork ${pod.hostNetwork})`);
  }
  const unique = (values: string[]) => [...new Set(values)];
  const nameservers = unique([nameserver, ...(pod.dnsConfig?.nameservers ?? [])]);
  const clusterSearches = [`${namespace}.svc.${clusterDomain}`, `svc.${clusterDomain}`, clusterDomain];
  const searches = unique([...clusterSearches, ...nodeSearches, ...(pod.dnsConfig?.searches ?? [])]);
  const options = new Map([['ndots', '5']]);
  for (const { name, value } of pod.dnsConfig?.options ?? []) options.set(name, value ?? '');
  const optionList = [...options].map(([name, value]) => (value === '' ? name : `${name}:${value}`));
  const text = [...nameservers.map((ns) => `nameserver ${ns}`), `search ${searches.join(' ')}`, `options ${optionList.join(' ')}`, ''].join('\n');
  return { text, searches, options: optionList };
}

/** Fails unless running as root, which a network namespace and its resolv.conf bind mount need. */
export function requireRoot(): void {
  if (process.getuid?.() !== 0) {
    throw new Error('the resolver tests need root: they create a network namespace (ip netns add) whose resolv.conf is bind-mounted over /etc/resolv.conf; run npm test as root, as CI does');
  }
}

/** What one lookup did: its exit status and output, the addresses it printed, and every query the DNS server saw. */
export interface LookupResult {
  readonly exitCode: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly addresses: string[];
  readonly queries: LoggedQuery[];
}

/**
 * A network namespace with only loopback up and {@link startDnsServer}'s server on
 * `<address>:53` inside it. `ip netns exec` bind-mounts /etc/netns/<name>/resolv.conf over
 * /etc/resolv.conf for the command it runs, so a real resolver (glibc's getent, a musl binary)
 * reads the resolv.conf under test while the machine's own stays untouched. Needs root.
 * One lookup at a time: each rewrites the namespace's resolv.conf.
 */
export class ResolverSandbox {
  static async start(zone: Record<string, string>, address = '127.0.0.10'): Promise<ResolverSandbox> {
    requireRoot();
    const sandbox = new ResolverSandbox(address);
    try {
      await sandbox.launch(zone);
    } catch (error) {
      await sandbox.close();
      throw error;
    }
    return sandbox;
  }

  readonly name = `dk-resolver-${process.pid}`;
  private readonly etcDir = join('/etc/netns', this.name);
  private readonly workDir = mkdtempSync(join(tmpdir(), 'dk-resolver-'));
  private readonly logFile = join(this.workDir, 'queries.jsonl');
  private server: ChildProcess | undefined;
  private namespaceAdded = false;

  private constructor(readonly address: string) {}

  private async launch(zone: Record<string, string>): Promise<void> {
    mkdirSync(this.etcDir, { recursive: true });
    writeFileSync(join(this.etcDir, 'resolv.conf'), `nameserver ${this.address}\n`);
    writeFileSync(this.logFile, '');
    await mustSucceed(['ip', 'netns', 'add', this.name]);
    this.namespaceAdded = true;
    await mustSucceed(['ip', 'netns', 'exec', this.name, 'ip', 'link', 'set', 'lo', 'up']);
    const server = spawn('ip', ['netns', 'exec', this.name, process.execPath, '--import', 'tsx', join(__dirname, 'dns-server.ts'), this.address, JSON.stringify(zone), this.logFile], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      let stderr = '';
      const timer = setTimeout(() => reject(new Error(`DNS server not ready within ${SERVER_READY_WITHIN_MS} ms: ${stderr}`)), SERVER_READY_WITHIN_MS);
      server.stderr!.on('data', (chunk) => (stderr += chunk));
      server.stdout!.on('data', (chunk) => {
        if (String(chunk).includes('ready')) {
          clearTimeout(timer);
          resolve();
        }
      });
      server.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`DNS server exited (${code ?? signal}) before it was ready: ${stderr}`));
      });
    });
  }

  /** Runs `command` in the namespace with `resolvConf` as its /etc/resolv.conf; returns what it printed and queried. */
  async lookup(resolvConf: string, command: string[]): Promise<LookupResult> {
    writeFileSync(join(this.etcDir, 'resolv.conf'), resolvConf);
    const logStart = readFileSync(this.logFile).length;
    const { exitCode, stdout, stderr } = await runBounded(['ip', 'netns', 'exec', this.name, ...command]);
    const queries = readFileSync(this.logFile).subarray(logStart).toString().split('\n').filter(Boolean).map((line) => JSON.parse(line));
    const malformed = queries.find((q) => 'error' in q);
    if (malformed) throw new Error(`the DNS server could not read a query: ${malformed.error}`);
    // getent ahosts prints `<address> STREAM <name>`; musl-lookup prints the address alone.
    const addresses = [...new Set(stdout.split('\n').map((line) => line.split(/\s+/)[0]).filter(Boolean))];
    return { exitCode, stdout, stderr, addresses, queries };
  }

  /** Stops the server, deletes the namespace and its /etc/netns directory; safe to call after a failed start. */
  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server && server.exitCode === null && server.signalCode === null) {
      const exited = new Promise((resolve) => server.once('exit', resolve));
      server.kill('SIGTERM');
      const timer = setTimeout(() => server.kill('SIGKILL'), STOP_WITHIN_MS);
      await exited;
      clearTimeout(timer);
    }
    try {
      if (this.namespaceAdded) await mustSucceed(['ip', 'netns', 'del', this.name]);
      this.namespaceAdded = false;
    } finally {
      rmSync(this.etcDir, { recursive: true, force: true });
      rmSync(this.workDir, { recursive: true, force: true });
    }
  }
}

/** Runs a command, killed after {@link COMMAND_TIMEOUT_MS}; resolves with its exit status and output. */
function runBounded([command, ...args]: string[]): Promise<{ exitCode: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: COMMAND_TIMEOUT_MS });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.once('error', reject);
    child.once('close', (code, signal) =>
      signal ? reject(new Error(`${command} ${args.join(' ')} killed by ${signal} (limit ${COMMAND_TIMEOUT_MS} ms): ${stderr}`)) : resolve({ exitCode: code, stdout, stderr }),
    );
  });
}

async function mustSucceed(argv: string[]): Promise<void> {
  const { exitCode, stderr } = await runBounded(argv);
  if (exitCode !== 0) throw new Error(`${argv.join(' ')} exited ${exitCode}: ${stderr}`);
}
