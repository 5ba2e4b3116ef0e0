import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Chart, Testing } from 'cdk8s';
import { afterAll, describe, expect, it } from 'vitest';
import { buildExampleApp } from '../../examples/discovery-setup';
import { ConsulCluster, GossipEncryption } from '../../lib';
import { KEYS_NEWER_THAN_1_8_7, consulBinary, forConsul187, generatedConsul } from '../support/consul';
import { synthApp, synthChart } from '../support/synth';

const run = promisify(execFile);

/**
 * `consul validate` (Consul 1.8.7) over the generated server and agent configs and the
 * README's tokens file, exactly as generated except for the keys 1.8.7 predates, and a
 * check that each of those keys is indeed one 1.8.7 rejects (so the list stays minimal).
 */
describe('real Consul 1.8.7: consul validate of the generated configuration', () => {
  const example = generatedConsul(synthApp(buildExampleApp(Testing.app())));
  const tlsChart = new Chart(Testing.app(), 'tls', { namespace: 'consul', disableResourceNameHashes: true });
  new ConsulCluster(tlsChart, 'consul', {
    gossipEncryption: GossipEncryption.fromSecret({ secretName: 'consul-gossip-key', key: 'key' }),
    dnsClusterIp: '10.96.0.53',
    acl: { tokensSecret: { secretName: 'consul-acl-tokens', key: 'tokens.json' } },
    tls: { ca: { secretName: 'consul-ca', key: 'ca.crt' }, serverCertificate: { secretName: 'consul-server-tls' }, agentCertificate: { secretName: 'consul-agent-tls' } },
  });
  const tls = generatedConsul(synthChart(tlsChart));
  // The README's tokens Secret: {"acl":{"tokens":{"agent":"…","dns":"…"}}}.
  const tokensFile = { acl: { tokens: { agent: '3f6a2b1c-0000-4000-8000-000000000001', dns: '3f6a2b1c-0000-4000-8000-000000000002' } } };
  const dir = mkdtempSync(join(tmpdir(), 'consul-validate-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  async function validate(name: string, ...configs: Record<string, unknown>[]): Promise<{ ok: boolean; output: string }> {
    const files = configs.map((config, i) => {
      const file = join(dir, `${name}-${i}.json`);
      writeFileSync(file, JSON.stringify(config));
      return file;
    });
    try {
      const { stdout, stderr } = await run(consulBinary(), ['validate', ...files], { timeout: 30_000 });
      return { ok: true, output: stdout + stderr };
    } catch (error: any) {
      return { ok: false, output: `${error.stdout ?? ''}${error.stderr ?? ''}` };
    }
  }

  const configs: [string, Record<string, unknown>[]][] = [
    ['the example server config with the tokens file', [JSON.parse(example.serverConfig), tokensFile]],
    ['the example agent config with the tokens file', [JSON.parse(example.agentConfig), tokensFile]],
    ['a TLS server config', [JSON.parse(tls.serverConfig)]],
    ['a TLS agent config', [JSON.parse(tls.agentConfig)]],
  ];

  it.each(configs)('accepts %s once the keys 1.8.7 predates are removed', async (name, files) => {
    const result = await validate(name.replaceAll(' ', '-'), ...files.map(forConsul187));
    expect(result.output).toContain('Configuration is valid!');
    expect(result.ok).toBe(true);
  });

  it.each(KEYS_NEWER_THAN_1_8_7.map((key) => [key.path.join('.'), key] as const))('rejects %s, which it predates', async (path, key) => {
    const [name, files] = configs.find(([, f]) => f.some((config) => has(config, key.path)))!;
    const restored = files.map((config) => (has(config, key.path) ? withOnly(config, key.path) : forConsul187(config)));
    const result = await validate(`${name.replaceAll(' ', '-')}-${path}`, ...restored);
    expect(result.ok).toBe(false);
    expect(result.output).toContain(`invalid config key ${path}`);
  });

  it('rejects the tls block (1.12), which the tests rename to its 1.8.7 keys', async () => {
    const { acl, ...server } = forConsul187(JSON.parse(tls.serverConfig));
    const result = await validate('tls-block', { ...server, acl, tls: JSON.parse(tls.serverConfig).tls });
    expect(result.output).toContain('invalid config key tls');
  });
});

function has(config: Record<string, any>, path: readonly string[]): boolean {
  return path.reduce<any>((node, key) => (node && typeof node === 'object' ? node[key] : undefined), config) !== undefined;
}

/** The 1.8.7 form of `config` with only the key at `path` put back as generated. */
function withOnly(config: Record<string, any>, path: readonly string[]): Record<string, any> {
  const copy = forConsul187(config);
  let source: any = config;
  let target: any = copy;
  for (const key of path.slice(0, -1)) {
    source = source[key];
    target = target[key] ??= {};
  }
  target[path.at(-1)!] = source[path.at(-1)!];
  return copy;
}
