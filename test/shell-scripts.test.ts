import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = join(__dirname, '..');

/** tools/ensure-shellcheck.sh installs Debian's shellcheck when it is missing: a failure fails the run. */
function shellcheckPath(): string {
  const result = spawnSync('sh', [join(ROOT, 'tools', 'ensure-shellcheck.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  const path = result.stdout?.trim().split('\n').at(-1);
  if (result.status !== 0 || !path) throw new Error(`tools/ensure-shellcheck.sh failed (exit ${result.status ?? result.signal}): ShellCheck is required`);
  return path;
}

const SHELLCHECK = shellcheckPath();
// Every script the package ships (package.json's build copies lib/**/*.sh into build/lib).
const SCRIPTS = readdirSync(join(ROOT, 'lib'), { recursive: true, encoding: 'utf8' })
  .filter((file) => file.endsWith('.sh'))
  .map((file) => relative(ROOT, join(ROOT, 'lib', file)))
  .sort();

/** POSIX sh (dash, busybox ash), following `. file` into the sourced helpers; run from the root for their paths. */
function shellcheck(file: string) {
  return spawnSync(SHELLCHECK, ['-s', 'sh', '-x', file], { cwd: ROOT, encoding: 'utf8' });
}

describe('the shell scripts in lib/', () => {
  it('are the ones the pods run', () => {
    expect(SCRIPTS).toEqual([
      'lib/consul/agent-registration.sh', 'lib/consul/bootstrap/bootstrap.sh', 'lib/consul/entrypoint.sh', 'lib/consul/snapshot.sh',
      'lib/core/snapshot-lib.sh', 'lib/etcd/lease-registration.sh', 'lib/etcd/snapshot.sh', 'lib/registration/common.sh',
    ]);
  });

  it.each(SCRIPTS)('%s is shellcheck-clean as POSIX sh', (file) => {
    const result = shellcheck(file);
    expect(result.stdout + result.stderr).toBe('');
    expect(result.status).toBe(0);
  });

  const scratch = mkdtempSync(join(tmpdir(), 'shellcheck-test-'));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it('would be flagged for a bashism or an unquoted expansion', () => {
    const bad = join(scratch, 'bad.sh');
    writeFileSync(bad, '#!/bin/sh\n[[ -n $1 ]] && echo $1\n');
    const result = shellcheck(bad);
    expect(result.status).not.toBe(0);
    expect(result.stdout).toMatch(/SC3010/);
    expect(result.stdout).toMatch(/SC2086/);
  });
});
