import { Duration } from 'cdk8s';
import { IConstruct } from 'constructs';

/** One bad value: where, which field, what it was and what is allowed. */
export interface ValidationProblem {
  /** `<Construct class> '<node path>'`, or the name of the function that checked the value. */
  readonly constructPath: string;
  /** The construct's node path, when a construct was checked. */
  readonly nodePath?: string;
  readonly field: string;
  readonly value: unknown;
  readonly allowed: string;
}

/**
 * Thrown for props that cannot synthesize a working manifest, before any object is created.
 * It carries every problem the validation pass found (`problems`); each line of the message
 * names the construct path, the field, the bad value and what is allowed, so the error is
 * actionable from a CI log alone. `constructPath`, `field`, `value` and `allowed` are the
 * first problem's.
 */
export class DiscoveryKitValidationError extends Error {
  public readonly problems: readonly ValidationProblem[];

  constructor(problems: readonly ValidationProblem[]) {
    super(problems.length === 1 ? describeProblem(problems[0])
      : `${problems.length} invalid values:\n${problems.map((p) => `  - ${describeProblem(p)}`).join('\n')}`);
    this.name = 'DiscoveryKitValidationError';
    this.problems = problems;
  }

  public get constructPath(): string { return this.problems[0].constructPath; }
  public get nodePath(): string | undefined { return this.problems[0].nodePath; }
  public get field(): string { return this.problems[0].field; }
  public get value(): unknown { return this.problems[0].value; }
  public get allowed(): string { return this.problems[0].allowed; }

  /** The same complaints reported against the construct that passed the values on. */
  public rescope(scope: IConstruct, fieldPrefix: string): DiscoveryKitValidationError {
    return new DiscoveryKitValidationError(this.problems.map((p) => problem(scope, `${fieldPrefix}${p.field}`, p.value, p.allowed)));
  }
}

function problem(scope: IConstruct | string, field: string, value: unknown, allowed: string): ValidationProblem {
  return typeof scope === 'string'
    ? { constructPath: scope, field, value, allowed }
    : { constructPath: describeConstruct(scope), nodePath: scope.node.path, field, value, allowed };
}

function describeProblem(p: ValidationProblem): string {
  return `${p.constructPath}: ${p.field} = ${formatValue(p.value)} is invalid: ${p.allowed}`;
}

function describeConstruct(scope: IConstruct): string {
  return `${scope.constructor.name} '${scope.node.path}'`;
}

function formatValue(value: unknown): string {
  if (value instanceof Duration) return `${value.toMilliseconds({ integral: false }) / 1000}s`;
  return JSON.stringify(value) ?? String(value);
}

/** Shorthand for throwing {@link DiscoveryKitValidationError} with one problem. */
export function invalid(scope: IConstruct | string, field: string, value: unknown, allowed: string): never {
  throw new DiscoveryKitValidationError([problem(scope, field, value, allowed)]);
}

/**
 * One validation pass over a construct's props: independent checks run one after another and
 * every failure is recorded, so the user sees all bad values at once; `finish()` throws them
 * together. Checks are the `check*` functions (which throw on the first bad value of theirs).
 */
export class ValidationPass {
  private readonly problems: ValidationProblem[] = [];

  /**
   * Runs one check; a failure is recorded and `fallback` stands in for its result, so checks
   * that do not depend on it still run. Other errors propagate: they are bugs, not bad props.
   */
  public check<T>(check: () => T): T | undefined;
  public check<T>(check: () => T, fallback: T): T;
  public check<T>(check: () => T, fallback?: T): T | undefined {
    try {
      return check();
    } catch (error) {
      if (!(error instanceof DiscoveryKitValidationError)) throw error;
      this.problems.push(...error.problems);
      return fallback;
    }
  }

  /** Records a problem found without a check function. */
  public report(scope: IConstruct | string, field: string, value: unknown, allowed: string): void {
    this.problems.push(problem(scope, field, value, allowed));
  }

