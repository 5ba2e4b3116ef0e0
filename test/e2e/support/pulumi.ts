import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, delimiter, dirname, join, relative } from 'node:path';
import type { OpType } from '@pulumi/pulumi/automation';
import { binaryPath } from './binaries';

const ROOT = join(__dirname, '..', '..', '..');
/** Bounded: a cold `pulumi up` of the platform on a loaded 2-core machine takes about a minute. */
const OPERATION_TIMEOUT_MS = 600_000;
const CLI_TIMEOUT_MS = 120_000;

/** What pulumi-run.ts is asked to do. */
export interface RunRequest {
  readonly operation: 'up' | 'preview' | 'destroy';
  /** The directory with the stack's Pulumi.yaml and Pulumi.<stack>.yaml. */
  readonly workDir: string;
  readonly stack: string;
  /** The program: a module whose export is the program function, such as stacks/<name>/index.ts. */
  readonly program: string;
  /** Fail if the operation would change anything (`--expect-no-changes`). */
  readonly expectNoChanges?: boolean;
  /** Annotate objects for an API server without kubelet and controller manager (see pulumi-run.ts). */
  readonly clusterWithoutNodes?: boolean;
}

/** A step of an operation other than `same`: what the engine does to one resource. */
export interface Step {
  readonly op: OpType;
  readonly type: string;
  /** The resource name: the last part of its URN. */
  readonly name: string;
  /** The property paths that differ (`spec.replicas`), for updates. */
  readonly detailedDiff: string[];
}

/** What pulumi-run.ts reports. */
export interface RunResult {
  readonly steps: Step[];
  /** The CLI's output. */
  readonly output: string;
  readonly seconds: number;
  /** Resources by operation (`create`, `same`, ...). */
  readonly summary: Record<string, number>;
  /** Stack outputs, after `up`. */
  readonly outputs?: Record<string, { value: any; secret: boolean }>;
}

/** A Pulumi project: the directory with its Pulumi.yaml, and its program's module. */
export interface PulumiProject {
  readonly dir: string;
  readonly program: string;
}

/** One of the repository's stacks, stacks/<name>, whose program is its index.ts. */
export function repositoryStack(name: 'platform' | 'apps'): PulumiProject {
  const dir = join(ROOT, 'stacks', name);
  return { dir, program: join(dir, 'index.ts') };
}

/**
 * A self-managed Pulumi backend (`pulumi login file://...`) in a temporary directory, with a
 * passphrase secrets provider, its own PULUMI_HOME, and the CLI and Kubernetes provider that
 * tools/ensure-pulumi.sh built on PATH: the engine finds the provider there and never
 * downloads a plugin.
 */
export class PulumiBackend {
  readonly dir = mkdtempSync(join(tmpdir(), 'dk-pulumi-'));
  readonly env: NodeJS.ProcessEnv;

  constructor() {
    const bin = [dirname(binaryPath('pulumi')), dirname(binaryPath('pulumi-resource-kubernetes'))];
    this.env = {
      PATH: [...bin, process.env.PATH ?? '/usr/bin:/bin'].join(delimiter),
      HOME: this.dir,
      PULUMI_HOME: join(this.dir, 'home'),
      PULUMI_BACKEND_URL: `file://${join(this.dir, 'state')}`,
      PULUMI_CONFIG_PASSPHRASE: 'discovery-kit e2e passphrase',
      PULUMI_SKIP_UPDATE_CHECK: 'true',
      PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: 'true',
    };
    mkdirSync(join(this.dir, 'state'));
  }

  /** Runs the real CLI (non-interactive: no terminal); rejects with its output on a non-zero exit. */
  cli(args: readonly string[], cwd: string = this.dir): Promise<string> {
    return new Promise((resolve, reject) => {
      execFile(binaryPath('pulumi'), args, { cwd, env: this.env, timeout: CLI_TIMEOUT_MS, maxBuffer: 64 << 20 }, (error, stdout, stderr) => {
        if (error) reject(new Error(`pulumi ${args.join(' ')} failed (${error.code ?? error.signal}):\n${stderr}${stdout}`));
        else resolve(stdout);
      });
    });
  }

