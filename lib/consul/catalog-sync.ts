import { checkConsulMeta, checkConsulTags } from './service-metadata';
import { IServiceRegistration, RegistrationConfig, RegistrationTarget, registrationPort } from '../registration/registration';
import { ValidationPass, checkDns1035Label } from '../core/validation';

const ANNOTATION_PREFIX = 'consul.hashicorp.com/';
const META_ANNOTATION = `${ANNOTATION_PREFIX}service-meta-`;

/** Props of {@link ConsulCatalogSync}. */
export interface ConsulCatalogSyncProps {
  /**
   * Name in the Consul catalog. Set explicitly so consul-k8s does not append its default
   * `-<namespace>` suffix.
   * @default - the Kubernetes service name
   */
  readonly serviceName?: string;
  /** Named port to register. @default - the port that serves the health endpoints */
  readonly port?: string;
  /** Consul tags (DNS labels). @default - none */
  readonly tags?: string[];
  /** Consul service meta; keys must also fit an annotation name (≤ 63 characters with the `service-meta-` prefix). @default - none */
  readonly meta?: Record<string, string>;
}

/**
 * Registration for clusters that run consul-k8s catalog sync instead of agents: annotations
 * on the ClusterIP Service (`consul.hashicorp.com/service-sync` and friends). Health follows
 * the Endpoints, i.e. pod readiness, so the readiness probe is the registry's check.
 * Consumers find the service through Consul DNS (CoreDNS forwards `.consul`), so the binding
 * gives them no API address and opens no path to Consul.
 */
export class ConsulCatalogSync implements IServiceRegistration {
  constructor(private readonly props: ConsulCatalogSyncProps = {}) {}

  public bind(target: RegistrationTarget): RegistrationConfig {
    const { scope } = target;
    const v = new ValidationPass();
    const name = v.check(() => checkDns1035Label(scope, 'registration.serviceName', this.props.serviceName ?? target.serviceName));
    const port = this.props.port ?? target.health.portName;
    v.check(() => registrationPort(target, port));
    const tags = v.check(() => checkConsulTags(scope, 'registration.tags', this.props.tags ?? []), []);
    const meta = v.check(() => checkConsulMeta(scope, 'registration.meta', this.props.meta ?? {}), {});
    for (const key of Object.keys(meta)) {
      if (`service-meta-${key}`.length > 63) {
        v.report(scope, 'registration.meta key', key, 'must be at most 50 characters: it becomes the annotation name service-meta-<key> (63 at most)');
      }
    }
    v.finish();
    return {
      registry: 'consul',
      serviceAnnotations: {
        [`${ANNOTATION_PREFIX}service-sync`]: 'true',
        [`${ANNOTATION_PREFIX}service-name`]: name!,
        [`${ANNOTATION_PREFIX}service-port`]: port,
        ...(tags.length ? { [`${ANNOTATION_PREFIX}service-tags`]: tags.join(',') } : {}),
        ...Object.fromEntries(Object.entries(meta).map(([k, v]) => [`${META_ANNOTATION}${k}`, v])),
      },
    };
  }
}
