import { Chart, Duration } from 'cdk8s';
import { k8s } from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import { podDnsConfig } from '../core/dns-config';
import { HealthSpec, ResolvedHealth } from '../core/health';
import { recommendedLabels, selectorLabels } from '../core/labels';
import { claimServiceNames } from '../core/name-claims';
import { resolveResources } from '../core/resources';
import { checkSecretKeyReference, SecretKeyReference, secretKeyEnv } from '../core/secret';
import {
  checkDns1035Label, checkDns1123Label, checkDns1123Subdomain, checkEnvName, checkIanaServiceName, checkInteger, checkLabels,
  checkPinnedImage, checkPort, checkQuantity, checkUnique, checkWholeSeconds, invalid, ValidationPass, warn,
} from '../core/validation';
import { checkCircuitBreaker, checkMeshControlPlane, CircuitBreakerOptions, ConsulMeshControlPlane } from '../mesh/circuit-breaker';
import { RegistrationConfig } from '../registration/registration';
import { PendingEnv } from './bindings';
import { DiscoverableServiceProps, PortProtocol, ServicePortOptions, ShutdownOptions, TrafficDistribution } from './props';

export type ResolvedPort = Required<ServicePortOptions>;

export interface ResolvedShutdown {
  readonly preStopSeconds: number;
  readonly gracePeriodSeconds: number;
}

/** A variable of the props: `env` or `secretEnv`. */
export interface PropsEnv extends PendingEnv {
  readonly owner: 'env' | 'secretEnv';
}

/** Everything a {@link DiscoverableService} renders, validated: no renderer checks anything. */
export interface ResolvedService {
  readonly name: string;
  readonly namespace: string;
  readonly clusterDomain: string;
  readonly image: string;
  readonly command?: string[];
  readonly args?: string[];
  readonly ports: readonly ResolvedPort[];
  readonly replicas: number;
  readonly resources: k8s.ResourceRequirements;
  readonly health: ResolvedHealth;
  readonly shutdown: ResolvedShutdown;
  readonly runAsUser: number;
  readonly tmpSizeLimit: string;
  readonly dnsConfig: k8s.PodDnsConfig;
  /** Recommended labels (and the user's) on every object. */
  readonly labels: Record<string, string>;
  /** What the Services, the PodDisruptionBudget and peers' NetworkPolicies select. */
  readonly podSelector: Record<string, string>;
  readonly publishNotReadyAddresses: boolean;
  readonly networkPolicy: boolean;
  readonly trafficDistribution?: TrafficDistribution;
  /** The props' environment (env, then secretEnv), in order. */
  readonly env: readonly PropsEnv[];
  readonly registration?: RegistrationConfig;
  readonly mesh?: { readonly circuitBreaker: CircuitBreakerOptions; readonly controlPlane: ConsulMeshControlPlane };
}

/** `<name>-headless` must fit a 63-character DNS label. */
const MAX_NAME_LENGTH = 63 - '-headless'.length;
const SECRET_LIKE_NAME = /(PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|CREDENTIALS?)/i;

/**
 * The one validation pass over a service's props: every independent check runs and all
 * problems are thrown together; checks that need earlier results run when those are valid.
 * Claims the service names last, so a rejected service claims nothing.
 */
