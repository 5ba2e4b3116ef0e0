/**
 * Validates synthesized objects against the Kubernetes OpenAPI schema with kubernetes-models
 * (offline, maintained, generated from the upstream OpenAPI spec). Custom resources register
 * their own schema; an object with no known schema is an error, so nothing escapes unchecked.
 */
export type ObjectValidator = (obj: KubeObject) => void;

export interface KubeObject {
  readonly apiVersion: string;
  readonly kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  readonly [key: string]: any;
}

const customValidators = new Map<string, ObjectValidator>();

/** Registers the schema check of a custom resource (apiVersion + kind). */
export function registerCustomValidator(apiVersion: string, kind: string, validator: ObjectValidator): void {
  customValidators.set(`${apiVersion}/${kind}`, validator);
}

function modelPath(apiVersion: string, kind: string): string {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  return group ? `kubernetes-models/${group}/${version}/${kind}` : `kubernetes-models/${version}/${kind}`;
}

/** Throws with the object's identity and the schema's complaint when `obj` is invalid. */
export function validateSchema(obj: KubeObject): void {
  const id = `${obj.kind} ${obj.metadata?.namespace ?? '-'}/${obj.metadata?.name}`;
  const custom = customValidators.get(`${obj.apiVersion}/${obj.kind}`);
  if (custom) {
    custom(obj);
    return;
  }
  let Model: new (data: unknown) => { validate(): void };
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    Model = require(modelPath(obj.apiVersion, obj.kind))[obj.kind];
  } catch {
    throw new Error(`${id}: no schema known for ${obj.apiVersion} ${obj.kind}`);
  }
  try {
    new Model(obj).validate();
  } catch (error) {
    throw new Error(`${id} does not match the Kubernetes schema: ${(error as Error).message}`);
  }
}
