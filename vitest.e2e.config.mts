import { defineConfig } from 'vitest/config';

// `npm run test:e2e`: the tiers that need components built from the Go module proxy.
export default defineConfig({
  test: {
    include: ['test/e2e/**/*.test.ts'],
    // Builds (once per machine, into the cache outside the clone) what the tiers run.
    globalSetup: ['./test/e2e/support/global-setup.ts'],
    maxWorkers: 2,
    testTimeout: 120_000,
    // A cold build of a Go component can take minutes on a 2-core machine.
    hookTimeout: 1_800_000,
  },
});
