import { spawnSync } from 'node:child_process';
import { basename, join } from 'node:path';
import { binaryEnvName, ENSURE_SCRIPTS } from './binaries';

/**
 * vitest globalSetup of `npm run test:e2e`: builds every real component the e2e tiers run
 * (once per machine, into the cache outside the clone) and exports their paths to the test
 * workers. Nothing is skipped: a component that cannot be built fails the run, with the
 * script's own explanation (e.g. which Go to install) above the error.
 */
export default function setup(): void {
  ensureE2eBinaries(Object.keys(ENSURE_SCRIPTS) as (keyof typeof ENSURE_SCRIPTS)[]);
}

/** Runs the given ensure scripts (also for `npm run bench`) and exports the paths they print. */
export function ensureE2eBinaries(scripts: readonly (keyof typeof ENSURE_SCRIPTS)[]): void {
  for (const script of scripts) {
    const binaries = ENSURE_SCRIPTS[script];
    const path = join(__dirname, '..', '..', '..', 'tools', script);
    process.stdout.write(`e2e global-setup: sh ${path} (builds ${binaries.join(', ')} if missing)\n`);
    const started = Date.now();
    const result = spawnSync('sh', [path], { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
    if (result.status !== 0) {
      throw new Error(`tools/${script} failed (${result.error?.message ?? `exit status ${result.status ?? result.signal}`}): `
        + `the e2e tests need ${binaries.join(', ')}; see the script's messages above`);
    }
    const printed = result.stdout.trim().split('\n');
    for (const binary of binaries) {
      const found = printed.find((p) => basename(p) === binary);
      if (!found) throw new Error(`tools/${script} printed no path for ${binary}: ${JSON.stringify(result.stdout)}`);
      process.env[binaryEnvName(binary)] = found;
    }
    process.stdout.write(`e2e global-setup: ${binaries.join(', ')} ready in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  }
}
