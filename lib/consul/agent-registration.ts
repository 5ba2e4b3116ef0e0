import { Duration } from 'cdk8s';
import { k8s } from 'cdk8s-plus-27';
import { DEFAULT_CONSUL_IMAGE } from './config';
import { checkConsulMeta, checkConsulTags } from './service-metadata';
import { CONSUL_CLIENT_LABEL, podsIn, policyPort } from '../core/network-policy';
import { IServiceRegistration, RegistrationConfig, RegistrationTarget, registrationPort, registrationSidecar } from '../registration/registration';
import { podIdentityChecks, shellQuote } from '../registration/shell';
import {
  checkDns1035Label, checkDns1123Label, checkDns1123Subdomain, checkGoDuration, checkPodSelector, checkPort, checkPresent, checkSecretKey, checkServiceUrl,
  checkWholeSeconds, invalid,
} from '../core/validation';

/** Where pods reach a node-local Consul agent; `ConsulCluster.agent` satisfies it. */
export interface ConsulAgentAddress {
  /** `http(s)://host:port` of the agent Service (internalTrafficPolicy Local). */
  readonly url: string;
  /** Agent container port, for NetworkPolicy egress. */
  readonly port: number;
  /** Name of the Consul cluster; pods label themselves `CONSUL_CLIENT_LABEL: <clusterName>`. */
  readonly clusterName: string;
  /** Namespace of the agent pods. */
  readonly namespace: string;
  /** Labels that select the agent pods. */
  readonly podSelector: Record<string, string>;
}

/** A Secret key, for the ACL token and TLS material. */
export interface ConsulSecretRef {
  readonly secretName: string;
  readonly key: string;
}

/** Props of {@link ConsulAgentRegistration}. */
export interface ConsulAgentRegistrationProps {
  /** The node-local agent to register with. */
  readonly agent: ConsulAgentAddress;
  /** Consul service name (DNS-1035 label). @default - the Kubernetes service name */
  readonly serviceName?: string;
  /** Named port to register. @default - the port that serves the health endpoints */
  readonly port?: string;
  /** Tags (DNS labels), for `<tag>.<service>.service.consul`. @default - none */
  readonly tags?: string[];
  /** Service meta within Consul's limits; `k8s-namespace` and `k8s-pod` are added. @default - none */
  readonly meta?: Record<string, string>;
  /**
   * How long an instance may stay critical before the agent removes it: the safety net for
   * a pod that crashed without running its deregistration. Go duration, at least 1m (Consul's
   * minimum; its reaper runs every 30s).
   * @default '1m'
   */
  readonly deregisterCriticalServiceAfter?: string;
  /**
   * How often the sidecar asks the node's agent whether it still has the registration
   * (`GET /v1/agent/service/<pod>`, a local read that writes nothing). It registers again only
   * when the agent lost it, e.g. a replaced agent pod with a fresh data dir, so the instance
   * is back within about this interval plus one health check.
   * @default Duration.seconds(5)
   */
  readonly resyncInterval?: Duration;
  /** Secret holding an ACL token with `service:write` on the service (needed under `default_policy: deny`). @default - no token */
  readonly aclToken?: ConsulSecretRef;
  /** Secret holding the CA certificate, when the agent serves HTTPS. @default - none */
  readonly caCert?: ConsulSecretRef;
  /** Sidecar image: needs `sh` and the `consul` CLI (the Consul image has both, on busybox). @default DEFAULT_CONSUL_IMAGE */
  readonly image?: string;
}

/** The values the sidecar script is rendered from, all validated. */
export interface ConsulRegistrationScriptOptions {
  /** The service definition with `{{POD_NAME}}`, `{{POD_IP}}` and `{{POD_IP_URL}}` placeholders. */
  readonly definitionTemplate: string;
  /** Where the script writes the definition. */
  readonly definitionPath: string;
  readonly resyncSeconds: number;
}

/** The default {@link ConsulAgentRegistrationProps.resyncInterval}. */
export const DEFAULT_CONSUL_RESYNC = Duration.seconds(5);

const DEFINITION_DIR = '/consul-registration';
const CALL_TIMEOUT_SECONDS = 10;
const DEREGISTER_TIMEOUT_SECONDS = 5;
const PLACEHOLDER = /\{\{(POD_NAME|POD_IP|POD_IP_URL)\}\}/;

