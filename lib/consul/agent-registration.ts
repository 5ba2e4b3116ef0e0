import { join } from 'node:path';
import { Duration } from 'cdk8s';
import { k8s } from 'cdk8s-plus-27';
import { ConsulAgentToken, ConsulAgentTokenConfig } from './agent-token';
import { DEFAULT_CONSUL_IMAGE } from './config';
import { checkConsulMeta, checkConsulTags } from './service-metadata';
import { CONSUL_CLIENT_LABEL, podsIn, policyPort } from '../core/network-policy';
import { SecretKeyReference, checkSecretKeyReference } from '../core/secret';
import { IServiceRegistration, RegistrationConfig, RegistrationTarget, registrationPort, registrationSidecar } from '../registration/registration';
import { packageScript } from '../registration/scripts';
import {
  ValidationPass, checkDns1035Label, checkDns1123Label, checkDns1123Subdomain, checkDuration, checkPinnedImage, checkPodSelector, checkPort,
  checkPresent, checkServiceUrl, checkWholeSeconds, formatMs, invalid,
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
   * a pod that crashed without running its deregistration. At least a minute (Consul's
   * minimum; its reaper runs every 30s).
   * @default Duration.minutes(1)
   */
  readonly deregisterCriticalServiceAfter?: Duration;
  /**
   * How often the sidecar asks the node's agent whether it still has the registration
   * (`GET /v1/agent/service/<pod>`, a local read that writes nothing). It registers again only
   * when the agent lost it, e.g. a replaced agent pod with a fresh data dir, so the instance
   * is back within about this interval plus one health check.
   * Whole seconds from 5s to 1h.
   * @default Duration.seconds(5)
   */
  readonly resyncInterval?: Duration;
  /**
   * The ACL token with `service:write` on the service (needed under `default_policy: deny`):
   * `ConsulAgentToken.fromBootstrap(bootstrap)` (the platform's `ConsulBootstrap` writes it)
   * or `ConsulAgentToken.fromSecret({ secretName, key })`. The sidecar reads it from an
   * optional Secret volume before each call, so the pods start before the Secret exists and
   * the sidecar registers once it appears.
   * @default - no token
   */
  readonly aclToken?: ConsulAgentToken;
  /** Secret holding the CA certificate, when the agent serves HTTPS. @default - none */
  readonly caCert?: SecretKeyReference;
  /** Sidecar image: needs `sh` and the `consul` CLI (the Consul image has both, on busybox). @default DEFAULT_CONSUL_IMAGE */
  readonly image?: string;
}

/** The default {@link ConsulAgentRegistrationProps.resyncInterval}. */
const DEFAULT_CONSUL_RESYNC = Duration.seconds(5);
/** The default {@link ConsulAgentRegistrationProps.deregisterCriticalServiceAfter}. */
const DEFAULT_CONSUL_DEREGISTER_CRITICAL_AFTER = Duration.minutes(1);

/** A writable directory for the definition file (an emptyDir). */
const DEFINITION_DIR = '/consul-registration';
/** Where the token's optional Secret volume is mounted. */
const TOKEN_DIR = `${DEFINITION_DIR}-token`;
/** How long the script's deregistration may take (its DEREGISTER_TIMEOUT). */
const DEREGISTER_TIMEOUT_SECONDS = 5;
/** lib/consul/agent-registration.sh, the sidecar's script, in its ConfigMap. */
export const CONSUL_REGISTRATION_SCRIPT = packageScript('discovery-kit-consul-registration', join(__dirname, 'agent-registration.sh'));

