import { configDefaults, defineConfig } from 'vitest/config';

// The rolling update of real Consul servers measures gossip and election timing: it runs last,
// alone, after every other file, so no other test competes with it for the two cores.
const ALONE = ['test/real/consul-rolling-update.test.ts'];

export default defineConfig({
  test: {
    // test/e2e needs components built from the Go module proxy: `npm run test:e2e`.
    exclude: [...configDefaults.exclude, 'test/e2e/**'],
    // Installs the real etcd, etcdctl, busybox and Consul the fault tests run, when missing.
    globalSetup: ['./test/support/global-setup.ts'],
    reporters: ['default', './test/support/summary-reporter.ts'],
    // cdk8s synthesis and real etcd processes are CPU-bound; two workers fit the 2-core machines.
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    projects: [
      { extends: true, test: { name: 'tests', include: ['test/**/*.test.ts'], exclude: [...configDefaults.exclude, 'test/e2e/**', ...ALONE], sequence: { groupOrder: 0 } } },
      { extends: true, test: { name: 'timing', include: ALONE, sequence: { groupOrder: 1 } } },
    ],
  },
});
