import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

/**
 * vitest globalSetup: makes sure the real etcd, etcdctl and busybox that the fault tests
 * run are installed (`.ci/ensure-etcd.sh` installs Debian's packages when one is missing),
 * so `npm test` is all a fresh machine needs. In CI a failed install fails the run; on a
 * developer machine without apt or root it only warns, and the real-etcd suites skip.
 */
export default function setup(): void {
  const script = join(__dirname, '..', '..', '.ci', 'ensure-etcd.sh');
  process.stdout.write(`global-setup: sh ${script} (installs etcd, etcdctl and busybox if missing)\n`);
  const result = spawnSync('sh', [script], { stdio: 'inherit' });
  if (result.status === 0) return;
  const reason = result.error?.message ?? `exit status ${result.status ?? result.signal}`;
  if (process.env.CI) throw new Error(`${script} failed (${reason}); the real-etcd tests cannot run`);
  process.stderr.write(`global-setup: WARNING: ${script} failed (${reason}); tests that need a real etcd will be skipped\n`);
}