/**
 * Registers each pod with the node-local Consul agent from a sidecar that runs the Consul
 * image (lib/consul/agent-registration.sh), so nothing is assumed about the app image. At
 * start it writes the service definition with the pod's own name and IP and runs
 * `consul services register`; every resync interval it asks the agent whether it still has
 * the service and registers again only if not (an agent replaced with a fresh data dir
 * forgets every service); on SIGTERM it deregisters at once (before the app's preStop delay
 * ends). A pod that crashes without deregistering goes critical and is reaped after
 * `deregister_critical_service_after`.
 *
 * The HTTP check is the readiness probe's endpoint, interval and timeout, so Consul and
 * Kubernetes agree on which instances are healthy.
 */
export class ConsulAgentRegistration implements IServiceRegistration {
  constructor(private readonly props: ConsulAgentRegistrationProps) {}

  public bind(target: RegistrationTarget): RegistrationConfig {
    const { scope, health } = target;
    const props = this.props;
    const v = new ValidationPass();
    const agent = v.check(() => checkAgentAddress(scope, 'registration.agent', props.agent));
    const name = v.check(() => checkDns1035Label(scope, 'registration.serviceName', props.serviceName ?? target.serviceName));
    const port = v.check(() => registrationPort(target, props.port));
    const tags = v.check(() => checkConsulTags(scope, 'registration.tags', props.tags ?? []));
    const meta = v.check(() => checkConsulMeta(scope, 'registration.meta', props.meta ?? {}, ['k8s-namespace', 'k8s-pod']));
    // Interval and timeout are the readiness probe's: whole seconds >= 1, within Consul's minimum.
    const check = health.registryCheck();
    const checkPort = v.check(() => registrationPort(target, check.portName));
    const deregisterAfterMs = v.check(() => checkDuration(scope, 'registration.deregisterCriticalServiceAfter',
      props.deregisterCriticalServiceAfter ?? DEFAULT_CONSUL_DEREGISTER_CRITICAL_AFTER, 60_000));
    const resyncSeconds = v.check(() => checkWholeSeconds(scope, 'registration.resyncInterval', props.resyncInterval ?? DEFAULT_CONSUL_RESYNC, 5, 3600));
    // With a bad serviceName the pass fails anyway; the service's name stands in so the token is still checked.
    const aclToken = props.aclToken && v.check(() => bindToken(scope, props.aclToken!, name ?? target.serviceName, target.namespace));
    const caCert = props.caCert && v.check(() => checkSecretKeyReference(scope, 'registration.caCert', props.caCert!));
    const image = props.image ?? DEFAULT_CONSUL_IMAGE;
    v.check(() => checkPinnedImage(scope, 'registration.image', image));
    // An HTTPS agent is verified with caCert, else with the CA bundle next to the token (the bootstrap's).
    const caFromToken = agent?.scheme === 'https' && !props.caCert;
    const tokenCaKey = caFromToken ? aclToken?.caKey : undefined;
    if (caFromToken && !tokenCaKey) {
      v.report(scope, 'registration.caCert', undefined, `must be set: the agent serves HTTPS (${props.agent.url}) and the sidecar must verify it with the cluster's CA (or take a token from ConsulAgentToken.fromBootstrap, whose Secret carries it)`);
    }
    v.finish();
    const caFile = caCert ? `${DEFINITION_DIR}-ca/${caCert.key}` : tokenCaKey && `${TOKEN_DIR}/${tokenCaKey}`;
    const scheme = check.scheme.toLowerCase();
    // The script's whole input (see its header); the consul CLI reads the CONSUL_HTTP_* variables itself.
    const env: k8s.EnvVar[] = [
      { name: 'CONSUL_HTTP_ADDR', value: props.agent.url },
      ...(aclToken ? [{ name: 'CONSUL_HTTP_TOKEN_FILE', value: `${TOKEN_DIR}/${aclToken.secret.key}` }] : []),
      ...(caFile ? [{ name: 'CONSUL_CACERT', value: caFile }] : []),
      { name: 'CONSUL_REGISTRATION_DIR', value: DEFINITION_DIR },
      { name: 'CONSUL_SERVICE_NAME', value: name! },
      { name: 'CONSUL_SERVICE_PORT', value: String(port) },
      { name: 'CONSUL_SERVICE_TAGS', value: tags!.join(',') },
      { name: 'CONSUL_SERVICE_META', value: JSON.stringify({ ...meta, 'k8s-namespace': target.namespace }) },
      { name: 'CONSUL_CHECK_SCHEME', value: scheme },
      { name: 'CONSUL_CHECK_PORT', value: String(checkPort) },
      { name: 'CONSUL_CHECK_PATH', value: check.path },
      { name: 'CONSUL_CHECK_INTERVAL', value: check.interval },
      { name: 'CONSUL_CHECK_TIMEOUT', value: check.timeout },
      { name: 'CONSUL_CHECK_FAILURES_BEFORE_CRITICAL', value: String(check.failuresBeforeCritical) },
      { name: 'CONSUL_DEREGISTER_CRITICAL_SERVICE_AFTER', value: formatMs(deregisterAfterMs!) },
      { name: 'CONSUL_RESYNC_SECONDS', value: String(resyncSeconds) },
    ];
    const agentPeer = podsIn(props.agent.namespace, props.agent.podSelector);
    const checkPolicyPort = policyPort(checkPort!);
    return {
      registry: 'consul',
      ...registrationSidecar(target, {
        name: 'consul-registration',
        image,
        script: CONSUL_REGISTRATION_SCRIPT,
        env,
        volumeMounts: [
          { name: 'consul-registration', mountPath: DEFINITION_DIR },
          ...(caCert ? [{ name: 'consul-registration-ca', mountPath: `${DEFINITION_DIR}-ca`, readOnly: true }] : []),
          ...(aclToken ? [{ name: 'consul-registration-token', mountPath: TOKEN_DIR, readOnly: true }] : []),
        ],
        volumes: [
          { name: 'consul-registration', emptyDir: { sizeLimit: k8s.Quantity.fromString('1Mi') } },
          ...(caCert ? [{ name: 'consul-registration-ca', secret: { secretName: caCert.secretName, items: [{ key: caCert.key, path: caCert.key }] } }] : []),
          // Optional: the pods start before the token exists; kubelet fills the volume when it
          // appears and rewrites it when it changes. Group-readable through the pod's fsGroup.
          ...(aclToken ? [{
            name: 'consul-registration-token',
            secret: {
              secretName: aclToken.secret.secretName,
              items: [aclToken.secret.key, ...(tokenCaKey ? [tokenCaKey] : [])].map((key) => ({ key, path: key })),
              defaultMode: 0o440,
              optional: true,
            },
          }] : []),
        ],
      }),
      podLabels: { [CONSUL_CLIENT_LABEL]: props.agent.clusterName },
      egress: [{ to: [agentPeer], ports: [policyPort(props.agent.port)] }],
      // The agent runs the HTTP check against the pod IP, on the check's port and no other.
      ingress: [{ from: [agentPeer], ports: [checkPolicyPort] }],
      registryEgress: { registryName: `${props.agent.clusterName}-agent`, namespace: props.agent.namespace, podSelector: props.agent.podSelector, ports: [checkPolicyPort] },
      shutdownSeconds: DEREGISTER_TIMEOUT_SECONDS,
      consumerEnv: { CONSUL_HTTP_ADDR: props.agent.url },
      addObjects: aclToken?.addObjects,
    };
  }
}

/** The token, bound to the Consul service the pods register as. */
function bindToken(scope: RegistrationTarget['scope'], token: ConsulAgentToken, serviceName: string, namespace: string): ConsulAgentTokenConfig {
  if (!(token instanceof ConsulAgentToken)) {
    invalid(scope, 'registration.aclToken', token, 'must be a ConsulAgentToken: ConsulAgentToken.fromBootstrap(bootstrap) or ConsulAgentToken.fromSecret({ secretName, key })');
  }
  return token.bind({ scope, field: 'registration.aclToken', serviceName, namespace });
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
