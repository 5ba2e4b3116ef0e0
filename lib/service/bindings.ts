import { k8s } from 'cdk8s-plus-27';
import { IConstruct } from 'constructs';
import { checkLabels, invalid } from '../core/validation';
import { RegistrationConfig } from '../registration/registration';

/** A variable to inject: checked against what is already there before anything is added. */
export interface PendingEnv {
  readonly name: string;
  readonly value: Omit<k8s.EnvVar, 'name'>;
  /** Several bindings may set it, to the same value (such as POD_NAMESPACE). */
  readonly shareable?: boolean;
  /** What to do about a collision. */
  readonly hint: string;
}

/**
 * The part of a service's spec that grows after construction: its environment, network
 * rules, registry client labels and pod annotations. `discover()` and registries add here;
 * the renderers read it when the chart synthesizes, so a binding declared after
 * construction still counts.
 */
export class ServiceBindings {
  /** The app container's environment, in insertion order; the key is the variable name. */
  private readonly env = new Map<string, { readonly owner: string; readonly value: k8s.EnvVar }>();
  /** `discover()` calls made so far: target path, port and prefix. */
  private readonly discovered = new Set<string>();
  /** Rules by their JSON, each with why it exists (for the connectivity report). */
  private readonly ingress = new Map<string, { readonly rule: k8s.NetworkPolicyIngressRule; readonly why: Set<string> }>();
  private readonly egress = new Map<string, { readonly rule: k8s.NetworkPolicyEgressRule; readonly why: Set<string> }>();
  private readonly registryLabels = new Map<string, string>();
  public readonly podAnnotations: Record<string, string> = {};

  constructor(private readonly scope: IConstruct) {}

  public get envNames(): string[] {
    return [...this.env.keys()];
  }

  public get envVars(): k8s.EnvVar[] | undefined {
    return this.env.size ? [...this.env.values()].map((e) => e.value) : undefined;
  }

  public get ingressRules(): k8s.NetworkPolicyIngressRule[] {
    return [...this.ingress.values()].map((e) => e.rule);
  }

  public get egressRules(): k8s.NetworkPolicyEgressRule[] {
    return [...this.egress.values()].map((e) => e.rule);
  }

  /** Why each of {@link ingressRules} exists, in the same order. */
  public get ingressReasons(): string[] {
    return [...this.ingress.values()].map((e) => [...e.why].join('; '));
  }

  /** Why each of {@link egressRules} exists, in the same order. */
  public get egressReasons(): string[] {
    return [...this.egress.values()].map((e) => [...e.why].join('; '));
  }

  public get podLabels(): Record<string, string> {
    return Object.fromEntries(this.registryLabels);
  }

  /** Fails when `name` is already set, unless both are the same shareable value. */
  public checkEnvFree(pending: PendingEnv, owner: string): void {
    const existing = this.env.get(pending.name);
    if (!existing) return;
    if (pending.shareable && JSON.stringify(existing.value) === JSON.stringify({ name: pending.name, ...pending.value })) return;
    invalid(this.scope, `env ${pending.name} (from ${owner})`, pending.value.value ?? pending.value.valueFrom,
      `must not collide: ${existing.owner} already sets ${pending.name}; ${pending.hint}`);
  }

  public addEnv(pending: PendingEnv, owner: string): void {
    this.checkEnvFree(pending, owner);
    if (!this.env.has(pending.name)) this.env.set(pending.name, { owner, value: { name: pending.name, ...pending.value } });
  }

  public addDiscovery(key: string): void {
    this.discovered.add(key);
  }

  public hasDiscovery(key: string): boolean {
    return this.discovered.has(key);
  }

  public addIngress(rule: k8s.NetworkPolicyIngressRule, why: string): void {
    addRule(this.ingress, rule, why);
  }

  public addEgress(rule: k8s.NetworkPolicyEgressRule, why: string): void {
    addRule(this.egress, rule, why);
  }

  /** Checks that the pods can be clients of this registry too: a pod joins one cluster per registry. */
  public checkRegistry(registration: RegistrationConfig, owner: string): void {
    for (const [key, value] of Object.entries(checkLabels(this.scope, `${owner}.podLabels`, registration.podLabels ?? {}))) {
      const existing = this.registryLabels.get(key);
      if (existing !== undefined && existing !== value) {
        invalid(this.scope, `${owner} pod label ${key}`, value,
          `must not conflict with ${key}=${existing} from another binding: a pod can be a client of one ${registration.registry} cluster`);
      }
    }
  }

  /** Labels the pods as clients of a registry and lets them reach it. */
  public joinRegistry(registration: RegistrationConfig, owner: string, why: string): void {
    this.checkRegistry(registration, owner);
    for (const [key, value] of Object.entries(registration.podLabels ?? {})) this.registryLabels.set(key, value);
    registration.egress?.forEach((rule) => this.addEgress(rule, why));
  }
}

function addRule<R>(rules: Map<string, { readonly rule: R; readonly why: Set<string> }>, rule: R, why: string): void {
  const key = JSON.stringify(rule);
  const existing = rules.get(key);
  if (existing) existing.why.add(why);
  else rules.set(key, { rule, why: new Set([why]) });
}