/**
 * Registers each pod with the node-local Consul agent from a sidecar that runs the Consul
 * image, so nothing is assumed about the app image. At start it writes the service
 * definition with the pod's own name and IP and runs `consul services register`; every
 * resync interval it asks the agent whether it still has the service and registers again
 * only if not (an agent replaced with a fresh data dir forgets every service); on SIGTERM it
 * deregisters at once (before the app's preStop delay ends). A pod that crashes without
 * deregistering goes critical and is reaped after `deregister_critical_service_after`.
 *
 * The HTTP check is the readiness probe's endpoint, interval and timeout, so Consul and
 * Kubernetes agree on which instances are healthy.
 */
export class ConsulAgentRegistration implements IServiceRegistration {
  constructor(private readonly props: ConsulAgentRegistrationProps) {}

  public bind(target: RegistrationTarget): RegistrationConfig {
    const { scope } = target;
    const props = this.props;
    const agent = checkAgentAddress(scope, 'registration.agent', props.agent);
    checkGoDuration(scope, 'registration.deregisterCriticalServiceAfter', props.deregisterCriticalServiceAfter ?? '1m', 60_000);
    const resyncSeconds = checkWholeSeconds(scope, 'registration.resyncInterval', props.resyncInterval ?? DEFAULT_CONSUL_RESYNC, 5, 3600);
    for (const [field, ref] of [['aclToken', props.aclToken], ['caCert', props.caCert]] as const) {
      if (ref) checkSecretRef(scope, `registration.${field}`, ref);
    }
    if (agent.scheme === 'https' && !props.caCert) {
      invalid(scope, 'registration.caCert', undefined, `must be set: the agent serves HTTPS (${props.agent.url}) and the sidecar must verify it with the cluster's CA`);
    }
    const secretEnv = (name: string, ref?: ConsulSecretRef): k8s.EnvVar[] =>
      ref ? [{ name, valueFrom: { secretKeyRef: { name: ref.secretName, key: ref.key } } }] : [];
    const sidecar = registrationSidecar(target, {
      name: 'consul-registration',
      image: props.image ?? DEFAULT_CONSUL_IMAGE,
      script: renderConsulRegistrationScript({
        definitionTemplate: consulServiceDefinition(target, props), definitionPath: `${DEFINITION_DIR}/service.json`, resyncSeconds,
      }),
      env: [
        { name: 'CONSUL_HTTP_ADDR', value: props.agent.url },
        ...secretEnv('CONSUL_HTTP_TOKEN', props.aclToken),
        ...(props.caCert ? [{ name: 'CONSUL_CACERT', value: `${DEFINITION_DIR}-ca/${props.caCert.key}` }] : []),
      ],
      volumeMounts: [
        { name: 'consul-registration', mountPath: DEFINITION_DIR },
        ...(props.caCert ? [{ name: 'consul-registration-ca', mountPath: `${DEFINITION_DIR}-ca`, readOnly: true }] : []),
      ],
    });
    const agentPeer = podsIn(props.agent.namespace, props.agent.podSelector);
    const checkPort = policyPort(registrationPort(target, target.health.portName));
    return {
      registry: 'consul',
      sidecars: [sidecar],
      volumes: [
        { name: 'consul-registration', emptyDir: { sizeLimit: k8s.Quantity.fromString('1Mi') } },
        ...(props.caCert ? [{ name: 'consul-registration-ca', secret: { secretName: props.caCert.secretName, items: [{ key: props.caCert.key, path: props.caCert.key }] } }] : []),
      ],
      podLabels: { [CONSUL_CLIENT_LABEL]: props.agent.clusterName },
      egress: [{ to: [agentPeer], ports: [policyPort(props.agent.port)] }],
      // The agent runs the HTTP check against the pod IP, on the check's port and no other.
      ingress: [{ from: [agentPeer], ports: [checkPort] }],
      registryEgress: { registryName: `${props.agent.clusterName}-agent`, namespace: props.agent.namespace, podSelector: props.agent.podSelector, ports: [checkPort] },
      shutdownSeconds: DEREGISTER_TIMEOUT_SECONDS,
      consumerEnv: { CONSUL_HTTP_ADDR: props.agent.url },
    };
  }
}