  /**
   * `pulumi stack init` of a project in a fresh work directory with a copy of its Pulumi.yaml
   * (`main` pointing back at the project's entry point, which the CLI checks exists) and of
   * its Pulumi.<stack>.yaml, if any (the copy takes the config and encryption salt the CLI
   * writes), then `pulumi config set` of `config` (`--path` for dotted and indexed keys) and `secrets`.
   */
  async initStack(project: PulumiProject, config: Record<string, string>, secrets: Record<string, string> = {}, stack = 'dev'): Promise<PulumiStack> {
    const workDir = join(this.dir, `${basename(project.dir)}.${stack}`);
    mkdirSync(workDir);
    const settings = readFileSync(join(project.dir, 'Pulumi.yaml'), 'utf8')
      .replace(/^main: (.+)$/m, (_, main: string) => `main: ${relative(workDir, join(project.dir, main))}`);
    writeFileSync(join(workDir, 'Pulumi.yaml'), settings);
    if (existsSync(join(project.dir, `Pulumi.${stack}.yaml`))) copyFileSync(join(project.dir, `Pulumi.${stack}.yaml`), join(workDir, `Pulumi.${stack}.yaml`));
    await this.cli(['stack', 'init', stack, '--secrets-provider', 'passphrase'], workDir);
    const result = new PulumiStack(this, project, workDir, stack);
    for (const [key, value] of Object.entries(config)) await result.setConfig(key, value);
    for (const [key, value] of Object.entries(secrets)) await result.setConfig(key, value, true);
    return result;
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A stack of a {@link PulumiBackend}. */
export class PulumiStack {
  constructor(readonly backend: PulumiBackend, readonly project: PulumiProject, readonly workDir: string, readonly stack: string) {}

  setConfig(key: string, value: string, secret = false): Promise<string> {
    const flags = [...(/[.[]/.test(key) ? ['--path'] : []), ...(secret ? ['--secret'] : [])];
    return this.backend.cli(['config', 'set', '--stack', this.stack, ...flags, key, '--', value], this.workDir);
  }

  removeConfig(key: string): Promise<string> {
    return this.cli(['config', 'rm', key]);
  }

  cli(args: readonly string[]): Promise<string> {
    return this.backend.cli([...args, '--stack', this.stack], this.workDir);
  }

  /** The resources in the stack's state (`pulumi stack export`). */
  async stateResources(): Promise<{ urn: string; type: string }[]> {
    const state = JSON.parse(await this.cli(['stack', 'export']));
    return state.deployment.resources ?? [];
  }

  /**
   * Runs `operation` through pulumi-run.ts; rejects with the CLI's diagnostics when it fails.
   * `started` is told the pid of the process that runs the program (and, below it, the CLI).
   */
  run(operation: RunRequest['operation'], options: { expectNoChanges?: boolean; clusterWithoutNodes?: boolean } = {}, started?: (pid: number) => void): Promise<RunResult> {
    const request: RunRequest = { operation, workDir: this.workDir, stack: this.stack, program: this.project.program, ...options };
    return new Promise((resolve, reject) => {
      const child = execFile(process.execPath, ['--import', 'tsx', join(__dirname, 'pulumi-run.ts'), JSON.stringify(request)], {
        cwd: ROOT, env: { ...process.env, ...this.backend.env }, timeout: OPERATION_TIMEOUT_MS, maxBuffer: 256 << 20,
      }, (error, stdout, stderr) => {
        if (error) reject(new Error(`pulumi ${operation} of ${basename(this.project.dir)} failed (${error.code ?? error.signal}):\n${stderr}`));
        else resolve(JSON.parse(stdout));
      });
      if (child.pid !== undefined) started?.(child.pid);
    });
  }
}
