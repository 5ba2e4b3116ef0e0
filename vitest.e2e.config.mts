import { defineConfig } from 'vitest/config';

// `npm run test:e2e`: the tiers that run Go-built real components (kube-apiserver with etcd 3.6,
// kubectl, kube-score). The globalSetup builds whatever this machine's cache lacks.
export default defineConfig({
  test: {
    include: ['test/e2e/**/*.test.ts'],
    globalSetup: ['./test/e2e/support/global-setup.ts'],
    reporters: ['default', './test/support/summary-reporter.ts'],
    // Each test file runs its own API server; two at a time fit the 2-core machines.
    maxWorkers: 2,
    testTimeout: 180_000,
    hookTimeout: 180_000,
  },
});
