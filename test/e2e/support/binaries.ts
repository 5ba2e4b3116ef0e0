/**
 * The real binaries the e2e tiers run, built once per machine by tools/ensure-*.sh. The
 * globalSetup (test/e2e/support/global-setup.ts) runs each script and exports every path it
 * prints in the environment variable {@link binaryEnvName} of the file's name, which the
 * test workers inherit.
 */
export const ENSURE_SCRIPTS = {
  'ensure-kube.sh': ['kube-apiserver', 'kubectl', 'etcd'],
  'ensure-kube-score.sh': ['kube-score'],
  'ensure-cyclonus.sh': ['cyclonus'],
  'ensure-pulumi.sh': ['pulumi', 'pulumi-resource-kubernetes'],
} as const;

export type E2eBinary = (typeof ENSURE_SCRIPTS)[keyof typeof ENSURE_SCRIPTS][number];

/** `kube-apiserver` → `DISCOVERY_KIT_BIN_KUBE_APISERVER`. */
export function binaryEnvName(binary: string): string {
  return `DISCOVERY_KIT_BIN_${binary.toUpperCase().replace(/-/g, '_')}`;
}

/** The path of a binary the globalSetup built; throws when the tests run without it. */
export function binaryPath(binary: E2eBinary): string {
  const path = process.env[binaryEnvName(binary)];
  if (!path) {
    throw new Error(`${binaryEnvName(binary)} is not set: run the e2e tests with \`npm run test:e2e\`, whose globalSetup builds ${binary}`);
  }
  return path;
}
