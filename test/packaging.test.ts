import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PULUMI_PEER_DEPENDENCIES } from '../lib/pulumi/peer-dependencies';

/**
 * The package as a user installs it: built, packed with `npm pack`, unpacked into a fresh
 * consumer project whose dependencies are the repository's, then type-checked under every
 * module resolution a consumer may use and loaded by Node.
 */
const root = join(__dirname, '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
let work: string;
let installed: string;

/** A consumer project with `discovery-kit` unpacked and the given dependencies linked from the repository. */
function consumer(name: string, dependencies: string[]): string {
  const dir = join(work, name);
  mkdirSync(join(dir, 'node_modules', '@pulumi'), { recursive: true });
  // A copy, not a link: Node and tsc resolve a linked package's imports from its real path.
  cpSync(installed, join(dir, 'node_modules', 'discovery-kit'), { recursive: true });
  for (const dep of dependencies) symlinkSync(join(root, 'node_modules', dep), join(dir, 'node_modules', dep));
  return dir;
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'discovery-kit-pack-'));
  execFileSync('npm', ['run', 'build', '--silent'], { cwd: root, stdio: 'pipe' });
  const [packed] = JSON.parse(execFileSync('npm', ['pack', '--json', '--pack-destination', work], { cwd: root, encoding: 'utf8' }));
  mkdirSync(join(work, 'unpacked'));
  execFileSync('tar', ['-xzf', join(work, packed.filename), '-C', join(work, 'unpacked')]);
  installed = join(work, 'unpacked', 'package');
}, 180_000);

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('the published package', () => {
  it('ships the licence it declares', () => {
    expect(pkg.license).toBe('Apache-2.0');
    expect(readFileSync(join(installed, 'LICENSE'), 'utf8')).toMatch(/Apache License\s+Version 2.0, January 2004/);
  });

  it('ships source maps that carry their sources (lib/ itself is not shipped)', () => {
    expect(existsSync(join(installed, 'lib'))).toBe(false);
    const maps = readdirSync(join(installed, 'build', 'lib'), { recursive: true }).map(String).filter((f) => f.endsWith('.js.map'));
    expect(maps.length).toBeGreaterThan(10);
    for (const file of maps) {
      const map = JSON.parse(readFileSync(join(installed, 'build', 'lib', file), 'utf8'));
      expect(map.sourcesContent?.length, file).toBe(map.sources.length);
      expect(map.sourcesContent.every((s: unknown) => typeof s === 'string' && s.length > 0), file).toBe(true);
    }
  });

  it('ships every shell script beside the code that reads it (readFileSync(join(__dirname, ...)))', () => {
    const scripts = readdirSync(join(root, 'lib'), { recursive: true }).map(String).filter((f) => f.endsWith('.sh'));
    expect(scripts.length).toBeGreaterThanOrEqual(4);
    for (const file of scripts) {
      expect(readFileSync(join(installed, 'build', 'lib', file), 'utf8'), file).toBe(readFileSync(join(root, 'lib', file), 'utf8'));
    }
  });

  it('declares the peer ranges the Pulumi entry point checks', () => {
    expect(PULUMI_PEER_DEPENDENCIES).toEqual({
      '@pulumi/pulumi': pkg.peerDependencies['@pulumi/pulumi'], '@pulumi/kubernetes': pkg.peerDependencies['@pulumi/kubernetes'],
    });
  });

  const deps = ['cdk8s', 'cdk8s-plus-27', 'constructs', '@pulumi/pulumi', '@pulumi/kubernetes'];
  it.each(['node', 'node16', 'bundler'])('type-checks both entry points under moduleResolution "%s"', (resolution) => {
    const dir = consumer(`types-${resolution}`, [...deps, '@types']);
    writeFileSync(join(dir, 'index.ts'), [
      "import { DiscoverableService, HealthSpec } from 'discovery-kit';",
      "import { Cdk8sChartResource, kubernetesProvider } from 'discovery-kit/pulumi';",
      'export const used = [DiscoverableService, HealthSpec, Cdk8sChartResource, kubernetesProvider];',
      '',
    ].join('\n'));
    const module = resolution === 'node16' ? 'node16' : resolution === 'bundler' ? 'esnext' : 'commonjs';
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({
      compilerOptions: { strict: true, noEmit: true, module, moduleResolution: resolution, target: 'ES2022', types: ['node'], skipLibCheck: true },
      files: ['index.ts'],
    }));
    const tsc = spawnSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', dir], { encoding: 'utf8' });
    expect(tsc.stdout + tsc.stderr).toBe('');
    expect(tsc.status).toBe(0);
  }, 120_000);

  it('loads both entry points in Node', () => {
    const dir = consumer('load', deps);
    const script = "const dk = require('discovery-kit'); const p = require('discovery-kit/pulumi'); console.log(typeof dk.DiscoverableService, typeof p.Cdk8sChartResource);";
    expect(execFileSync(process.execPath, ['-e', script], { cwd: dir, encoding: 'utf8' }).trim()).toBe('function function');
  }, 60_000);

  it('tells a cdk8s-only user which optional peers discovery-kit/pulumi needs', () => {
    const dir = consumer('cdk8s-only', ['cdk8s', 'cdk8s-plus-27', 'constructs']);
    const run = spawnSync(process.execPath, ['-e', "require('discovery-kit'); require('discovery-kit/pulumi')"], { cwd: dir, encoding: 'utf8' });
    expect(run.status).not.toBe(0);
    expect(run.stderr).toContain("discovery-kit/pulumi needs the optional peer dependencies @pulumi/pulumi and @pulumi/kubernetes, which are not installed: npm install @pulumi/pulumi@'^3.100.0' @pulumi/kubernetes@'^4.0.0'");
  }, 60_000);
});
