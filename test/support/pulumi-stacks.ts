import { join } from 'node:path';
import { Yaml } from 'cdk8s';
import { AppsOutputs, appsProgram } from '../../stacks/apps/program';
import { platformProgram } from '../../stacks/platform/program';
import { PlatformOutputs } from '../../stacks/shared/platform-outputs';
import { failureUnderMocks, runUnderMocks } from './pulumi-mocks';

/** A gossip key as `consul keygen` prints it (32 random bytes, base64). */
export const GOSSIP_KEY = 'pUqJrVyVRj5jsiYEkM/tFQYfWyJIv4s3XkvDwy7Cu5s=';

/** The platform config a platform team sets (`pulumi config set ...`): nothing secret. */
export const PLATFORM_CONFIG: Record<string, string> = { consulDnsClusterIp: '10.96.0.53' };

/** The API server's endpoints, as a kind cluster's `kubernetes` EndpointSlice lists them. */
export const API_SERVER_SLICE = {
  addressType: 'IPv4',
  endpoints: [{ addresses: ['172.18.0.2'], conditions: { ready: true } }],
  ports: [{ name: 'https', port: 6443, protocol: 'TCP' }],
};

/** The live objects the platform program reads. */
export const PLATFORM_LIVE_OBJECTS = { 'kubernetes:discovery.k8s.io/v1:EndpointSlice default/kubernetes': API_SERVER_SLICE };

/** How the platform stack runs under mocks: with these live objects, and its secret keys stored as `--secret` stores them. */
interface PlatformRunOptions {
  readonly liveObjects?: Record<string, object>;
  readonly secretKeys?: string[];
}

/** Runs the platform stack under mocks. */
export function runPlatform(config: Record<string, string> = PLATFORM_CONFIG, options: PlatformRunOptions = {}) {
  return runUnderMocks<PlatformOutputs>(platformRun(config, options));
}

export function platformFailure(config: Record<string, string>, options: PlatformRunOptions = {}) {
  return failureUnderMocks(platformRun(config, options));
}

function platformRun(config: Record<string, string>, { liveObjects = PLATFORM_LIVE_OBJECTS, secretKeys = ['gossipKey', 'consulTokens'] }: PlatformRunOptions) {
  return { project: 'discovery-platform', config, secretKeys, liveObjects, program: platformProgram };
}

/** The platform stack as the example apps config names it (a self-managed backend's organization). */
export const PLATFORM_STACK = 'organization/discovery-platform/dev';
/** ACL token SecretIDs of the registering services, as `consul acl token create` prints them. */
export const ACL_TOKENS = {
  'payment-service': '5f1c2a8e-6b0d-4c3e-9a7f-2d4b6e8c0a1f',
  'order-service': '0b9e4d2c-3a1f-4e8b-8c7d-6f5e4d3c2b1a',
};

/** The apps config an app team sets: only which platform (its bootstrap writes the services' tokens). */
export const APPS_CONFIG: Record<string, string> = { platformStack: PLATFORM_STACK };

/** The apps config when the platform's tokens come from config: the services' tokens too (`--secret --path`). */
export const APPS_CONFIG_WITH_TOKENS: Record<string, string> = { ...APPS_CONFIG, consulAclTokens: JSON.stringify(ACL_TOKENS) };

/** Runs the apps stack under mocks against `platform` as the outputs of PLATFORM_STACK. */
export function runApps(platform: object, config: Record<string, string> = {}) {
  return runUnderMocks<AppsOutputs>(appsRun(platform, config));
}

export function appsFailure(platform: object, config: Record<string, string>) {
  return failureUnderMocks(appsRun(platform, config));
}

function appsRun(platform: object, config: Record<string, string>) {
  return {
    project: 'discovery-apps',
    config,
    secretKeys: ['consulAclTokens'],
    stackOutputs: { [PLATFORM_STACK]: platform },
    program: appsProgram,
  };
}

/**
 * The config of a stack's example `Pulumi.<stack>.yaml`, without the project prefix, as the
 * CLI hands it to the program: strings as they are, structured values as JSON.
 */
export function exampleStackConfig(stackDir: string, stack = 'dev'): Record<string, string> {
  const [{ config }] = Yaml.load(join(__dirname, '..', '..', 'stacks', stackDir, `Pulumi.${stack}.yaml`));
  return Object.fromEntries(Object.entries(config as Record<string, unknown>).map(([key, value]) => [
    key.slice(key.indexOf(':') + 1), typeof value === 'string' ? value : JSON.stringify(value),
  ]));
}
