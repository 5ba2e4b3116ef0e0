import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The Go-built tiers run in `npm run test:e2e` (vitest.e2e.config.mts).
    exclude: [...configDefaults.exclude, 'test/e2e/**'],
    // Installs the real etcd, etcdctl and busybox the fault tests run, when missing.
    globalSetup: ['./test/support/global-setup.ts'],
    reporters: ['default', './test/support/summary-reporter.ts'],
    // cdk8s synthesis and real etcd processes are CPU-bound; two workers fit the 2-core machines.
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
