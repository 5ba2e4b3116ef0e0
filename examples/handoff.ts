import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Yaml } from 'cdk8s';
import { ConsulCluster } from '../lib';

/** The files {@link writePlatformHandoff} writes next to the charts' YAML, by name. */
export function platformHandoffFiles(consul: ConsulCluster): Record<string, string> {
  return {
    // Paste into the Corefile (kubectl -n kube-system edit configmap coredns).
    'consul.coredns': consul.coreDnsServerBlock,
    // helm install consul-k8s hashicorp/consul -n consul-k8s -f dist/consul-k8s.values.yaml
    ...(consul.consulK8sHelmValues ? { 'consul-k8s.values.yaml': Yaml.stringify(consul.consulK8sHelmValues) } : {}),
  };
}

/**
 * Writes what the platform team applies outside the charts into the synth output directory,
 * where reviewers diff it with the YAML. `cdk8s synth` keeps the app's own output to itself,
 * so printing these with console.log would show nothing.
 */
export function writePlatformHandoff(outdir: string, consul: ConsulCluster): void {
  for (const [name, content] of Object.entries(platformHandoffFiles(consul))) writeFileSync(join(outdir, name), content);
}
