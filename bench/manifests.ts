import { createHash } from 'node:crypto';

/** One chart's synthesized objects, as `chart.toJson()` returns them. */
export interface ChartOutput {
  readonly chart: string;
  readonly objects: readonly any[];
}

function identity(obj: any): string {
  return `${obj.kind}/${obj.metadata?.namespace ?? ''}/${obj.metadata?.name}`;
}

/**
 * The charts in a comparable form: objects sorted by kind, namespace and name (the
 * implementations may create them in different orders); key order is irrelevant to the
 * comparisons below.
 */
export function canonical(outputs: readonly ChartOutput[]): ChartOutput[] {
  return outputs.map(({ chart, objects }) => ({
    chart,
    objects: [...objects].sort((a, b) => (identity(a) < identity(b) ? -1 : identity(a) > identity(b) ? 1 : 0)),
  }));
}

/** JSON with object keys sorted at every level, so equal values give equal text. */
function stableJson(value: unknown): string {
  return JSON.stringify(value, (_key, v) => (v && typeof v === 'object' && !Array.isArray(v)
    ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, v[k]]))
    : v));
}

/** A short digest of a value: equal digests mean deep-equal values (key order aside). */
export function digest(value: unknown): string {
  return createHash('sha256').update(stableJson(value)).digest('hex').slice(0, 16);
}

/** A digest of the canonical charts: equal digests mean deep-equal manifests. */
export function manifestDigest(outputs: readonly ChartOutput[]): string {
  return digest(canonical(outputs));
}

/**
 * The first place where two values differ, as a path with both values, or undefined when
 * they are deep-equal. Object key order is ignored; array order is not.
 */
export function firstDifference(a: unknown, b: unknown, path = ''): string | undefined {
  if (Object.is(a, b)) return undefined;
  const describe = () => `${path || '<root>'}: ${JSON.stringify(a)?.slice(0, 200)} != ${JSON.stringify(b)?.slice(0, 200)}`;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null || Array.isArray(a) !== Array.isArray(b)) {
    return describe();
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    for (let i = 0; i < Math.max(a.length, b.length); i++) {
      const difference = firstDifference(a[i], b[i], `${path}[${i}]`);
      if (difference) return difference;
    }
    return undefined;
  }
  const record = (v: object) => v as Record<string, unknown>;
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
  for (const key of keys) {
    const difference = firstDifference(record(a)[key], record(b)[key], `${path}.${key}`);
    if (difference) return difference;
  }
  return undefined;
}

/** The first difference between two implementations' charts, with the object it lies in. */
export function firstManifestDifference(a: readonly ChartOutput[], b: readonly ChartOutput[]): string | undefined {
  const [left, right] = [canonical(a), canonical(b)];
  const charts = (o: ChartOutput[]) => o.map((c) => `${c.chart}: ${c.objects.map(identity).join(', ')}`);
  const layout = firstDifference(charts(left), charts(right), 'objects');
  if (layout) return layout;
  for (let c = 0; c < left.length; c++) {
    for (let i = 0; i < left[c].objects.length; i++) {
      const difference = firstDifference(left[c].objects[i], right[c].objects[i], `${left[c].chart} ${identity(left[c].objects[i])}`);
      if (difference) return difference;
    }
  }
  return undefined;
}
