import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ApiObject } from 'cdk8s';
import { k8s } from 'cdk8s-plus-27';
import { Construct, IConstruct } from 'constructs';
import { kubeObject } from '../core/kube-object';
import { recommendedLabels } from '../core/labels';

/**
 * A registration sidecar's POSIX sh script, a real file under lib/ that ships in the package,
 * delivered to the pods in a ConfigMap. The sidecar's environment is its only input, so every
 * pod of every service runs the same text.
 *
 * Granularity: one ConfigMap per script per namespace, made once per App by the first
 * service of that namespace that registers with it (in whichever chart that service is).
 * Pods can only mount ConfigMaps of their own namespace, so one per namespace is the fewest
 * there can be; one per service or per chart would repeat the same ~150 lines in every
 * manifest and make a script change as many diffs. A script change is one diff per namespace
 * and rolls the pods through the checksum annotation on their template. The cost: a chart
 * whose namespace's ConfigMap sits in another chart depends on that chart being applied too
 * (its pods wait in ContainerCreating until the ConfigMap exists); no chart dependency is
 * declared, since two charts sharing two namespaces would make a cycle.
 */
export interface RegistrationScript {
  /** Name of the ConfigMap, e.g. `discovery-kit-consul-registration`. */
  readonly configMapName: string;
  /** The file the sidecar runs (`sh <mountPath>/<entrypoint>`). */
  readonly entrypoint: string;
  /** File name to content: the entrypoint and the files it sources. */
  readonly files: Readonly<Record<string, string>>;
}

/** Where the sidecars mount their script's ConfigMap. */
export const SCRIPT_MOUNT_PATH = '/discovery-kit';
/** The pod template annotation that rolls the pods when the script changes. */
export const SCRIPT_CHECKSUM_ANNOTATION = 'discovery-kit.io/script-checksum';
const VOLUME_NAME = 'registration-script';

/** lib/registration/common.sh, which every registration script sources. */
const COMMON = readFileSync(join(__dirname, 'common.sh'), 'utf8');

/** A script of the package: `path` is the file's path in the package, next to its TypeScript. */
export function packageScript(configMapName: string, path: string): RegistrationScript {
  const entrypoint = path.slice(path.lastIndexOf('/') + 1);
  return { configMapName, entrypoint, files: { [entrypoint]: readFileSync(path, 'utf8'), 'common.sh': COMMON } };
}

const checksums = new WeakMap<RegistrationScript, string>();

/** sha256 of the script's files, names included; once per script, not once per service. */
export function scriptChecksum(script: RegistrationScript): string {
  let checksum = checksums.get(script);
  if (checksum === undefined) {
    const hash = createHash('sha256');
    for (const [name, content] of Object.entries(script.files).sort(([a], [b]) => a.localeCompare(b))) hash.update(`${name}\0${content}\0`);
    checksums.set(script, checksum = hash.digest('hex'));
  }
  return checksum;
}

/** The sidecar's command, mount and pod volume for the script, and the annotation that rolls the pods. */
export function scriptPodParts(script: RegistrationScript): {
  command: string[]; volumeMount: k8s.VolumeMount; volume: k8s.Volume; podAnnotations: Record<string, string>;
} {
  return {
    // Run by sh, so the files need no execute bit.
    command: ['/bin/sh', `${SCRIPT_MOUNT_PATH}/${script.entrypoint}`],
    volumeMount: { name: VOLUME_NAME, mountPath: SCRIPT_MOUNT_PATH, readOnly: true },
    volume: { name: VOLUME_NAME, configMap: { name: script.configMapName, defaultMode: 0o444 } },
    podAnnotations: { [SCRIPT_CHECKSUM_ANNOTATION]: scriptChecksum(script) },
  };
}

/** Per App: `<namespace>/<ConfigMap name>` to the ConfigMap made for it. */
const made = new WeakMap<IConstruct, Map<string, ApiObject>>();

/**
 * The script's ConfigMap in `namespace`: made as a child of `scope` the first time the App
 * needs it there, the same object afterwards (from any chart of the App).
 */
export function addRegistrationScript(scope: Construct, namespace: string, script: RegistrationScript): ApiObject {
  const root = scope.node.root;
  const perApp = made.get(root) ?? new Map<string, ApiObject>();
  made.set(root, perApp);
  const key = `${namespace}/${script.configMapName}`;
  const existing = perApp.get(key);
  if (existing) return existing;
  const configMap = kubeObject(scope, `${script.configMapName}-config-map`, k8s.KubeConfigMap, {
    metadata: {
      name: script.configMapName,
      namespace,
      labels: recommendedLabels({ name: script.configMapName, instance: script.configMapName }),
    },
    data: { ...script.files },
  });
  perApp.set(key, configMap);
  return configMap;
}
