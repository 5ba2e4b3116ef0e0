import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative } from 'node:path';
import { cruise } from 'dependency-cruiser';
import { describe, expect, it } from 'vitest';

const ROOT = join(__dirname, '..');
const LIB = join(ROOT, 'lib');
/** "Short enough to read in one sitting". */
const MAX_LINES = 400;
/** cdk8s import's output (tools/import-crds.sh): read as the CRD schema it restates, never edited by hand. */
const GENERATED = /^lib\/[^/]+\/imports\//;

function libFiles(dir = LIB): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? libFiles(join(dir, e.name)) : [relative(ROOT, join(dir, e.name))]);
}

describe('lib/ architecture', () => {
  it('has no import cycles and depends only downwards across domains (.dependency-cruiser.cjs)', async () => {
    const ruleSet = createRequire(__filename)(join(ROOT, '.dependency-cruiser.cjs'));
    const result = await cruise(['lib'], { ruleSet, validate: true, ...ruleSet.options }, undefined, {
      tsConfig: { fileName: join(ROOT, 'tsconfig.json') },
    });
    const output = typeof result.output === 'string' ? JSON.parse(result.output) : result.output;
    const violations = output.summary.violations.map((v: { rule: { name: string }; from: string; to: string }) => `${v.rule.name}: ${v.from} -> ${v.to}`);
    expect(violations).toEqual([]);
    expect(output.summary.totalCruised).toBeGreaterThan(30);
  });

  it('keeps every source file in a domain folder, and short', () => {
    const files = libFiles().filter((f) => f.endsWith('.ts'));
    expect(files.filter((f) => !/^lib\/(index\.ts|(core|service|registration|consul|etcd|mesh|pulumi|gateway)\/)/.test(f))).toEqual([]);
    const long = files.filter((f) => !GENERATED.test(f)).map((f) => [f, readFileSync(join(ROOT, f), 'utf8').split('\n').length] as const).filter(([, n]) => n > MAX_LINES);
    expect(long).toEqual([]);
  });
});
