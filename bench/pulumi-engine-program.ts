/**
 * The program of the real-engine benchmark (bench/pulumi-engine.ts): the workload of
 * `bench:services` services, deployed with the Pulumi program `bench:program` of bench/pulumi.ts
 * (the package's component, or direct typed resources) by the stack's default Kubernetes provider.
 */
import * as pulumi from '@pulumi/pulumi';
import { App } from 'cdk8s';
import { buildWithDiscoveryKit } from './discovery-kit';
import { PULUMI_PROGRAMS, PulumiProgramName } from './pulumi';
import { workload } from './workload';

export = () => {
  const config = new pulumi.Config('bench');
  PULUMI_PROGRAMS[config.require('program') as PulumiProgramName](buildWithDiscoveryKit(new App(), workload(config.requireNumber('services'))));
  return {};
};