  /** Whether no check has failed so far (checks that combine earlier results need them valid). */
  public get ok(): boolean {
    return this.problems.length === 0;
  }

  /** Throws every recorded problem as one {@link DiscoveryKitValidationError}. */
  public finish(): void {
    if (this.problems.length > 0) throw new DiscoveryKitValidationError([...this.problems]);
  }
}

/**
 * A required prop that plain JavaScript (or tsx, which does not type-check) left out:
 * named like any other bad value instead of surfacing later as a TypeError.
 */
export function checkPresent<T>(scope: IConstruct | string, field: string, value: T | undefined | null, what: string): T {
  if (value === undefined || value === null) invalid(scope, field, value, `is required: ${what}`);
  return value;
}

/** A selector of at least one label: an empty one would select every pod of the namespace. */
export function checkPodSelector(scope: IConstruct | string, field: string, selector: Record<string, string>, what: string): Record<string, string> {
  if (selector === null || typeof selector !== 'object' || Object.keys(selector).length === 0) {
    invalid(scope, field, selector, `must select ${what}: an empty selector would admit every pod of the namespace`);
  }
  return checkLabels(scope, field, selector);
}

const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const IANA_SVC_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const C_IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const QUANTITY = /^[+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei|[eE][+-]?[0-9]+)?$/;

/** Kubernetes Service and most resource names: a DNS-1035 label. */
export function checkDns1035Label(scope: IConstruct | string, field: string, value: string): string {
  if (typeof value !== 'string' || value.length > 63 || !DNS1035_LABEL.test(value)) {
    invalid(scope, field, value,
      "must be a DNS-1035 label: 1-63 lowercase letters, digits or '-', starting with a letter and ending with a letter or digit");
  }
  return value;
}

/** Namespaces, DNS label values, Consul tags: an RFC 1123 label. */
export function checkDns1123Label(scope: IConstruct | string, field: string, value: string): string {
  if (typeof value !== 'string' || value.length > 63 || !DNS1123_LABEL.test(value)) {
    invalid(scope, field, value,
      "must be an RFC 1123 DNS label: 1-63 lowercase letters, digits or '-', starting and ending with a letter or digit");
  }
  return value;
}

/** A DNS-1123 subdomain such as a cluster domain (`cluster.local`). */
export function checkDns1123Subdomain(scope: IConstruct | string, field: string, value: string): string {
  if (typeof value !== 'string' || value.length > 253 || !DNS1123_SUBDOMAIN.test(value)) {
    invalid(scope, field, value, "must be a DNS-1123 subdomain: dot-separated RFC 1123 labels, at most 253 characters");
  }
  return value;
}

/** Named ports: an IANA service name (used in SRV records `_<name>._tcp`). */
export function checkIanaServiceName(scope: IConstruct | string, field: string, value: string): string {
  const ok = typeof value === 'string' && value.length <= 15 && IANA_SVC_NAME.test(value)
    && /[a-z]/.test(value) && !value.includes('--');
  if (!ok) {
    invalid(scope, field, value,
      "must be an IANA service name: 1-15 lowercase letters, digits or '-', at least one letter, no '--', not starting or ending with '-'");
  }
  return value;
}

/** TCP/UDP port numbers. */
export function checkPort(scope: IConstruct | string, field: string, value: number): number {
  return checkInteger(scope, field, value, 1, 65535);
}

/** An integer within [min, max]. */
export function checkInteger(scope: IConstruct | string, field: string, value: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `an integer >= ${min}` : `an integer from ${min} to ${max}`;
    invalid(scope, field, value, `must be ${range}`);
  }
  return value;
}

/** Environment variable names, as the API server accepts them for containers. */
export function checkEnvName(scope: IConstruct | string, field: string, value: string): string {
  if (typeof value !== 'string' || !C_IDENTIFIER.test(value)) {
    invalid(scope, field, value, 'must be a C identifier: letters, digits and _, not starting with a digit');
  }
  return value;
}

