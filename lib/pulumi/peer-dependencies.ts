/**
 * The optional peer dependencies this entry point needs, with the ranges package.json
 * declares. Checked before anything imports them, so a cdk8s-only install that reaches for
 * `discovery-kit/pulumi` gets an install hint instead of a bare "Cannot find module".
 */
export const PULUMI_PEER_DEPENDENCIES: Readonly<Record<string, string>> = {
  '@pulumi/pulumi': '^3.100.0',
  '@pulumi/kubernetes': '^4.0.0',
};

const missing = Object.keys(PULUMI_PEER_DEPENDENCIES).filter((name) => {
  try {
    require.resolve(name);
    return false;
  } catch {
    return true;
  }
});
if (missing.length > 0) {
  const wanted = missing.map((name) => `${name}@'${PULUMI_PEER_DEPENDENCIES[name]}'`).join(' ');
  throw new Error(`discovery-kit/pulumi needs the optional peer dependencies ${missing.join(' and ')}, which are not installed: npm install ${wanted}`);
}
