/**
 * Quotes `value` as one POSIX shell word: single quotes, with each embedded single quote
 * written as '\''. Nothing inside single quotes is special to sh, so no value can inject
 * commands, expansions or line breaks that end the word.
 */
export function shellQuote(value: string): string {
  return `'${String(value).replace(/'/g, `'\\''`)}'`;
}