export function resolveService(scope: Construct, id: string, props: DiscoverableServiceProps): ResolvedService {
  const v = new ValidationPass();
  const name = v.check(() => checkServiceName(scope, props.name ?? id));
  const namespace = v.check(() => checkDns1123Label(scope, 'namespace', props.namespace ?? Chart.of(scope).namespace ?? 'default'));
  const clusterDomain = v.check(() => checkDns1123Subdomain(scope, 'clusterDomain', props.clusterDomain ?? 'cluster.local'), '');
  const tag = v.check(() => checkPinnedImage(scope, 'image', props.image), '');
  const ports = v.check(() => resolvePorts(scope, props.ports ?? [{ name: 'http', port: 8080 }]));
  const replicas = v.check(() => checkInteger(scope, 'replicas', props.replicas ?? 2, 0, 1000), 0);
  const resources = v.check(() => resolveResources(scope, 'resources', props.resources), {});
  const health = v.check(() => (props.health ?? HealthSpec.http()).resolve(scope));
  if (ports && health) v.check(() => checkHealthPort(scope, ports, health));
  const runAsUser = v.check(() => checkInteger(scope, 'runAsUser', props.runAsUser ?? 10001, 1, 2_147_483_647), 0);
  const tmpSizeLimit = v.check(() => checkQuantity(scope, 'tmpSizeLimit', props.tmpSizeLimit ?? '64Mi'), '');
  const userLabels = v.check(() => checkLabels(scope, 'labels', props.labels ?? {}), {});
  const dnsConfig = v.check(() => podDnsConfig(scope, 'ndots', props.ndots), {});
  const trafficDistribution = props.trafficDistribution;
  if (trafficDistribution !== undefined && !Object.values(TrafficDistribution).includes(trafficDistribution)) {
    v.report(scope, 'trafficDistribution', trafficDistribution, `must be one of ${Object.values(TrafficDistribution).join(', ')}`);
  }
  if (trafficDistribution === TrafficDistribution.PREFER_CLOSE) {
    warn(scope, 'trafficDistribution PreferClose is deprecated since Kubernetes 1.36 (the API server warns on apply): use PreferSameZone on clusters from 1.34');
  }
  const mesh = props.circuitBreaker ? v.check(() => ({
    circuitBreaker: (checkCircuitBreaker(scope, 'circuitBreaker', props.circuitBreaker!), props.circuitBreaker!),
    controlPlane: checkMeshControlPlane(scope, 'meshControlPlane', props.meshControlPlane!),
  })) : undefined;
  const env = [...plainEnv(v, scope, props.env ?? {}), ...secretEnv(v, scope, props.secretEnv ?? {})];
  const plainNames = new Set(Object.keys(props.env ?? {}));
  env.filter((e) => e.owner === 'secretEnv' && plainNames.has(e.name)).forEach((e) => v.report(scope, `env ${e.name} (from secretEnv)`,
    e.value.valueFrom, `must not collide: env already sets ${e.name}; rename one of them`));

  const podSelector = selectorLabels({ name: name ?? 'invalid', instance: name ?? 'invalid' });
  const labels = v.check(() => checkLabels(scope, 'labels', {
    ...userLabels,
    ...recommendedLabels({ name: name ?? 'invalid', instance: name ?? 'invalid', partOf: props.partOf, version: props.version ?? labelSafe(tag) }),
  }), {});
  const registration = name && namespace && ports && health && props.registration ? v.check(() => props.registration!.bind({
    scope, serviceName: name, namespace, ports: new Map(ports.map((p) => [p.name, p.containerPort])), health, labels,
  })) : undefined;
  if (props.circuitBreaker && registration?.registry === 'consul') {
    v.report(scope, 'registration', 'consul', 'must not register with Consul for a mesh service: consul-k8s connect-inject registers it (and its sidecar) itself');
  }
  const shutdown = v.check(() => resolveShutdown(scope, props.shutdown, registration?.shutdownSeconds ?? 0), { preStopSeconds: 0, gracePeriodSeconds: 0 });
  if (v.ok) v.check(() => claimServiceNames(scope, namespace!, [name!, `${name}-headless`]));
  v.finish();
  return {
    name: name!, namespace: namespace!, clusterDomain, image: props.image, command: props.command, args: props.args,
    ports: ports!, replicas, resources, health: health!, shutdown, runAsUser, tmpSizeLimit, dnsConfig, labels, podSelector,
    publishNotReadyAddresses: props.publishNotReadyAddresses ?? false, networkPolicy: props.networkPolicy ?? true,
    trafficDistribution, env, registration, mesh,
  };
}

function checkServiceName(scope: Construct, name: string): string {
  checkDns1035Label(scope, 'name', name);
  if (name.length > MAX_NAME_LENGTH) {
    invalid(scope, 'name', name, `must be at most ${MAX_NAME_LENGTH} characters, so the headless Service '<name>-headless' stays a 63-character DNS label`);
  }
  return name;
}

function checkHealthPort(scope: Construct, ports: readonly ResolvedPort[], health: ResolvedHealth): void {
  const port = ports.find((p) => p.name === health.portName);
  if (!port) {
    invalid(scope, 'health.port', health.portName, `must name one of the declared ports: ${ports.map((p) => p.name).join(', ')}`);
  }
  if (port.protocol !== PortProtocol.TCP) {
    invalid(scope, 'health.port', health.portName, `must be a TCP port: HTTP probes cannot reach ${port.protocol} port ${port.containerPort}`);
  }
}

