import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The cyclonus binary (tools/ensure-cyclonus.sh). */
    cyclonus: string;
  }
}

const TOOLS = join(__dirname, '..', '..', '..', 'tools');

/** Runs tools/<script>, which builds its component if missing and prints its path last. */
function ensure(script: string): string {
  const path = join(TOOLS, script);
  process.stdout.write(`e2e global-setup: sh ${path}\n`);
  const result = spawnSync('sh', [path], { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
  const printed = result.stdout?.trim().split('\n').pop();
  if (result.status !== 0 || !printed) {
    const reason = result.error?.message ?? `exit status ${result.status ?? result.signal}`;
    throw new Error(`${path} failed (${reason}); see its messages above`);
  }
  return printed;
}

/** vitest globalSetup of the e2e tier: every component is built or found before any test runs. */
export default function setup(project: TestProject): void {
  project.provide('cyclonus', ensure('ensure-cyclonus.sh'));
}
