import { ApiObject, Lazy } from 'cdk8s';
import { Construct } from 'constructs';
import { CONSUL_CRD_API_VERSION, ConsulConfigEntryProps, configEntryMetadata } from './circuit-breaker';
import { checkDns1035Label } from '../core/validation';
import { ServiceIntentionsSpec, SourceIntention } from './consul-crd-types';

/** Props of {@link ConsulServiceIntentions}. */
export interface ConsulServiceIntentionsProps extends ConsulConfigEntryProps {
  /** Consul names of the services allowed to connect (L4 `allow`); more can be added with {@link ConsulServiceIntentions.allow}. @default - none yet */
  readonly allowedSources?: string[];
}

/**
 * A consul-k8s `ServiceIntentions` (consul.hashicorp.com/v1alpha1) allowing named sources to
 * connect to one destination service over the mesh. Under ACL `default_policy: deny` mesh
 * traffic is refused without one. consul-k8s accepts only one ServiceIntentions per
 * destination in the whole cluster, so every source of a destination goes into this one
 * object (control-plane/api/v1alpha1/serviceintentions_webhook.go); sources are sorted so
 * a new consumer is a one-line diff.
 */
export class ConsulServiceIntentions extends Construct {
  /** Consul name of the destination service. */
  public readonly serviceName: string;
  public readonly namespace: string;
  public readonly resource: ApiObject;
  private readonly sources = new Set<string>();

  constructor(scope: Construct, id: string, props: ConsulServiceIntentionsProps) {
    super(scope, id);
    const metadata = configEntryMetadata(this, id, props);
    (props.allowedSources ?? []).forEach((source, i) => this.sources.add(checkDns1035Label(this, `allowedSources[${i}]`, source)));
    this.serviceName = metadata.name;
    this.namespace = metadata.namespace;
    const spec: ServiceIntentionsSpec = {
      destination: { name: this.serviceName },
      sources: Lazy.any({ produce: (): SourceIntention[] => [...this.sources].sort().map((name) => ({ name, action: 'allow' })) }),
    };
    this.resource = new ApiObject(this, 'resource', { apiVersion: CONSUL_CRD_API_VERSION, kind: 'ServiceIntentions', metadata, spec });
  }

  /** Allows the mesh service `source` (its Consul name) to connect. */
  public allow(source: string): void {
    this.sources.add(checkDns1035Label(this, 'allow', source));
  }
}