/** Kubernetes resource quantities such as `100m`, `256Mi`, `10Gi`. */
export function checkQuantity(scope: IConstruct | string, field: string, value: string): string {
  if (typeof value !== 'string' || !QUANTITY.test(value)) {
    invalid(scope, field, value, "must be a Kubernetes quantity such as '250m', '0.5', '128Mi' or '10Gi'");
  }
  return value;
}

/** Label keys (`[prefix/]name`) and values, as the API server validates them. */
export function checkLabels(scope: IConstruct | string, field: string, labels: Record<string, string>): Record<string, string> {
  for (const [key, value] of Object.entries(labels)) {
    const [prefix, name] = key.includes('/') ? key.split('/', 2) : [undefined, key];
    const keyOk = name.length <= 63 && name.length > 0 && LABEL_VALUE.test(name)
      && (prefix === undefined || (prefix.length <= 253 && DNS1123_SUBDOMAIN.test(prefix)));
    if (!keyOk) {
      invalid(scope, `${field} key`, key, 'must be [DNS-1123 subdomain/]name with a name of 1-63 alphanumerics, -, _ or . starting and ending alphanumeric');
    }
    if (typeof value !== 'string' || value.length > 63 || !LABEL_VALUE.test(value)) {
      invalid(scope, `${field}["${key}"]`, value, 'must be at most 63 alphanumerics, -, _ or . starting and ending alphanumeric (or empty)');
    }
  }
  return labels;
}

/**
 * Container images must be pinned: an explicit tag other than `latest`, or a digest, so a
 * rollout is reproducible and a reviewer's diff shows version changes.
 * @returns the tag (or the digest when there is no tag)
 */
export function checkPinnedImage(scope: IConstruct | string, field: string, image: string): string {
  const ref = parseImage(image);
  if (!ref || (!ref.tag && !ref.digest) || ref.tag === 'latest') {
    invalid(scope, field, image,
      "must name a pinned image: 'repository:tag' with a tag other than 'latest', or 'repository@sha256:<64 hex>'");
  }
  return ref.tag ?? ref.digest!;
}

interface ImageReference {
  readonly repository: string;
  readonly tag?: string;
  readonly digest?: string;
}

