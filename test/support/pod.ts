import { ChildProcess, execFile, spawn } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/**
 * Runs containers of generated pod specs as real processes, the way kubelet would start them
 * (as far as these tests need): `command`/`args` with `$(VAR)` expansion, env from values,
 * the downward API and Secrets, ConfigMap, Secret, emptyDir and claim volumes at their
 * mountPaths, on a read-only root filesystem (test/support/pod-root.sh, in a private mount
 * namespace: needs root, as the CI machines are). What differs from a cluster: every pod
 * shares the host's network, so each gets its own 127.x.y.z address as its pod IP, and the
 * host's /usr stands in for the image's programs.
 */

const POD_ROOT_SCRIPT = join(__dirname, 'pod-root.sh');
/** The consul binary's directory is mounted here inside every pod. */
const POD_BIN = '/opt/discovery-kit/bin';
const POD_PATH = `${POD_BIN}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`;

/** How to kill each running pod: a crashed test worker must not leave one running. */
const LIVE_PODS = new Set<() => void>();
process.once('exit', () => LIVE_PODS.forEach((kill) => kill()));

/** The namespace's Secrets as the test manages them; mounted Secret volumes follow changes at once. */
export class Secrets {
  private readonly data = new Map<string, Record<string, string>>();
  private readonly mounted = new Map<string, { dir: string; items?: { key: string; path: string }[] }[]>();

  get(name: string): Record<string, string> | undefined {
    return this.data.get(name);
  }

  /** Creates or replaces a Secret; every volume that mounts it is rewritten like kubelet's atomic writer does. */
  set(name: string, data: Record<string, string>): void {
    this.data.set(name, data);
    for (const volume of this.mounted.get(name) ?? []) writeAtomically(volume.dir, projected(data, volume.items));
  }

  /** A directory that shows Secret `name` like a Secret volume (empty while the Secret does not exist). */
  mount(name: string, dir: string, items?: { key: string; path: string }[]): void {
    mkdirSync(dir, { recursive: true });
    this.mounted.set(name, [...(this.mounted.get(name) ?? []), { dir, items }]);
    const data = this.data.get(name);
    if (data) writeAtomically(dir, projected(data, items));
  }
}

function projected(data: Record<string, string>, items?: { key: string; path: string }[]): Record<string, string> {
  if (!items) return data;
  return Object.fromEntries(items.filter((i) => i.key in data).map((i) => [i.path, data[i.key]]));
}

/**
 * kubelet's AtomicWriter layout: the files live in a timestamped directory, `..data` points
 * at it, and each visible name is a symlink through `..data`. An update writes a new
 * directory and swaps `..data` with a rename, so readers see either version, never a mix.
 */
function writeAtomically(dir: string, files: Record<string, string>): void {
  const version = mkdtempSync(join(dir, `..${new Date().toISOString().replace(/[-:.]/g, '_')}.`));
  for (const [name, content] of Object.entries(files)) writeFileSync(join(version, name), content, { mode: 0o440 });
  const previous = readdirSync(dir).filter((e) => e.startsWith('..') && e !== '..data' && join(dir, e) !== version);
  symlinkSync(version.slice(dir.length + 1), join(dir, '..data_tmp'));
  renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
  for (const name of Object.keys(files)) {
    try {
      symlinkSync(join('..data', name), join(dir, name));
    } catch (error: any) {
      if (error.code !== 'EEXIST') throw error;
    }
  }
  for (const old of previous) rmSync(join(dir, old), { recursive: true, force: true });
}

