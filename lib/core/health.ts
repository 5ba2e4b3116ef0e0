import { Duration } from 'cdk8s';
import { k8s } from 'cdk8s-plus-27';
import { IConstruct } from 'constructs';
import { checkIanaServiceName, checkInteger, checkWholeSeconds, invalid, ValidationPass } from './validation';

/** Scheme of the HTTP health endpoints. */
export enum HealthScheme {
  HTTP = 'HTTP',
  HTTPS = 'HTTPS',
}

/** Timing and path of one HTTP health endpoint. */
export interface HttpCheckOptions {
  /** Request path, starting with '/'. @default '/health/live' for liveness, '/health/ready' for readiness */
  readonly path?: string;
  /** How often to check. @default - 10s for liveness, 5s for readiness */
  readonly period?: Duration;
  /** How long one check may take; must be shorter than the period. @default Duration.seconds(2) */
  readonly timeout?: Duration;
  /** Consecutive failures before the check fails. @default 3 */
  readonly failureThreshold?: number;
}

/** Options of the startup probe, which holds liveness and readiness back until the app is up. */
export interface StartupCheckOptions {
  /** Request path. @default - the liveness path */
  readonly path?: string;
  /** How often to check while starting. @default Duration.seconds(5) */
  readonly period?: Duration;
  /**
   * The slowest start to tolerate before the container is restarted. The probe's
   * failureThreshold is derived from it, so the window always covers this time.
   * @default Duration.seconds(120)
   */
  readonly maxStartupTime?: Duration;
}

/** Props of {@link HealthSpec}. */
export interface HealthSpecProps {
  /** Name of the container port that serves the health endpoints. @default 'http' */
  readonly port?: string;
  /** @default HealthScheme.HTTP */
  readonly scheme?: HealthScheme;
  /** "The process is wedged": restart the container. Never check dependencies here. @default - '/health/live' every 10s */
  readonly liveness?: HttpCheckOptions;
  /** "I can serve now": route traffic and mark the registry entry passing. @default - '/health/ready' every 5s */
  readonly readiness?: HttpCheckOptions;
  /** @default - liveness path every 5s for up to 120s */
  readonly startup?: StartupCheckOptions;
}

/** One HTTP check with every default applied. */
export interface ResolvedHttpCheck {
  readonly path: string;
  readonly periodSeconds: number;
  readonly timeoutSeconds: number;
  readonly failureThreshold: number;
}

/**
 * What a registry (Consul, etcd watchers) needs to check the same endpoint the readiness
 * probe checks. Derived from the readiness spec, so the two cannot disagree.
 */
export interface RegistryHealthCheck {
  /** Container port name that serves the endpoint. */
  readonly portName: string;
  readonly scheme: HealthScheme;
  readonly path: string;
  /** Go duration string, equal to the readiness probe period. */
  readonly interval: string;
  /** Go duration string, equal to the readiness probe timeout. */
  readonly timeout: string;
  /** Equal to the readiness probe's failureThreshold. */
  readonly failuresBeforeCritical: number;
}

/**
 * One health spec that yields the Kubernetes liveness, readiness and startup probes and the
 * registry's health check, consistent by construction.
 *
 * Validation runs when a construct binds the spec ({@link HealthSpec.resolve}), so errors
 * name the construct that uses it.
 */
export class HealthSpec {
  /** HTTP health endpoints on a named container port. */
  public static http(props: HealthSpecProps = {}): HealthSpec {
    return new HealthSpec(props);
  }

  private constructor(private readonly props: HealthSpecProps) {}

  /** Applies defaults and validates the spec; errors name `scope` and the field. */
  public resolve(scope: IConstruct, field = 'health'): ResolvedHealth {
    return new ResolvedHealth(scope, field, this.props);
  }
}

/** A validated {@link HealthSpec} with every default applied. */
export class ResolvedHealth {
  public readonly portName: string;
  public readonly scheme: HealthScheme;
  public readonly liveness: ResolvedHttpCheck;
  public readonly readiness: ResolvedHttpCheck;
  public readonly startup: ResolvedHttpCheck;

