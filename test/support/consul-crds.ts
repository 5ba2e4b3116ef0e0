import Ajv, { ErrorObject } from 'ajv';
import { OpenApiSchema, SERVICE_DEFAULTS_SCHEMA, SERVICE_INTENTIONS_SCHEMA, SERVICE_RESOLVER_SCHEMA } from './consul-crd-schemas';
import { KubeObject, ObjectValidator, registerCustomValidator } from './schema';

const API_VERSION = 'consul.hashicorp.com/v1alpha1';
const PRESERVE_UNKNOWN = 'x-kubernetes-preserve-unknown-fields';
const INTEGER_FORMATS: Record<string, readonly [number, number]> = {
  int32: [-(2 ** 31), 2 ** 31 - 1],
  int64: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
};

/**
 * The schema with `additionalProperties: false` on every object that lists its properties.
 * The API server silently prunes unknown fields from structural CRD schemas, so a misspelt
 * field would vanish from the cluster; here it fails the test instead.
 */
export function closeSchema(schema: OpenApiSchema): OpenApiSchema {
  const closed: Record<string, unknown> = { ...schema };
  if (schema.properties) {
    closed.properties = Object.fromEntries(Object.entries(schema.properties as Record<string, OpenApiSchema>).map(([k, v]) => [k, closeSchema(v)]));
    if (!schema[PRESERVE_UNKNOWN] && schema.additionalProperties === undefined) closed.additionalProperties = false;
  }
  if (schema.items) closed.items = closeSchema(schema.items as OpenApiSchema);
  if (typeof schema.additionalProperties === 'object') closed.additionalProperties = closeSchema(schema.additionalProperties as OpenApiSchema);
  return closed;
}

function formatError(error: ErrorObject): string {
  const extra = error.params.additionalProperty ? ` ('${error.params.additionalProperty}')` : '';
  return `${error.instancePath || '/'} ${error.message}${extra}`;
}

/** A validator that throws with every schema violation of a custom resource of `kind`. */
export function crdValidator(kind: string, schema: OpenApiSchema): ObjectValidator {
  const ajv = new Ajv({ allErrors: true, strict: true });
  ajv.addKeyword(PRESERVE_UNKNOWN);
  for (const [name, [min, max]] of Object.entries(INTEGER_FORMATS)) {
    ajv.addFormat(name, { type: 'number', validate: (n: number) => Number.isInteger(n) && n >= min && n <= max });
  }
  const validate = ajv.compile(closeSchema(schema));
  return (obj: KubeObject) => {
    const id = `${kind} ${obj.metadata?.namespace ?? '-'}/${obj.metadata?.name}`;
    if (!validate(obj)) {
      throw new Error(`${id} does not match the consul-k8s CRD schema: ${validate.errors!.map(formatError).join('; ')}`);
    }
  };
}

let registered = false;

/** Registers schema checks for ServiceDefaults, ServiceResolver and ServiceIntentions with synthChart; safe to call repeatedly. */
export function registerConsulCrdValidators(): void {
  if (registered) return;
  registerCustomValidator(API_VERSION, 'ServiceDefaults', crdValidator('ServiceDefaults', SERVICE_DEFAULTS_SCHEMA));
  registerCustomValidator(API_VERSION, 'ServiceResolver', crdValidator('ServiceResolver', SERVICE_RESOLVER_SCHEMA));
  registerCustomValidator(API_VERSION, 'ServiceIntentions', crdValidator('ServiceIntentions', SERVICE_INTENTIONS_SCHEMA));
  registered = true;
}