// The grammar of github.com/distribution/reference, without the optional parts we parse by hand.
const REPOSITORY = /^([a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?)*(:[0-9]+)?\/)?[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^sha256:[a-f0-9]{64}$/;

function parseImage(image: string): ImageReference | undefined {
  if (typeof image !== 'string') return undefined;
  const [name, digest, ...extra] = image.split('@');
  const lastSlash = name.lastIndexOf('/');
  const colon = name.indexOf(':', lastSlash + 1);
  const repository = colon === -1 ? name : name.slice(0, colon);
  const tag = colon === -1 ? undefined : name.slice(colon + 1);
  const valid = extra.length === 0 && REPOSITORY.test(repository)
    && (tag === undefined || TAG.test(tag)) && (digest === undefined || DIGEST.test(digest));
  return valid ? { repository, tag, digest } : undefined;
}

/** Renders milliseconds as a Go duration string in the largest whole unit: `72h`, `1m`, `10s`, `200ms`. */
export function formatMs(ms: number): string {
  for (const [unit, size] of [['h', 3_600_000], ['m', 60_000], ['s', 1000]] as const) {
    if (ms !== 0 && ms % size === 0) return `${ms / size}${unit}`;
  }
  return ms === 0 ? '0s' : `${ms}ms`;
}

/**
 * A cdk8s `Duration` (every duration prop takes one) within [minMs, maxMs]; plain JavaScript
 * callers that pass a string or number get this error instead of a TypeError.
 * @returns the duration in milliseconds
 */
export function checkDuration(scope: IConstruct | string, field: string, value: Duration, minMs = 0, maxMs = Number.MAX_SAFE_INTEGER): number {
  if (!(value instanceof Duration)) {
    invalid(scope, field, value, "must be a cdk8s Duration such as Duration.seconds(10) or Duration.minutes(1) (import { Duration } from 'cdk8s')");
  }
  const ms = wholeMillis(value);
  if (ms === undefined) invalid(scope, field, value, 'must be a whole number of milliseconds');
  if (ms < minMs || ms > maxMs) {
    invalid(scope, field, value, maxMs === Number.MAX_SAFE_INTEGER ? `must be at least ${formatMs(minMs)}` : `must be from ${formatMs(minMs)} to ${formatMs(maxMs)}`);
  }
  return ms;
}

/** The duration in whole milliseconds, or undefined for a fraction of one. */
function wholeMillis(value: Duration): number | undefined {
  const ms = value.toMilliseconds({ integral: false });
  return Number.isInteger(ms) ? ms : undefined;
}

/** A cdk8s Duration that Kubernetes can express: whole seconds within [min, max]. */
export function checkWholeSeconds(scope: IConstruct | string, field: string, value: Duration, minSeconds: number, maxSeconds = Number.MAX_SAFE_INTEGER): number {
  // toSeconds() throws on fractions; read milliseconds so the error below names the field.
  const seconds = checkDuration(scope, field, value) / 1000;
  if (!Number.isInteger(seconds) || seconds < minSeconds || seconds > maxSeconds) {
    const range = maxSeconds === Number.MAX_SAFE_INTEGER ? `>= ${minSeconds}s` : `from ${minSeconds}s to ${maxSeconds}s`;
    invalid(scope, field, value, `must be a whole number of seconds ${range}`);
  }
  return seconds;
}

/**
 * Rejects duplicates in a list, naming both positions: `field` is the list (items are
 * `field[i]`) or a function naming item i (such as `ports[i].name`).
 */
export function checkUnique<T>(scope: IConstruct | string, field: string | ((index: number) => string), values: readonly T[]): void {
  const itemField = typeof field === 'string' ? (i: number) => `${field}[${i}]` : field;
  const seen = new Map<T, number>();
  values.forEach((value, index) => {
    const first = seen.get(value);
    if (first !== undefined) invalid(scope, itemField(index), value, `must be unique: ${itemField(first)} has the same value`);
    seen.set(value, index);
  });
}

/** A key of a Secret or ConfigMap. */
export function checkSecretKey(scope: IConstruct | string, field: string, key: string): string {
  if (typeof key !== 'string' || key.length > 253 || !/^[-._a-zA-Z0-9]+$/.test(key)) {
    invalid(scope, field, key, "must be a Secret key: 1-253 alphanumerics, '-', '_' or '.'");
  }
  return key;
}

/**
 * A synth-time warning: recorded as `warning` metadata on the construct (for tests and
 * tools) and printed, since cdk8s has no warning channel of its own.
 */
export function warn(scope: IConstruct, message: string): void {
  scope.node.addMetadata('warning', message);
  process.emitWarning(`${describeConstruct(scope)}: ${message}`, { code: 'DISCOVERY_KIT_WARNING' });
}

const SERVICE_URL = /^(https?):\/\/([a-z0-9]([-a-z0-9.]*[a-z0-9])?|\[[0-9a-f:.]+\]):(\d{1,5})$/i;

/**
 * A service URL `http(s)://host:port` (DNS name, IPv4 or [IPv6], no path), such as an
 * agent or etcd client address. @returns the scheme and port
 */
export function checkServiceUrl(scope: IConstruct | string, field: string, url: string): { scheme: 'http' | 'https'; port: number } {
  const match = typeof url === 'string' ? SERVICE_URL.exec(url) : null;
  const port = Number(match?.[4]);
  if (!match || port < 1 || port > 65535) {
    invalid(scope, field, url, 'must be http://host:port or https://host:port (DNS name, IPv4 or [IPv6]; port 1-65535; no path)');
  }
  return { scheme: match[1].toLowerCase() as 'http' | 'https', port };
}
