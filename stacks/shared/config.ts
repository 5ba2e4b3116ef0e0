import * as pulumi from '@pulumi/pulumi';
import { checkDns1123Label, invalid } from '../../lib/core/validation';
import { KubernetesTarget } from '../../lib/pulumi';

/** Config errors name this scope and the full key, e.g. `Pulumi config: discovery-apps:platformStack = ...`. */
export const CONFIG_SCOPE = 'Pulumi config';

/**
 * Typed, validated reads of a stack's config. Every error names the full config key
 * (`<project>:<key>`), the bad value and what is allowed; secrets are never echoed.
 */
export class StackConfig {
  private readonly config: pulumi.Config;

  constructor() {
    this.config = new pulumi.Config();
  }

  /** The full key, as `pulumi config set` takes it. */
  public key(key: string): string {
    return `${this.config.name}:${key}`;
  }

  /** A string, or `fallback` when unset. */
  public string(key: string, fallback?: string): string | undefined {
    return this.config.get(key) ?? fallback;
  }

  /** A required string; `allowed` describes it ("the platform stack, e.g. ..."). */
  public requireString(key: string, allowed: string): string {
    const value = this.config.get(key);
    if (value === undefined || value.trim() === '') {
      invalid(CONFIG_SCOPE, this.key(key), value, `is required: ${allowed}`);
    }
    return value;
  }

  /** A namespace name (RFC 1123 label), or `fallback` when unset. */
  public namespace(key: string, fallback: string): string {
    return checkDns1123Label(CONFIG_SCOPE, this.key(key), this.config.get(key) ?? fallback);
  }

  /** A structured value (`pulumi config set --path`), or undefined when unset. */
  public object(key: string): unknown {
    return this.config.getObject<unknown>(key);
  }

  /** `true` or `false`, or `fallback` when unset. */
  public boolean(key: string, fallback: boolean): boolean {
    const raw = this.config.get(key);
    if (raw === undefined) return fallback;
    if (raw !== 'true' && raw !== 'false') invalid(CONFIG_SCOPE, this.key(key), raw, 'must be true or false');
    return raw === 'true';
  }

  /**
   * A secret, or undefined when unset. It is checked by `check` before anything registers
   * (an error shows `<redacted>`, never the value); the value itself only travels as a
   * secret Output. `allowed` describes a valid value ("a base64 key ...").
   */
  public secret(key: string, allowed: string, check: (value: string) => boolean): pulumi.Output<string> | undefined {
    const raw = pulumi.runtime.getConfig(this.key(key));
    if (raw === undefined) return undefined;
    this.checkStoredAsSecret(key);
    if (!check(raw)) invalid(CONFIG_SCOPE, this.key(key), '<redacted>', `must be ${allowed}`);
    return this.config.requireSecret(key);
  }

  /**
   * A secret structured value (`pulumi config set --secret --path <key>.<field> <value>`), or
   * undefined when unset: the plain value, for checks whose errors must never echo it, and
   * the secret Output that carries it into resources.
   */
  public secretObject(key: string): { readonly value: unknown; readonly output: pulumi.Output<unknown> } | undefined {
    const raw = pulumi.runtime.getConfig(this.key(key));
    if (raw === undefined) return undefined;
    this.checkStoredAsSecret(key);
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch {
      invalid(CONFIG_SCOPE, this.key(key), '<redacted>', `must be structured config: set it with pulumi config set --secret --path '${key}.<field>' <value>`);
    }
    return { value, output: this.config.requireSecretObject<unknown>(key) };
  }

  /**
   * A secret set without `--secret` sits in plain text in Pulumi.<stack>.yaml: refused, never
   * echoed. (A key declared `secret: true` in Pulumi.yaml would be required, and these are
   * optional.) `isConfigSecret` is in the SDK's runtime but not its typings.
   */
  private checkStoredAsSecret(key: string): void {
    const { isConfigSecret } = pulumi.runtime as unknown as { isConfigSecret: (key: string) => boolean };
    if (!isConfigSecret(this.key(key))) {
      invalid(CONFIG_SCOPE, this.key(key), '<redacted>', `must be set as a secret, not in plain text: run pulumi config set --secret ${key} ... (with --path for a structured value)`);
    }
  }

  /**
   * Where the Kubernetes objects go: `kubeconfig` (may be secret) and `context`, or
   * `renderYamlToDirectory`, which the Kubernetes provider refuses to combine with either.
   */
  public kubernetesTarget(): KubernetesTarget {
    const renderYamlToDirectory = this.string('renderYamlToDirectory');
    const clusterKey = ['kubeconfig', 'context'].find((key) => this.config.get(key) !== undefined);
    if (renderYamlToDirectory !== undefined && clusterKey) {
      invalid(CONFIG_SCOPE, this.key('renderYamlToDirectory'), renderYamlToDirectory,
        `cannot be combined with ${this.key(clusterKey)}: rendering needs no cluster, and the Kubernetes provider refuses both; run pulumi config rm ${clusterKey}`);
    }
    return {
      kubeconfig: this.config.getSecret('kubeconfig'),
      context: this.string('context'),
      renderYamlToDirectory,
    };
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A Consul ACL token SecretID, as `consul acl token create` prints it. */
function isConsulToken(value: unknown): value is string {
  return typeof value === 'string' && UUID.test(value);
}

/**
 * Reads a secret map of Consul ACL tokens (`pulumi config set --secret --path '<key>.<name>' <SecretID>`)
 * whose names must be among `names`, each described by `purpose`. Errors never echo a token.
 */
export function readConsulTokens<N extends string>(config: StackConfig, key: string, names: readonly N[], purpose: string): ConsulTokens<N> | undefined {
  const tokens = config.secretObject(key);
  if (!tokens) return undefined;
  const value = tokens.value;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    invalid(CONFIG_SCOPE, config.key(key), '<redacted>', `must be an object keyed by ${names.join(', ')}, each value a Consul ACL token SecretID (a UUID) ${purpose}`);
  }
  for (const [name, token] of Object.entries(value)) {
    if (!(names as readonly string[]).includes(name)) invalid(CONFIG_SCOPE, config.key(`${key}.${name}`), '<redacted>', `must be one of: ${names.join(', ')}`);
    if (!isConsulToken(token)) invalid(CONFIG_SCOPE, config.key(`${key}.${name}`), '<redacted>', `must be a Consul ACL token SecretID (a UUID) ${purpose}`);
  }
  return { names: Object.keys(value) as N[], output: tokens.output as pulumi.Output<Record<N, string>> };
}

/** Consul ACL tokens read from secret config. */
export interface ConsulTokens<N extends string> {
  /** The names that have a token. */
  readonly names: readonly N[];
  /** The tokens by name, a secret Output. */
  readonly output: pulumi.Output<Record<N, string>>;
}

/**
 * Config values arrive as strings (`pulumi config set key 3`) or, inside structured config,
 * as numbers; anything else is returned as is, for the caller's check to reject.
 */
export function parseConfigNumber(value: unknown): unknown {
  return typeof value === 'string' && /^-?\d+(\.\d+)?$/.test(value.trim()) ? Number(value) : value;
}