  constructor(scope: IConstruct, field: string, props: HealthSpecProps) {
    const v = new ValidationPass();
    const portName = v.check(() => checkIanaServiceName(scope, `${field}.port`, props.port ?? 'http'));
    const liveness = v.check(() => resolveCheck(scope, `${field}.liveness`, props.liveness, '/health/live', 10));
    const readiness = v.check(() => resolveCheck(scope, `${field}.readiness`, props.readiness, '/health/ready', 5));
    const startup = v.check(() => resolveStartup(scope, `${field}.startup`, props.startup, liveness?.path ?? '/health/live'));
    v.finish();
    this.portName = portName!;
    this.scheme = props.scheme ?? HealthScheme.HTTP;
    this.liveness = liveness!;
    this.readiness = readiness!;
    this.startup = startup!;
    if (this.liveness.path === this.readiness.path) {
      v.report(scope, `${field}.liveness.path`, this.liveness.path,
        'must differ from readiness.path: identical probes restart pods exactly when they go unready');
    }
    if (window(this.liveness) < window(this.readiness)) {
      v.report(scope, `${field}.liveness`, `${window(this.liveness)}s to fail`,
        `must tolerate at least as long as readiness (${window(this.readiness)}s = period x failureThreshold), so a struggling pod is taken out of rotation before it is restarted`);
    }
    v.finish();
  }

  /** The liveness probe: restarts a wedged container. */
  public livenessProbe(): k8s.Probe {
    return this.probe(this.liveness);
  }

  /** The readiness probe: gates Service endpoints. */
  public readinessProbe(): k8s.Probe {
    return this.probe(this.readiness);
  }

  /** The startup probe: holds the other probes back while the app starts. */
  public startupProbe(): k8s.Probe {
    return this.probe(this.startup);
  }

  /** The registry's check of the readiness endpoint, in Consul's terms. */
  public registryCheck(): RegistryHealthCheck {
    return {
      portName: this.portName,
      scheme: this.scheme,
      path: this.readiness.path,
      interval: `${this.readiness.periodSeconds}s`,
      timeout: `${this.readiness.timeoutSeconds}s`,
      failuresBeforeCritical: this.readiness.failureThreshold,
    };
  }

  private probe(check: ResolvedHttpCheck): k8s.Probe {
    return {
      httpGet: { path: check.path, port: k8s.IntOrString.fromString(this.portName), scheme: this.scheme },
      periodSeconds: check.periodSeconds,
      timeoutSeconds: check.timeoutSeconds,
      failureThreshold: check.failureThreshold,
      successThreshold: 1,
    };
  }
}

function window(check: ResolvedHttpCheck): number {
  return check.periodSeconds * check.failureThreshold;
}

function resolveCheck(scope: IConstruct, field: string, options: HttpCheckOptions = {}, path: string, periodSeconds: number): ResolvedHttpCheck {
  const v = new ValidationPass();
  const check = {
    path: v.check(() => checkPath(scope, `${field}.path`, options.path ?? path), ''),
    periodSeconds: v.check(() => checkWholeSeconds(scope, `${field}.period`, options.period ?? Duration.seconds(periodSeconds), 1, 3600), 0),
    timeoutSeconds: v.check(() => checkWholeSeconds(scope, `${field}.timeout`, options.timeout ?? Duration.seconds(2), 1, 3600), 0),
    failureThreshold: v.check(() => checkInteger(scope, `${field}.failureThreshold`, options.failureThreshold ?? 3, 1, 100), 0),
  };
  if (v.ok && check.timeoutSeconds >= check.periodSeconds) {
    v.report(scope, `${field}.timeout`, `${check.timeoutSeconds}s`,
      `must be shorter than ${field}.period (${check.periodSeconds}s), or checks overlap`);
  }
  v.finish();
  return check;
}

function resolveStartup(scope: IConstruct, field: string, options: StartupCheckOptions = {}, livenessPath: string): ResolvedHttpCheck {
  const periodSeconds = checkWholeSeconds(scope, `${field}.period`, options.period ?? Duration.seconds(5), 2, 3600);
  const maxSeconds = checkWholeSeconds(scope, `${field}.maxStartupTime`, options.maxStartupTime ?? Duration.seconds(120), periodSeconds, 86_400);
  return {
    path: checkPath(scope, `${field}.path`, options.path ?? livenessPath),
    periodSeconds,
    timeoutSeconds: Math.min(2, periodSeconds - 1),
    failureThreshold: Math.ceil(maxSeconds / periodSeconds),
  };
}

function checkPath(scope: IConstruct, field: string, path: string): string {
  if (typeof path !== 'string' || !/^\/[A-Za-z0-9\-._~!$&'()*+,;=:@%/?]*$/.test(path)) {
    invalid(scope, field, path, "must be an absolute URL path such as '/health/ready' (no spaces or control characters)");
  }
  return path;
}
