import { IConstruct } from 'constructs';
import { checkDns1123Label, checkUnique, invalid } from '../core/validation';

/** Consul's limits on service metadata (agent/structs: validateMetaPair). */
export const CONSUL_META_MAX_KEYS = 64;
export const CONSUL_META_MAX_KEY_LENGTH = 128;
export const CONSUL_META_MAX_VALUE_LENGTH = 512;

/**
 * Tags must be DNS labels: Consul stores any string, but `<tag>.<service>.service.consul`
 * lookups only resolve DNS-safe ones, and it only logs a warning for the rest.
 */
export function checkConsulTags(scope: IConstruct, field: string, tags: readonly string[]): string[] {
  tags.forEach((tag, i) => checkDns1123Label(scope, `${field}[${i}]`, tag));
  checkUnique(scope, field, tags);
  return [...tags];
}

/**
 * Service meta within Consul's limits: at most 64 keys (including `reservedKeys`, which the
 * registration adds itself), keys of `[A-Za-z0-9_-]` up to 128 characters not starting with
 * the reserved `consul-` prefix, values up to 512 characters without control characters.
 */
export function checkConsulMeta(scope: IConstruct, field: string, meta: Record<string, string>, reservedKeys: readonly string[] = []): Record<string, string> {
  const keys = Object.keys(meta);
  if (keys.length + reservedKeys.length > CONSUL_META_MAX_KEYS) {
    invalid(scope, field, `${keys.length} keys`,
      `must have at most ${CONSUL_META_MAX_KEYS - reservedKeys.length} keys (Consul allows ${CONSUL_META_MAX_KEYS}; ${reservedKeys.length} are reserved for ${reservedKeys.join(', ') || 'nothing'})`);
  }
  for (const [key, value] of Object.entries(meta)) {
    if (!/^[A-Za-z0-9_-]+$/.test(key) || key.length > CONSUL_META_MAX_KEY_LENGTH || key.toLowerCase().startsWith('consul-')) {
      invalid(scope, `${field} key`, key, `must be 1-${CONSUL_META_MAX_KEY_LENGTH} characters of [A-Za-z0-9_-], not starting with the reserved 'consul-' prefix`);
    }
    if (reservedKeys.includes(key)) invalid(scope, `${field} key`, key, `is set by the registration itself (${reservedKeys.join(', ')})`);
    // eslint-disable-next-line no-control-regex
    if (typeof value !== 'string' || value.length > CONSUL_META_MAX_VALUE_LENGTH || /[\u0000-\u001f\u007f]/.test(value)) {
      invalid(scope, `${field}["${key}"]`, value, `must be a string of at most ${CONSUL_META_MAX_VALUE_LENGTH} characters without control characters`);
    }
  }
  return { ...meta };
}
