/**
 * Quotes a value as one POSIX shell word.
 *
 * The value is wrapped in single quotes, inside which no character is special, and each
 * embedded single quote becomes `'\''`. The result is inert in sh, dash, busybox ash and
 * bash whatever it contains: quotes, newlines, `$(...)`, backticks, globs, semicolons.
 *
 * @param value - any string without NUL bytes (a shell word cannot hold one)
 * @returns the quoted word, e.g. `it's` becomes `'it'\''s'` and the empty string `''`
 * @throws Error if `value` contains a NUL byte
 */
export function shellQuote(value: string): string {
  if (value.includes('\0')) {
    throw new Error(`shellQuote: ${JSON.stringify(value)} contains a NUL byte, which no shell word can hold`);
  }
  return `'${value.replace(/'/g, `'\\''`)}'`;
}
