import { ApiObject } from 'cdk8s';
import { Construct } from 'constructs';
import {
  CONSUL_CRD_API_VERSION, ConsulConfigEntryProps, MeshProtocol, ServiceResolverOptions, configEntryMetadata, serviceResolverSpec,
} from './circuit-breaker';

/** Props of {@link ConsulServiceResolver}. */
export interface ConsulServiceResolverProps extends ConsulConfigEntryProps, ServiceResolverOptions {
  /** Protocol of the service, which decides whether L7-only settings such as `requestTimeout` apply. */
  readonly protocol: MeshProtocol;
}

/**
 * A consul-k8s `ServiceResolver` (consul.hashicorp.com/v1alpha1): how every consumer in the
 * mesh reaches this service — connect and request timeouts, and where to fail over when no
 * healthy instance is left. Only mesh (sidecar) traffic honours it.
 */
export class ConsulServiceResolver extends Construct {
  /** Consul service name, the resource's metadata.name. */
  public readonly serviceName: string;
  public readonly namespace: string;
  public readonly resource: ApiObject;

  constructor(scope: Construct, id: string, props: ConsulServiceResolverProps) {
    super(scope, id);
    const metadata = configEntryMetadata(this, id, props);
    const spec = serviceResolverSpec(this, '', props.protocol, props);
    this.serviceName = metadata.name;
    this.namespace = metadata.namespace;
    this.resource = new ApiObject(this, 'resource', { apiVersion: CONSUL_CRD_API_VERSION, kind: 'ServiceResolver', metadata, spec });
  }
}