/** The agent address must be usable: a URL, a port, and a selector that names the agents only. */
function checkAgentAddress(scope: RegistrationTarget['scope'], field: string, agent: ConsulAgentAddress): { scheme: 'http' | 'https' } {
  checkPresent(scope, field, agent, 'the node-local Consul agent to register with, such as ConsulCluster.agent');
  const { scheme } = checkServiceUrl(scope, `${field}.url`, agent.url);
  checkPort(scope, `${field}.port`, agent.port);
  checkDns1123Subdomain(scope, `${field}.clusterName`, agent.clusterName);
  checkDns1123Label(scope, `${field}.namespace`, agent.namespace);
  checkPodSelector(scope, `${field}.podSelector`, agent.podSelector, 'the agent pods');
  return { scheme };
}

function checkSecretRef(scope: RegistrationTarget['scope'], field: string, ref: ConsulSecretRef): void {
  checkDns1123Subdomain(scope, `${field}.secretName`, ref.secretName);
  checkSecretKey(scope, `${field}.key`, ref.key);
}

/**
 * The agent service definition (file form, snake_case, as `consul services register`
 * reads it), with placeholders for what only the running pod knows.
 */
export function consulServiceDefinition(target: RegistrationTarget, props: ConsulAgentRegistrationProps): string {
  const { scope, health } = target;
  const name = checkDns1035Label(scope, 'registration.serviceName', props.serviceName ?? target.serviceName);
  const port = registrationPort(target, props.port);
  // Interval and timeout are the readiness probe's: whole seconds >= 1, within Consul's minimum.
  const check = health.registryCheck();
  const healthPort = registrationPort(target, check.portName);
  const meta = checkConsulMeta(scope, 'registration.meta', props.meta ?? {}, ['k8s-namespace', 'k8s-pod']);
  const scheme = check.scheme.toLowerCase();
  return JSON.stringify({
    service: {
      id: '{{POD_NAME}}',
      name,
      tags: checkConsulTags(scope, 'registration.tags', props.tags ?? []),
      address: '{{POD_IP}}',
      port,
      meta: { ...meta, 'k8s-namespace': target.namespace, 'k8s-pod': '{{POD_NAME}}' },
      enable_tag_override: false,
      check: {
        name: `${name} readiness`,
        http: `${scheme}://{{POD_IP_URL}}:${healthPort}${check.path}`,
        method: 'GET',
        interval: check.interval,
        timeout: check.timeout,
        failures_before_critical: check.failuresBeforeCritical,
        deregister_critical_service_after: props.deregisterCriticalServiceAfter ?? '1m',
        ...(scheme === 'https' ? { tls_skip_verify: true } : {}),
      },
    },
  }, null, 2);
}

/**
 * The sidecar's POSIX sh script (busybox and dash). Every baked-in value goes through
 * `shellQuote`; the pod's name and IP are checked at run time before they are spliced in.
 * Each call to the agent runs in the background under `timeout`, because sh runs traps only
 * between foreground commands: SIGTERM deregisters at once even while a call hangs on an
 * unreachable agent. The periodic check is a `curl` GET of the agent's own record (the
 * Consul image ships curl); the ACL token goes to curl in a header file, not on its command
 * line.
 */
