import { Construct, IConstruct } from 'constructs';
import { CONSUL_SERVICE_TOKEN_CA_KEY, ConsulBootstrapReference } from './bootstrap/props';
import { checkDeclarable, declareServiceToken, resolveServiceToken } from './bootstrap/service-token';
import { SecretKeyReference, checkSecretKeyReference } from '../core/secret';

/** The registering service a {@link ConsulAgentToken} is bound to. */
export interface ConsulAgentTokenTarget {
  /** The service's construct, for error messages. */
  readonly scope: IConstruct;
  /** The prop that holds the token, for error messages, e.g. `registration.aclToken`. */
  readonly field: string;
  /** The Consul service name the pods register as (the token's service identity). */
  readonly serviceName: string;
  /** Namespace of the pods, where the token Secret must be. */
  readonly namespace: string;
}

/** What a bound {@link ConsulAgentToken} gives the registration. */
export interface ConsulAgentTokenConfig {
  /** The Secret key the sidecar mounts (an optional volume: the pods start before it exists). */
  readonly secret: SecretKeyReference;
  /**
   * A key of the same Secret holding the CA bundle that verifies the agents' HTTPS, used when
   * the agent serves HTTPS and the registration sets no `caCert`.
   * @default - none: an HTTPS agent needs the registration's `caCert`
   */
  readonly caKey?: string;
  /**
   * Makes what the token needs, e.g. its {@link ConsulServiceToken} declaration: called once
   * the service's validation pass has finished. @default - nothing to make
   */
  readonly addObjects?: (scope: Construct) => void;
}

/**
 * Where a `ConsulAgentRegistration` sidecar gets its ACL token (`service:write` on the
 * service, needed under `default_policy: deny`). Either way the token is a file of an
 * optional Secret volume that the sidecar reads before each call to the agent: the pods start
 * before the Secret exists, the sidecar registers once it appears, and a rotated token is used
 * without a restart.
 */
export abstract class ConsulAgentToken {
  /** A token in a Secret of the service's namespace that you manage. */
  public static fromSecret(secret: SecretKeyReference): ConsulAgentToken {
    return new SecretAgentToken(secret);
  }

  /**
   * The token the platform's `ConsulBootstrap` writes: each service that registers declares
   * its own {@link ConsulServiceToken} (Secret `<consul service name>-consul-token`, key
   * `token`), so nobody keeps a list of services.
   * @param bootstrap the platform's `ConsulBootstrap`, or `ConsulBootstrap.fromAttributes(...)` in another program
   */
  public static fromBootstrap(bootstrap: ConsulBootstrapReference): ConsulAgentToken {
    return new BootstrapAgentToken(bootstrap);
  }

  /**
   * Checks the token for one registering service and says what to mount; creates nothing
   * (it runs inside the service's validation pass). Called by `ConsulAgentRegistration`.
   */
  public abstract bind(target: ConsulAgentTokenTarget): ConsulAgentTokenConfig;
}

class SecretAgentToken extends ConsulAgentToken {
  constructor(private readonly secret: SecretKeyReference) {
    super();
  }

  public bind(target: ConsulAgentTokenTarget): ConsulAgentTokenConfig {
    return { secret: checkSecretKeyReference(target.scope, target.field, this.secret) };
  }
}

class BootstrapAgentToken extends ConsulAgentToken {
  constructor(private readonly bootstrap: ConsulBootstrapReference) {
    super();
  }

  public bind(target: ConsulAgentTokenTarget): ConsulAgentTokenConfig {
    const props = { bootstrap: this.bootstrap, serviceName: target.serviceName, namespace: target.namespace };
    const spec = resolveServiceToken(target.scope, props, `${target.field}.`);
    checkDeclarable(target.scope, target.field, spec);
    // With HTTPS servers the bootstrap writes the CA bundle (servers' CA, Connect CA roots) next to the token.
    return { secret: spec.secret, caKey: CONSUL_SERVICE_TOKEN_CA_KEY, addObjects: (scope) => declareServiceToken(scope, props, spec) };
  }
}
