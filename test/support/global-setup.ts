import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');

/**
 * vitest globalSetup: makes sure the real components the tests run are on this machine, so
 * `npm test` is all a fresh machine needs.
 * - etcd, etcdctl and busybox: `tools/ensure-etcd.sh` installs Debian's packages when one is
 *   missing. A failure fails the run: the etcd tests never skip.
 * - Consul 1.8.7: `tools/ensure-consul.sh` unpacks Debian bullseye's package into the
 *   per-machine cache and prints the binary's path, which the tests read from
 *   `DK_CONSUL_BIN` (set it yourself to use another build). A failure fails the run: the
 *   Consul tests never skip.
 */
export default function setup(): void {
  ensureEtcd();
  if (!process.env.DK_CONSUL_BIN) process.env.DK_CONSUL_BIN = ensureConsul();
}

function ensureEtcd(): void {
  const script = join(ROOT, 'tools', 'ensure-etcd.sh');
  process.stdout.write(`global-setup: sh ${script} (installs etcd, etcdctl and busybox if missing)\n`);
  const result = spawnSync('sh', [script], { stdio: 'inherit' });
  if (result.status !== 0) {
    throw new Error(`${script} failed (${result.error?.message ?? `exit status ${result.status ?? result.signal}`}); the real-etcd tests cannot run`);
  }
}

function ensureConsul(): string {
  const script = join(ROOT, 'tools', 'ensure-consul.sh');
  process.stdout.write(`global-setup: sh ${script} (Consul 1.8.7 from Debian bullseye into the per-machine cache, once)\n`);
  const result = spawnSync('sh', [script], { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
  const path = result.stdout?.trim().split('\n').at(-1);
  if (result.status !== 0 || !path) {
    throw new Error(`${script} failed (${result.error?.message ?? `exit status ${result.status ?? result.signal}`}); the real-Consul tests cannot run`);
  }
  return path;
}
