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

/**
 * POSIX sh lines that check `POD_NAME` and `POD_IP` (set from the downward API) before a
 * script splices them into keys, JSON or URLs: only their plain forms pass. A bad value
 * calls `die`, which the script must define.
 */
export function podIdentityChecks(): string {
  return `case \${POD_NAME:-} in
  '' | *[!a-z0-9.-]* | [!a-z0-9]* | *[!a-z0-9]) die "POD_NAME='\${POD_NAME:-}' is not a pod name (DNS-1123 subdomain); set it from the downward API field metadata.name" ;;
esac
[ \${#POD_NAME} -le 253 ] || die "POD_NAME is longer than 253 characters"
case \${POD_IP:-} in
  '' | *[!0-9A-Fa-f:.]*) die "POD_IP='\${POD_IP:-}' is not an IP address; set it from the downward API field status.podIP" ;;
  *:*:*) ;;
  *[!0-9.]* | *.*.*.*.* | *..* | .* | *.) die "POD_IP='$POD_IP' is not an IPv4 address" ;;
  *.*.*.*) ;;
  *) die "POD_IP='$POD_IP' is not an IP address" ;;
esac
[ \${#POD_IP} -le 45 ] || die "POD_IP is longer than 45 characters"`;
}
