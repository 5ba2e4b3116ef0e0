import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { KubeObject } from './schema';
import { findObject } from './synth';
import { Pod, Secrets } from './pod';

/** A synthesized snapshot CronJob and the ConfigMap its pods mount. */
export interface GeneratedSnapshotJob {
  readonly cronJob: KubeObject;
  /** The pod template of the Jobs the CronJob creates. */
  readonly podSpec: any;
  readonly configMaps: Record<string, Record<string, string>>;
  /** The container's literal env values, by name. */
  readonly env: Record<string, string>;
}

export function generatedSnapshotJob(objects: readonly KubeObject[], name: string): GeneratedSnapshotJob {
  const cronJob = findObject(objects, 'CronJob', name);
  const podSpec = cronJob.spec.jobTemplate.spec.template.spec;
  const configMapName = podSpec.volumes.find((v: any) => v.configMap).configMap.name;
  const configMap = findObject(objects, 'ConfigMap', configMapName, cronJob.metadata.namespace);
  const env = Object.fromEntries(podSpec.containers[0].env.filter((e: any) => e.value !== undefined).map((e: any) => [e.name, e.value]));
  return { cronJob, podSpec, configMaps: { [configMapName]: configMap.data }, env };
}

/** Where one run of the Job happens. */
export interface SnapshotRunOptions {
  /** The pod's name (one per run, like the Job controller's). */
  readonly name: string;
  readonly address: string;
  readonly secrets: Secrets;
  /** The directory behind the snapshot PVC (and the sink PVC, when the CronJob has one), by volume name. */
  readonly claims: Record<string, string>;
  /** Mounted first on the pod's PATH (the consul binary, or a stand-in). */
  readonly binDir: string;
  /** Addresses only: the cluster's Service names in the env become loopback addresses. */
  readonly rewrite: (value: string) => string;
  readonly shell?: readonly string[];
  readonly workDir: string;
}

/**
 * Runs the Job's pod to completion the way kubelet would start it (command, env from the
 * synthesized container and Secrets, the scripts ConfigMap, the PVC, a read-only root) and
 * resolves with its exit code and output.
 */
export async function runSnapshotJob(job: GeneratedSnapshotJob, options: SnapshotRunOptions): Promise<{ code: number | null; log: string }> {
  const pod = new Pod({
    name: options.name,
    address: options.address,
    container: job.podSpec.containers[0],
    volumes: job.podSpec.volumes,
    configMaps: job.configMaps,
    secrets: options.secrets,
    claims: options.claims,
    binDir: options.binDir,
    rewrite: options.rewrite,
    shell: options.shell,
    workDir: options.workDir,
  });
  pod.start();
  const code = await pod.exited;
  return { code, log: pod.log() };
}

/** The snapshot files in a directory (sorted, so oldest first) with the sha256 of each. */
export function snapshotFiles(dir: string): { name: string; sha256: string }[] {
  return readdirSync(dir).sort().map((name) => ({ name, sha256: createHash('sha256').update(readFileSync(join(dir, name))).digest('hex') }));
}