/** What a pod needs besides its generated container spec. */
export interface PodOptions {
  /** metadata.name (also the hostname, which Consul takes as its node name). */
  readonly name: string;
  /** The pod IP: a loopback address of its own. */
  readonly address: string;
  /** The generated container. */
  readonly container: any;
  /** The generated pod volumes. */
  readonly volumes: readonly any[];
  /** ConfigMap contents by name, as the test wants them mounted. */
  readonly configMaps: Readonly<Record<string, Record<string, string>>>;
  readonly secrets: Secrets;
  /** Persistent directories for volumes that come from a StatefulSet's claims, by volume name. */
  readonly claims?: Readonly<Record<string, string>>;
  /** Directory whose programs the pod finds first on its PATH (the consul binary). */
  readonly binDir: string;
  /** Rewrites a literal env value or probe command for loopback (addresses only). */
  readonly rewrite?: (value: string) => string;
  /** Flags appended to the container's args: what only loopback needs. */
  readonly extraArgs?: readonly string[];
  /** Values that replace what the container's env would get (e.g. a broken downward API value). */
  readonly envOverrides?: Readonly<Record<string, string>>;
  /** Replaces the container's `/bin/sh` (for example with busybox's, as in the Consul image). */
  readonly shell?: readonly string[];
  /** Names the pod resolves to loopback addresses (its /etc/hosts), as cluster DNS would resolve Services: TLS then verifies the real name. */
  readonly hosts?: Readonly<Record<string, string>>;
  /** Where the pod's directories go. */
  readonly workDir: string;
}

/** The result of a command run in a pod. */
export interface ExecResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Thrown where kubelet would refuse to start the container, e.g. for a missing Secret. */
export class PodStartError extends Error {}

/** One container of a pod, run as a real process; start, stop and start again like kubelet. */
export class Pod {
  private process: ChildProcess | undefined;
  private exitPromise: Promise<number | null> = Promise.resolve(null);
  private readonly dir: string;
  private starts = 0;

  constructor(readonly options: PodOptions) {
    this.dir = join(options.workDir, options.name);
    mkdirSync(this.dir, { recursive: true });
  }

  get name(): string {
    return this.options.name;
  }

  get address(): string {
    return this.options.address;
  }

  get pid(): number | undefined {
    return this.running ? this.process?.pid : undefined;
  }

  get running(): boolean {
    const child = this.process;
    return child !== undefined && child.exitCode === null && child.signalCode === null;
  }

  /** Resolves with the exit code (null after a signal) when the current process ends. */
  get exited(): Promise<number | null> {
    return this.exitPromise;
  }

  /** The container's environment as kubelet would set it. */
  env(): Record<string, string> {
    const env: Record<string, string> = { PATH: POD_PATH, HOSTNAME: this.name };
    for (const variable of this.options.container.env ?? []) {
      env[variable.name] = this.options.envOverrides?.[variable.name] ?? this.envValue(variable, env);
    }
    return env;
  }

