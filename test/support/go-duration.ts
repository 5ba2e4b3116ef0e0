// Go's time.ParseDuration for the durations the package writes, so tests can read them back.
const GO_DURATION_UNITS: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, 'μs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * Parses a non-negative Go `time.ParseDuration` string (the syntax Consul takes) into
 * milliseconds, or returns undefined when Go would reject it.
 */
export function parseGoDuration(value: string): number | undefined {
  if (value === '0') return 0;
  if (typeof value !== 'string' || value === '') return undefined;
  const part = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/y;
  let total = 0;
  while (part.lastIndex < value.length) {
    const match = part.exec(value);
    if (!match) return undefined;
    total += Number(match[1]) * GO_DURATION_UNITS[match[2]];
  }
  return total;
}