export function renderConsulRegistrationScript(options: ConsulRegistrationScriptOptions): string {
  const segments = options.definitionTemplate.split(PLACEHOLDER);
  const writes = segments.map((segment, i) => (i % 2 === 0 ? `printf '%s' ${shellQuote(segment)}` : `printf '%s' "$${segment}"`));
  const dir = options.definitionPath.slice(0, options.definitionPath.lastIndexOf('/'));
  return `#!/bin/sh
# Consul agent registration sidecar, generated by discovery-kit. POSIX sh: dash, busybox ash.
set -u
DEFINITION=${shellQuote(options.definitionPath)}
OUT=${shellQuote(`${options.definitionPath}.out`)}
STATUS=${shellQuote(`${dir}/status`)}
HEADERS=${shellQuote(`${dir}/headers`)}
RESYNC=${shellQuote(String(options.resyncSeconds))}

log() { printf 'consul-registration: %s\\n' "$*"; }
die() { printf 'consul-registration: fatal: %s\\n' "$*" >&2; exit 2; }

for tool in consul curl date sleep timeout tail; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool not found in PATH"
done

${podIdentityChecks()}
case $POD_IP in *:*) POD_IP_URL="[$POD_IP]" ;; *) POD_IP_URL=$POD_IP ;; esac

{ ${writes.join('; ')}; } > "$DEFINITION" || die "cannot write $DEFINITION"
: > "$HEADERS" || die "cannot write $HEADERS"
[ -z "\${CONSUL_HTTP_TOKEN:-}" ] || printf 'X-Consul-Token: %s\\n' "$CONSUL_HTTP_TOKEN" > "$HEADERS"

PID=
# Runs a command in the background, its stdout to file $1 and stderr to file $2, and waits, so
# a TERM is handled while it runs. The redirections stay on the command: on the call they
# would also capture what the TERM handler logs.
background() {
  out=$1 err=$2
  shift 2
  "$@" >"$out" 2>"$err" &
  PID=$!
  wait "$PID"
  status=$?
  PID=
  return "$status"
}
consul_call() { background /dev/null "$OUT" timeout ${CALL_TIMEOUT_SECONDS} consul "$@"; }
# Asks the agent for its record of this pod; STATUS gets the HTTP status (200 registered,
# 404 not, 000 or nothing: no answer). Not in $(...): a TERM must not wait for a subshell.
lookup() {
  set -- -sS -o /dev/null -w '%{http_code}' -H "@$HEADERS"
  [ -z "\${CONSUL_CACERT:-}" ] || set -- "$@" --cacert "$CONSUL_CACERT"
  background "$STATUS" "$OUT" timeout ${CALL_TIMEOUT_SECONDS} curl "$@" "\${CONSUL_HTTP_ADDR%/}/v1/agent/service/$POD_NAME"
}
# Why the last call failed, in words an operator can act on.
why() {
  line=$(tail -n 1 "$OUT" 2>/dev/null)
  case $line in
    *403* | *"Permission denied"* | *"ACL not found"*) printf 'the ACL token was refused (it needs service:write on the service): %s' "$line" ;;
    '') printf 'no answer from the agent at %s within ${CALL_TIMEOUT_SECONDS}s' "\${CONSUL_HTTP_ADDR:-?}" ;;
    *) printf '%s' "$line" ;;
  esac
}

deregister() {
  trap - TERM INT
  [ -z "$PID" ] || kill "$PID" 2>/dev/null
  if timeout ${DEREGISTER_TIMEOUT_SECONDS} consul services deregister -id="$POD_NAME" >"$OUT" 2>&1; then
    log "deregistered $POD_NAME"
  else
    log "deregistration of $POD_NAME failed ($(why)); the agent reaps it once critical"
  fi
  exit 0
}
trap deregister TERM INT

registered=
failures=0
since=
# Logs the first failure of a run of failures; the recovery says how long it lasted.
failed() {
  failures=$((failures + 1))
  [ "$failures" -gt 1 ] || { since=$(date +%s); log "$1, retrying every 2s: $(why)"; }
  pause=2
}
recovered() {
  [ "$failures" -eq 0 ] || log "the agent answers again after $failures failed attempts in $(( $(date +%s) - since ))s"
  failures=0
  pause=$RESYNC
}
while :; do
  lookup
  code=$(cat "$STATUS" 2>/dev/null)
  case $code in
    200) recovered ;;
    404)
      if consul_call services register "$DEFINITION"; then
        if [ -z "$registered" ]; then
          log "registered $POD_NAME at $POD_IP"
        else
          log "the agent had lost $POD_NAME (restarted or replaced): registered it again"
        fi
        registered=1
        recovered
      else
        failed "registration failed"
      fi ;;
    000 | '') failed "cannot look up $POD_NAME at the agent" ;;
    *) printf 'HTTP %s\\n' "$code" >"$OUT"; failed "cannot look up $POD_NAME at the agent" ;;
  esac
  background /dev/null /dev/null sleep "$pause"
done
`;
}