  /**
   * Starts the container. By default as a new pod: emptyDirs start empty, claims keep their
   * content. `containerRestart` keeps the emptyDirs, as kubelet does when a container of a
   * live pod restarts.
   */
  start(options: { containerRestart?: boolean } = {}): void {
    if (this.running) throw new Error(`${this.name} is already running`);
    this.starts += 1;
    const env = this.env();
    const mounts = [...this.mounts(options.containerRestart ?? false), ...this.hostsMount()];
    const { container } = this.options;
    const argv = [...(container.command ?? []), ...(container.args ?? []), ...(this.options.extraArgs ?? [])].map((arg) => expandVars(arg, env));
    if (this.options.shell && argv[0] === '/bin/sh') argv.splice(0, 1, ...this.options.shell);
    const root = mkdtempSync(join(this.dir, 'root-'));
    const log = openSync(this.logFile, 'a');
    writeFileSync(log, `--- start ${this.starts} at ${new Date().toISOString()}: ${argv.join(' ').slice(0, 300)}\n`);
    // Its own process group stands for the container's PID namespace: when the first process
    // (PID 1 in a container) exits, every other process of the container is killed with it.
    const child = spawn('unshare', ['--mount', 'sh', POD_ROOT_SCRIPT, root, this.options.binDir, ...mounts, '--', ...argv], {
      env, stdio: ['ignore', log, log], detached: true,
    });
    closeSync(log);
    this.process = child;
    const killGroup = () => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // the group is gone already
      }
    };
    this.exitPromise = new Promise((resolve) => child.once('exit', (code) => {
      killGroup();
      resolve(code);
    }));
    LIVE_PODS.add(killGroup);
    child.once('exit', () => {
      LIVE_PODS.delete(killGroup);
      rmSync(root, { recursive: true, force: true });
    });
  }

  /**
   * Stops the container like kubelet: `signal` (SIGTERM), then SIGKILL after `graceMs`
   * (the pod's terminationGracePeriodSeconds by default). Resolves with the exit code.
   */
  async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 1000 * (this.options.container.terminationGracePeriodSeconds ?? 30)): Promise<number | null> {
    const child = this.process;
    if (!child || !this.running) return child?.exitCode ?? null;
    // kubelet signals PID 1 only; SIGKILL ends the whole container.
    if (signal === 'SIGKILL') process.kill(-child.pid!, 'SIGKILL');
    else child.kill(signal);
    const timer = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), graceMs);
    try {
      return await this.exitPromise;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Runs a command inside the running container (`kubectl exec`): same root, mounts and env. */
  exec(argv: readonly string[], options: { env?: Record<string, string>; timeoutMs?: number } = {}): Promise<ExecResult> {
    const pid = this.pid;
    if (pid === undefined) return Promise.reject(new Error(`${this.name} is not running`));
    return new Promise((resolve) => {
      execFile('nsenter', ['--target', String(pid), '--mount', '--root', '--wd', '--', ...argv], {
        env: { ...this.env(), ...options.env }, timeout: options.timeoutMs ?? 15_000, maxBuffer: 16 * 1024 * 1024,
      }, (error, stdout, stderr) => resolve({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, stdout, stderr }));
    });
  }

  /** Runs the generated readiness probe once (exec or tcpSocket); true when it passes. */
  async probeReady(): Promise<boolean> {
    const probe = this.options.container.readinessProbe;
    const timeoutMs = 1000 * (probe.timeoutSeconds ?? 1);
    if (probe.exec) {
      const rewrite = this.options.rewrite ?? ((s: string) => s);
      return (await this.exec(probe.exec.command.map(rewrite), { timeoutMs })).code === 0;
    }
    if (probe.tcpSocket) {
      const port = this.containerPort(probe.tcpSocket.port);
      return new Promise((resolve) => {
        const socket = connect({ host: this.address, port, timeout: timeoutMs });
        socket.once('connect', () => { socket.destroy(); resolve(true); });
        socket.once('error', () => resolve(false));
        socket.once('timeout', () => { socket.destroy(); resolve(false); });
      });
    }
    throw new Error(`${this.name}: unsupported readiness probe ${JSON.stringify(probe)}`);
  }

  /**
   * Waits until the readiness probe passes the way kubelet runs it (initialDelaySeconds,
   * then every periodSeconds, successThreshold passes in a row). Resolves with the time taken.
   */
  async waitReady(timeoutMs: number): Promise<number> {
    const probe = this.options.container.readinessProbe;
    const started = Date.now();
    await sleep(1000 * (probe.initialDelaySeconds ?? 0));
    let passes = 0;
    for (;;) {
      if (!this.running) throw new Error(`${this.name} exited while waiting for readiness:\n${this.logTail()}`);
      passes = (await this.probeReady()) ? passes + 1 : 0;
      if (passes >= (probe.successThreshold ?? 1)) return Date.now() - started;
      if (Date.now() - started > timeoutMs) throw new Error(`${this.name} was not ready within ${timeoutMs} ms:\n${this.logTail()}`);
      await sleep(1000 * (probe.periodSeconds ?? 10));
    }
  }

  get logFile(): string {
    return join(this.dir, 'container.log');
  }

  /** The end of the container's output, for failure messages. */
  logTail(chars = 4000): string {
    try {
      return readFileSync(this.logFile, 'utf8').slice(-chars);
    } catch {
      return '(no log)';
    }
  }

  /** The whole output of every start. */
  log(): string {
    try {
      return readFileSync(this.logFile, 'utf8');
    } catch {
      return '';
    }
  }

  /** The host directory behind one of the pod's volumes (for claims: their persistent directory). */
  volumeDir(volumeName: string): string {
    return this.options.claims?.[volumeName] ?? join(this.dir, 'volumes', volumeName);
  }

  private containerPort(port: string | number): number {
    if (typeof port === 'number') return port;
    const found = (this.options.container.ports ?? []).find((p: any) => p.name === port);
    if (!found) throw new Error(`${this.name}: no container port named ${port}`);
    return found.containerPort;
  }

  private envValue(variable: any, env: Record<string, string>): string {
    if (variable.value !== undefined) return expandVars((this.options.rewrite ?? ((s: string) => s))(variable.value), env);
    const field = variable.valueFrom?.fieldRef?.fieldPath;
    if (field === 'status.podIP') return this.address;
    if (field === 'metadata.name') return this.name;
    const ref = variable.valueFrom?.secretKeyRef;
    if (ref) {
      const value = this.options.secrets.get(ref.name)?.[ref.key];
      if (value === undefined) throw new PodStartError(`${this.name}: CreateContainerConfigError: env ${variable.name} needs key ${ref.key} of Secret ${ref.name}, which does not exist`);
      return value;
    }
    throw new Error(`${this.name}: unsupported env source for ${variable.name}: ${JSON.stringify(variable.valueFrom)}`);
  }

  /** The pod's /etc/hosts: the host's, plus `hosts`. */
  private hostsMount(): string[] {
    if (!this.options.hosts) return [];
    const file = join(this.dir, 'hosts');
    const entries = Object.entries(this.options.hosts).map(([name, address]) => `${address} ${name}\n`).join('');
    writeFileSync(file, `${readFileSync('/etc/hosts', 'utf8')}\n${entries}`);
    return [`ro:${file}:/etc/hosts`];
  }

  /** `ro|rw:HOST_DIR:MOUNT_PATH` for pod-root.sh, preparing each volume's directory. */
  private mounts(containerRestart: boolean): string[] {
    return (this.options.container.volumeMounts ?? []).map((mount: any) => {
      const volume = this.options.volumes.find((v) => v.name === mount.name);
      if (!volume) throw new Error(`${this.name}: volumeMount ${mount.name} has no volume`);
      if (mount.subPath) throw new Error(`${this.name}: subPath mounts are not modelled`);
      const dir = this.volumeDir(volume.name);
      const writable = !mount.readOnly && (volume.emptyDir !== undefined || this.options.claims?.[volume.name] !== undefined);
      if (volume.emptyDir) {
        if (!containerRestart) rmSync(dir, { recursive: true, force: true });
        mkdirSync(dir, { recursive: true });
      } else if (this.options.claims?.[volume.name] !== undefined) {
        mkdirSync(dir, { recursive: true });
      } else if (volume.configMap) {
        const data = this.options.configMaps[volume.configMap.name];
        if (!data) throw new PodStartError(`${this.name}: ConfigMap ${volume.configMap.name} does not exist`);
        rmSync(dir, { recursive: true, force: true });
        mkdirSync(dir, { recursive: true });
        for (const [file, content] of Object.entries(projected(data, volume.configMap.items))) {
          mkdirSync(dirname(join(dir, file)), { recursive: true });
          writeFileSync(join(dir, file), content);
        }
      } else if (volume.secret) {
        if (this.starts === 1) {
          const exists = this.options.secrets.get(volume.secret.secretName) !== undefined;
          if (!exists && !volume.secret.optional) {
            throw new PodStartError(`${this.name}: kubelet does not start a pod whose volume ${volume.name} names the missing Secret ${volume.secret.secretName} (not optional)`);
          }
          this.options.secrets.mount(volume.secret.secretName, dir, volume.secret.items);
        }
      } else {
        throw new Error(`${this.name}: unsupported volume ${JSON.stringify(volume)}`);
      }
      return `${writable ? 'rw' : 'ro'}:${dir}:${mount.mountPath}`;
    });
  }
}

/** kubelet's `$(VAR)` expansion in command, args and env values (`$$` escapes). */
function expandVars(value: string, env: Record<string, string>): string {
  return value.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (match, name) => (match === '$$' ? '$' : env[name] ?? match));
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A fresh directory for a test's pods (remove it with `rmSync` in afterAll). */
export function podWorkDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `${prefix}-`));
}
