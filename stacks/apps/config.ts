import { checkInteger, checkPinnedImage, invalid } from '../../lib/core/validation';
import { KubernetesTarget } from '../../lib/pulumi';
import { CONFIG_SCOPE, ConsulTokens, parseConfigNumber, readConsulTokens, StackConfig } from '../shared/config';
import { AppsPlatformInputs } from '../shared/platform-outputs';
import {
  CONSUL_REGISTERED_SERVICES, ConsulRegisteredService, SHOP_IMAGE_REPOSITORY, SHOP_SERVICE_DEFAULTS, ShopServiceName, ShopServiceSettings,
} from '../../examples/shop';

/** The apps stack's config, validated. */
export interface AppsConfig {
  /** The platform stack to read outputs from: `<organization>/<project>/<stack>`. */
  readonly platformStack: string;
  readonly services: Record<ShopServiceName, ShopServiceSettings>;
  /** Consul ACL tokens of the registering services, when the platform's bootstrap does not write them. @default - none */
  readonly consulAclTokens?: ConsulTokens<ConsulRegisteredService>;
  readonly target: KubernetesTarget;
}

/** What each `consulAclTokens.<service>` token must allow. */
const TOKEN_PURPOSE = 'with service:write on the service, e.g. from consul acl token create -service-identity <service>';

const STACK_NAME = /^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+){0,2}$/;
const SERVICE_NAMES = Object.keys(SHOP_SERVICE_DEFAULTS) as ShopServiceName[];
const SERVICE_FIELDS = ['tag', 'replicas'];

/** Reads and validates everything before any resource registers. */
export function readAppsConfig(config: StackConfig): AppsConfig {
  const platformStack = config.requireString('platformStack', 'the platform stack, e.g. acme/discovery-platform/dev');
  if (!STACK_NAME.test(platformStack)) {
    invalid(CONFIG_SCOPE, config.key('platformStack'), platformStack, 'must be a stack name: <organization>/<project>/<stack>, e.g. acme/discovery-platform/dev');
  }
  return {
    platformStack,
    services: readServices(config),
    consulAclTokens: readConsulTokens(config, 'consulAclTokens', CONSUL_REGISTERED_SERVICES, TOKEN_PURPOSE),
    target: config.kubernetesTarget(),
  };
}

/** `services.<name>.tag` and `.replicas` (structured config), defaulting to the example's values. */
function readServices(config: StackConfig): Record<ShopServiceName, ShopServiceSettings> {
  const raw = config.object('services') ?? {};
  if (!isRecord(raw)) {
    invalid(CONFIG_SCOPE, config.key('services'), raw, `must be an object keyed by service name (${SERVICE_NAMES.join(', ')})`);
  }
  for (const name of Object.keys(raw)) {
    if (!SERVICE_NAMES.includes(name as ShopServiceName)) {
      invalid(CONFIG_SCOPE, config.key(`services.${name}`), raw[name], `must be one of the shop's services: ${SERVICE_NAMES.join(', ')}`);
    }
  }
  return Object.fromEntries(SERVICE_NAMES.map((name) => [name, readService(config, name, raw[name] ?? {})])) as Record<ShopServiceName, ShopServiceSettings>;
}

function readService(config: StackConfig, name: ShopServiceName, raw: unknown): ShopServiceSettings {
  const key = (field?: string) => config.key(field ? `services.${name}.${field}` : `services.${name}`);
  if (!isRecord(raw)) invalid(CONFIG_SCOPE, key(), raw, `must be an object with ${SERVICE_FIELDS.join(' and ')}`);
  const unknownField = Object.keys(raw).find((field) => !SERVICE_FIELDS.includes(field));
  if (unknownField) invalid(CONFIG_SCOPE, key(unknownField), raw[unknownField], `is not a setting: use ${SERVICE_FIELDS.join(' or ')}`);
  const defaults = SHOP_SERVICE_DEFAULTS[name];
  const tag = raw.tag ?? defaults.tag;
  if (typeof tag !== 'string') invalid(CONFIG_SCOPE, key('tag'), tag, "must be a string: quote numeric tags such as '2.0'");
  checkPinnedImage(CONFIG_SCOPE, key('tag'), `${SHOP_IMAGE_REPOSITORY}/${name}:${tag}`);
  const replicas = checkInteger(CONFIG_SCOPE, key('replicas'), parseConfigNumber(raw.replicas ?? defaults.replicas) as number, 0, 1000);
  return { tag, replicas };
}

/**
 * When the platform's Consul enforces ACLs without a bootstrap that writes the services'
 * tokens, every registering service needs a token from config; the error names the missing
 * one and how to set it. Tokens set where nothing would use them are refused too.
 */
export function checkConsulAclTokens(config: StackConfig, tokens: ConsulTokens<ConsulRegisteredService> | undefined, platform: AppsPlatformInputs): void {
  if (tokens && (!platform.consulAclsEnabled || platform.consulBootstrap)) {
    invalid(CONFIG_SCOPE, config.key('consulAclTokens'), '<redacted>', platform.consulBootstrap
      ? `must be unset: the platform's Consul bootstrap (${platform.consulBootstrap.namespace}/${platform.consulBootstrap.serviceAccountName}) writes each service's token; run pulumi config rm consulAclTokens`
      : "must be unset: the platform's Consul does not enforce ACLs; run pulumi config rm consulAclTokens");
  }
  if (!platform.consulAclsEnabled || platform.consulBootstrap) return;
  const missing = CONSUL_REGISTERED_SERVICES.find((service) => !tokens?.names.includes(service));
  if (missing) {
    invalid(CONFIG_SCOPE, config.key(`consulAclTokens.${missing}`), undefined,
      `is required: the platform's Consul enforces ACLs, so ${missing} registers with a Consul ACL token SecretID (a UUID) ${TOKEN_PURPOSE}; set it with pulumi config set --secret --path 'consulAclTokens.${missing}' <SecretID>`);
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
