import { App, Chart } from 'cdk8s';
import { ConsulAgentToken } from '../../lib';
import { Cdk8sChartResource, kubernetesProvider, kubernetesSecret } from '../../lib/pulumi';
import { StackConfig } from '../shared/config';
import { readPlatformOutputs } from '../shared/platform-outputs';
import { checkConsulAclTokens, readAppsConfig } from './config';
import { CONSUL_REGISTERED_SERVICES, ConsulRegisteredService, consulTokenSecret, defineShop, ShopServiceName } from '../../examples/shop';

/** The apps stack's outputs. */
export interface AppsOutputs {
  /** Where the services run (the platform's apps namespace). */
  readonly namespace: string;
  /** Each service's in-cluster URL (server-side discovery). */
  readonly urls: Record<ShopServiceName, string>;
}

/**
 * The apps stack: the example shop, deployed into the platform's apps namespace and
 * registered with the platform's Consul agent, each registering service with its own ACL
 * token: declared for the platform's bootstrap Job, which writes it (nothing to set), or,
 * when the platform's tokens come from config, in a Secret created here from secret config
 * (never in a manifest).
 *
 * cdk8s synthesis is synchronous and StackReference outputs are asynchronous, so the program
 * awaits the platform's outputs as plain values first (the entry point exports this async
 * function, which Pulumi awaits), then synthesizes and registers every object synchronously:
 * one Pulumi resource per Kubernetes object, none created inside an `apply`, so names are
 * plain strings and `pulumi preview` lists every object.
 */
export async function appsProgram(): Promise<AppsOutputs> {
  const stackConfig = new StackConfig();
  const config = readAppsConfig(stackConfig);
  const platform = await readPlatformOutputs(config.platformStack);
  checkConsulAclTokens(stackConfig, config.consulAclTokens, platform);
  const namespace = platform.namespaces.apps;
  const chart = new Chart(new App(), 'apps', { namespace, disableResourceNameHashes: true });
  // No circuit breaker: its ServiceDefaults need consul-k8s's CRDs, which the platform does not install.
  const { consulBootstrap } = platform;
  const tokensFromConfig = platform.consulAclsEnabled && !consulBootstrap;
  const consulToken = !platform.consulAclsEnabled ? undefined
    : consulBootstrap ? () => ConsulAgentToken.fromBootstrap(consulBootstrap)
      : (service: ConsulRegisteredService) => ConsulAgentToken.fromSecret(consulTokenSecret(service));
  const services = defineShop(chart, { services: config.services, consulAgent: platform.consulAgent, consulToken, etcd: platform.etcd });
  const provider = kubernetesProvider('kubernetes', config.target);
  // checkConsulAclTokens guarantees a token per registering service when they come from config.
  const tokenSecrets = tokensFromConfig ? CONSUL_REGISTERED_SERVICES.map((service) => {
    const { secretName, key } = consulTokenSecret(service);
    const token = config.consulAclTokens!.output.apply((tokens) => tokens[service]);
    return kubernetesSecret({ name: secretName, namespace, stringData: { [key]: token } }, { provider });
  }) : [];
  new Cdk8sChartResource('apps', { chart, dependsOn: tokenSecrets }, { provider });
  return {
    namespace,
    urls: Object.fromEntries(Object.entries(services).map(([name, service]) => [name, service.endpoint().url])) as Record<ShopServiceName, string>,
  };
}