export function resolvePorts(scope: Construct, ports: ServicePortOptions[]): ResolvedPort[] {
  if (!Array.isArray(ports) || ports.length === 0) invalid(scope, 'ports', ports, 'must declare at least one named port');
  const v = new ValidationPass();
  const resolved = ports.map((p, i) => ({
    name: v.check(() => checkIanaServiceName(scope, `ports[${i}].name`, p.name), p.name),
    port: v.check(() => checkPort(scope, `ports[${i}].port`, p.port), p.port),
    // A defaulted containerPort is the port: one complaint about it is enough.
    containerPort: p.containerPort === undefined ? p.port : v.check(() => checkPort(scope, `ports[${i}].containerPort`, p.containerPort!), p.containerPort),
    protocol: p.protocol ?? PortProtocol.TCP,
    appProtocol: v.check(() => checkAppProtocol(scope, `ports[${i}].appProtocol`, p.appProtocol ?? 'http'), ''),
  }));
  v.check(() => checkUnique(scope, (i) => `ports[${i}].name`, resolved.map((p) => p.name)));
  v.check(() => checkUnique(scope, (i) => `ports[${i}].port`, resolved.map((p) => `${p.port}/${p.protocol}`)));
  v.check(() => checkUnique(scope, (i) => `ports[${i}].containerPort`, resolved.map((p) => `${p.containerPort}/${p.protocol}`)));
  v.finish();
  return resolved;
}

function checkAppProtocol(scope: Construct, field: string, value: string): string {
  if (typeof value !== 'string' || !/^[a-z][a-z0-9+.-]{0,62}$/.test(value)) {
    invalid(scope, field, value, "must be a lowercase URL scheme such as 'http', 'https', 'grpc' or 'tcp'");
  }
  return value;
}

function plainEnv(v: ValidationPass, scope: Construct, env: Record<string, string>): PropsEnv[] {
  const defined = new Set<string>();
  return Object.entries(env).flatMap(([name, value]) => v.check(() => {
    checkEnvName(scope, 'env', name);
    if (SECRET_LIKE_NAME.test(name)) {
      invalid(scope, `env.${name}`, '<redacted>', 'looks like a credential: a literal value would sit in the manifest; use secretEnv to read it from a Secret');
    }
    if (typeof value !== 'string') invalid(scope, `env.${name}`, value, 'must be a string');
    // The kubelet expands $(VAR) only for variables defined earlier; later ones stay literal text.
    for (const [, ref] of value.matchAll(/(?<!\$)\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g)) {
      if (!defined.has(ref)) {
        invalid(scope, `env.${name}`, value, `references $(${ref}), which is not defined before it: define ${ref} earlier in env, or write $$(${ref}) for a literal`);
      }
    }
    defined.add(name);
    return [{ name, owner: 'env' as const, value: { value }, hint: 'rename one of them' }];
  }, []));
}

function secretEnv(v: ValidationPass, scope: Construct, env: Record<string, SecretKeyReference>): PropsEnv[] {
  return Object.entries(env).flatMap(([name, ref]) => v.check(() => {
    checkEnvName(scope, 'secretEnv', name);
    const { valueFrom } = secretKeyEnv(name, checkSecretKeyReference(scope, `secretEnv.${name}`, ref));
    return [{ name, owner: 'secretEnv' as const, value: { valueFrom }, hint: 'rename one of them' }];
  }, []));
}

function resolveShutdown(scope: Construct, options: ShutdownOptions = {}, hookSeconds: number): ResolvedShutdown {
  const v = new ValidationPass();
  const preStopSeconds = v.check(() => checkWholeSeconds(scope, 'shutdown.preStopDelay', options.preStopDelay ?? Duration.seconds(5), 0, 600));
  const gracePeriodSeconds = v.check(() => checkWholeSeconds(scope, 'shutdown.terminationGracePeriod', options.terminationGracePeriod ?? Duration.seconds(30), 1, 3600));
  v.finish();
  // Name the grace period as the user sees it: a default they never set is not their value.
  const grace = options.terminationGracePeriod === undefined
    ? `the default shutdown.terminationGracePeriod (${gracePeriodSeconds}s)` : `shutdown.terminationGracePeriod (${gracePeriodSeconds}s)`;
  if (preStopSeconds! >= gracePeriodSeconds!) {
    v.report(scope, 'shutdown.preStopDelay', `${preStopSeconds}s`,
      `must leave time to drain: it must be less than ${grace}; shorten the delay or set a longer terminationGracePeriod`);
  }
  // The registration sidecar gets SIGTERM at once, in parallel with the app's preStop.
  if (hookSeconds >= gracePeriodSeconds!) {
    v.report(scope, 'shutdown.terminationGracePeriod', `${gracePeriodSeconds}s`,
      `must exceed the ${hookSeconds}s the registration hook may need to deregister: set shutdown.terminationGracePeriod to at least ${hookSeconds + 1}s`);
  }
  v.finish();
  return { preStopSeconds: preStopSeconds!, gracePeriodSeconds: gracePeriodSeconds! };
}

function labelSafe(value: string): string | undefined {
  return /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/.test(value) && value.length <= 63 ? value : undefined;
}
